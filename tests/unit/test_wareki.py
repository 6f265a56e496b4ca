"""和暦 dates: 元号法 (昭和54年法律第43号), 元号を改める政令 (昭和64年政令第1号, 平成31年政令第143号),
改暦ノ布告 (明治5年太政官布告第337号)."""

import random
from datetime import date, datetime, timedelta

import pytest
from japanera import EraDate

from rules.wareki import (
    ERAS,
    SOLAR_CALENDAR_START,
    era_of,
    to_wareki,
    to_wareki_month,
    wareki_fiscal_year,
    wareki_year,
)


def _japanera(d: date) -> str:
    """The same spelling built from japanera (its %-Y prints 令和1年, so build 元年 from its era and year)."""
    era_date = EraDate.from_date(d)
    year = era_date.era.calc_relative_year(d)
    return f"{era_date.era.kanji}{'元' if year == 1 else year}年{d.month}月{d.day}日"


def _around_boundaries() -> list[date]:
    days = [e.start + timedelta(days=k) for e in ERAS if e.start > SOLAR_CALENDAR_START for k in range(-2, 3)]
    return days + [SOLAR_CALENDAR_START + timedelta(days=k) for k in range(3)]


def _random_dates(n: int = 3000) -> list[date]:
    rng = random.Random(20251201)
    first, last = SOLAR_CALENDAR_START.toordinal(), date(2100, 12, 31).toordinal()
    return [date.fromordinal(rng.randint(first, last)) for _ in range(n)]


def test_gengo_law_matches_japanera_around_every_era_boundary() -> None:
    for d in _around_boundaries():
        assert to_wareki(d) == _japanera(d), d


def test_gengo_law_matches_japanera_on_random_dates_1873_to_2100() -> None:
    for d in _random_dates():
        assert to_wareki(d) == _japanera(d), d


def test_gengo_law_year_labels_match_japanera_on_31_december_every_year() -> None:
    for year in range(SOLAR_CALENDAR_START.year, 2101):
        assert wareki_year(year) + "12月31日" == _japanera(date(year, 12, 31)), year


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 12, 1), "令和7年12月1日"),
        # 元号を改める政令 (平成31年政令第143号): 令和 from 2019-05-01; the first year is 元年.
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 12, 31), "令和元年12月31日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        # 元号を改める政令 (昭和64年政令第1号), in force the day after promulgation: 平成 from 1989-01-08.
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        # 改元 on the day of accession.
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        # 改暦ノ布告 (明治5年太政官布告第337号): the solar calendar starts on 明治6年1月1日.
        (date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_gengo_law_explicit_dates(day: date, expected: str) -> None:
    assert to_wareki(day) == expected


def test_kaireki_dates_before_the_solar_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="1873-01-01"):
        to_wareki(date(1872, 12, 31))
    with pytest.raises(ValueError, match="1873"):
        wareki_year(1872)


def test_a_datetime_is_refused_because_it_is_not_yet_a_tokyo_calendar_date() -> None:
    with pytest.raises(TypeError):
        to_wareki(datetime(2025, 12, 1, 15, 0))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        wareki_year("2025")  # type: ignore[arg-type]


def test_year_month_and_fiscal_year_labels() -> None:
    assert to_wareki_month(date(2025, 12, 1)) == "令和7年12月"
    assert to_wareki_month(date(2019, 5, 31)) == "令和元年5月"
    assert wareki_year(2025) == "令和7年"
    # A year holding an era change is labelled by the era in force on 31 December.
    assert wareki_year(2019) == "令和元年"
    assert wareki_year(1989) == "平成元年"
    assert wareki_fiscal_year(2019) == "令和元年度"
    assert wareki_fiscal_year(1988) == "昭和63年度"
    assert wareki_fiscal_year(2025) == "令和7年度"


def test_era_of_gives_the_era_and_its_year() -> None:
    era, year = era_of(date(2025, 4, 1))
    assert (era.name, year) == ("令和", 7)
