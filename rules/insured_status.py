"""Who is insured, and as which category (介護保険法9条; 年齢計算ニ関スル法律).

A person attains an age at the start of the day before the birthday, so the 65th "birthday" for
insurance purposes is the day before it (介護保険法施行法 practice; 資格取得日 = 65歳到達日).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum


class InsuredCategory(StrEnum):
    FIRST = "1"  # 第1号被保険者: 65歳以上
    SECOND = "2"  # 第2号被保険者: 40歳以上65歳未満の医療保険加入者


def _anniversary(birth_date: date, years: int) -> date:
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:  # 2月29日生まれ: the anniversary in a common year is 3月1日
        return date(birth_date.year + years, 3, 1)


def age_attained_on(birth_date: date, years: int) -> date:
    """The day on which a person born on `birth_date` attains `years` (the day before the birthday)."""
    return _anniversary(birth_date, years) - timedelta(days=1)


def category_on(birth_date: date, on: date) -> InsuredCategory | None:
    """The insured category by age on `on`; None below 40.

    第2号 also needs medical insurance; that is checked where the insurance data lives.
    """
    if on >= age_attained_on(birth_date, 65):
        return InsuredCategory.FIRST
    if on >= age_attained_on(birth_date, 40):
        return InsuredCategory.SECOND
    return None
