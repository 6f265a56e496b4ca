"""Periods and the city's holiday calendar (民法138–143条 via 介護保険法201条; 地方自治法4条の2).

Business dates are plain calendar dates in Asia/Tokyo; the caller passes them in. Two distinct kinds of
deadline exist:

- a deadline for the **city's** own act (e.g. the 30-day decision duty, 介護保険法27条11項) is a plain
  period end and does not move for holidays;
- a deadline for a **resident's** act toward the city (申請, 届出, …) that falls on a city holiday moves to
  the next open day (地方自治法4条の2第4項): use `resident_deadline_after` / `roll_forward_to_open_day`.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta

import jpholiday

# 地方自治法4条の2第2項3号: 年末年始 as the city's 休日条例 defines it (the usual 12月29日–1月3日).
YEAR_END_FIRST_DAY = (12, 29)
NEW_YEAR_LAST_DAY = (1, 3)


def deadline_after(start: date, days: int) -> date:
    """Last day of a period of `days` days from `start` (民法140条 初日不算入, 141条).

    The first day is not counted, so day 1 is the day after `start` and the period ends on start + days.
    """
    if days < 1:
        raise ValueError("期間の日数は1以上で指定してください")
    return start + timedelta(days=days)


def month_end(d: date) -> date:
    """The last day of the month containing `d`."""
    return d.replace(day=monthrange(d.year, d.month)[1])


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    """(year, month) shifted by `months` (may be negative)."""
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def deadline_after_months(start: date, months: int) -> date:
    """Last day of a period of `months` months from `start` (民法140条, 143条).

    Counting starts the day after `start`. Started on a 1st, the period ends on the last day of its last
    month (143条1項); otherwise on the day before the corresponding day of the last month, or at that
    month's end when it has no corresponding day (143条2項).
    """
    if months < 1:
        raise ValueError("期間の月数は1以上で指定してください")
    first = start + timedelta(days=1)
    if first.day == 1:
        year, month = add_months(first.year, first.month, months - 1)
        return date(year, month, monthrange(year, month)[1])
    year, month = add_months(first.year, first.month, months)
    if first.day > monthrange(year, month)[1]:
        return date(year, month, monthrange(year, month)[1])
    return date(year, month, first.day) - timedelta(days=1)


def is_year_end_holiday(d: date) -> bool:
    """12月29日–1月3日 (地方自治法4条の2第2項3号, the city's 休日条例)."""
    return (d.month, d.day) >= YEAR_END_FIRST_DAY or (d.month, d.day) <= NEW_YEAR_LAST_DAY


def is_city_holiday(d: date) -> bool:
    """A day the city office is closed (地方自治法4条の2第2項): 土日, 祝日・振替休日・国民の休日, 年末年始."""
    return d.weekday() >= 5 or jpholiday.is_holiday(d) or is_year_end_holiday(d)


def is_open_day(d: date) -> bool:
    return not is_city_holiday(d)


def roll_forward_to_open_day(d: date) -> date:
    """`d` itself if the office is open, else the next open day (地方自治法4条の2第4項).

    Only for deadlines of a resident's act toward the city; the city's own deadlines never move.
    """
    while is_city_holiday(d):
        d += timedelta(days=1)
    return d


def resident_deadline_after(start: date, days: int) -> date:
    """A resident's `days`-day deadline from `start`, moved past city holidays (民法140条 + 自治法4条の2④)."""
    return roll_forward_to_open_day(deadline_after(start, days))


def resident_deadline_after_months(start: date, months: int) -> date:
    """A resident's `months`-month deadline from `start`, moved past city holidays."""
    return roll_forward_to_open_day(deadline_after_months(start, months))
