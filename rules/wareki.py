"""和暦 (Japanese era) dates as printed on notices: 令和7年12月1日, 令和元年5月1日.

Era starts (the first day of each era; the day before belongs to the previous era):

- 令和 2019-05-01: 元号を改める政令 (平成31年政令第143号).
- 平成 1989-01-08: 元号を改める政令 (昭和64年政令第1号), in force the day after promulgation.
  Both are made under 元号法 (昭和54年法律第43号), whose 附則2 carries 昭和 over.
- 昭和 1926-12-25 and 大正 1912-07-30: 改元 on the day of accession (旧皇室典範12条, 登極令).
- 明治: reckoned from 慶応4年1月1日 by the 改元の詔, but the lunisolar calendar stayed in use until
  明治5年12月2日; the next day became 明治6年1月1日 = 1873-01-01 (改暦ノ布告, 明治5年太政官布告第337号).
  A Gregorian date before that has no faithful 和暦 spelling here, so it is refused, not printed wrong.

The table is our own (five rows) rather than a library at runtime: it is the whole rule, and a test checks it
against japanera over every boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

SOLAR_CALENDAR_START = date(1873, 1, 1)


@dataclass(frozen=True)
class Era:
    name: str
    start: date  # first day of the era (Gregorian)


# Newest first. 明治's start is the Gregorian date of 慶応4年1月1日 (ICU uses the same year); only its year
# matters, because dates before SOLAR_CALENDAR_START are refused.
ERAS: tuple[Era, ...] = (
    Era("令和", date(2019, 5, 1)),
    Era("平成", date(1989, 1, 8)),
    Era("昭和", date(1926, 12, 25)),
    Era("大正", date(1912, 7, 30)),
    Era("明治", date(1868, 1, 25)),
)


def _check(d: date) -> None:
    # A datetime is usually a UTC timestamp that has not been turned into a Tokyo calendar date yet.
    if isinstance(d, datetime):
        raise TypeError("to_wareki takes a calendar date (datetime.date), not a datetime")
    if not isinstance(d, date):
        raise TypeError(f"expected a datetime.date, got {type(d).__name__}")
    if d < SOLAR_CALENDAR_START:
        raise ValueError(
            f"{d.isoformat()} is before 明治6年1月1日 (1873-01-01, the adoption of the solar calendar)"
        )


def era_of(d: date) -> tuple[Era, int]:
    """The era in force on `d` and the year within it (1 = 元年)."""
    _check(d)
    era = next(e for e in ERAS if d >= e.start)
    return era, d.year - era.start.year + 1


def _year_label(era: Era, year: int) -> str:
    return f"{era.name}{'元' if year == 1 else year}年"


def to_wareki(d: date) -> str:
    """令和7年12月1日; 令和元年5月1日; 平成31年4月30日."""
    era, year = era_of(d)
    return f"{_year_label(era, year)}{d.month}月{d.day}日"


def to_wareki_month(d: date) -> str:
    """令和7年12月 (for 年月 such as service months and periods that start on the 1st)."""
    era, year = era_of(d)
    return f"{_year_label(era, year)}{d.month}月"


def wareki_year(year: int) -> str:
    """A Gregorian year as 和暦: 2025 → 令和7年, 2019 → 令和元年, 1989 → 平成元年.

    A year that holds an era change takes the era in force on 31 December, which is how 年度 and 調定年度 are
    labelled (2019年度 = 令和元年度, 1988年度 = 昭和63年度).
    """
    if isinstance(year, bool) or not isinstance(year, int):
        raise TypeError(f"expected an int year, got {type(year).__name__}")
    if year < SOLAR_CALENDAR_START.year:
        raise ValueError(f"{year} is before 明治6年 (1873, the adoption of the solar calendar)")
    return _year_label(*era_of(date(year, 12, 31)))


def wareki_fiscal_year(fiscal_year: int) -> str:
    """A fiscal year (April to March, named by the year it starts in) as 令和7年度."""
    return f"{wareki_year(fiscal_year)}度"
