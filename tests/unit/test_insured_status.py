"""介護保険法9条 (被保険者) with 年齢計算ニ関スル法律: who is 第1号 / 第2号 on a given day."""

from datetime import date

import pytest

from rules.insured_status import InsuredCategory, age_attained_on, category_on


def test_age_law_attains_age_on_the_day_before_the_birthday() -> None:
    assert age_attained_on(date(1960, 4, 1), 65) == date(2025, 3, 31)


def test_age_law_leap_day_birthday_attains_on_february_28() -> None:
    # Born 2月29日: the anniversary in a common year is 3月1日, so the age is attained on 2月28日.
    assert age_attained_on(date(1960, 2, 29), 65) == date(2025, 2, 28)
    assert age_attained_on(date(1960, 2, 29), 64) == date(2024, 2, 28)


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(1999, 12, 31), None),  # 39歳
        (date(2000, 1, 9), InsuredCategory.SECOND),  # 40歳到達日 (誕生日の前日)
        (date(2025, 1, 8), InsuredCategory.SECOND),  # 65歳到達日の前日
        (date(2025, 1, 9), InsuredCategory.FIRST),  # 65歳到達日
    ],
)
def test_9_category_by_age(on: date, expected: InsuredCategory | None) -> None:
    assert category_on(date(1960, 1, 10), on) == expected
