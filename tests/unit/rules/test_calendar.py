"""民法140–143条 (periods, via 介護保険法201条) and 地方自治法4条の2 (the city's holidays)."""

from __future__ import annotations

from datetime import date

import pytest

from rules.calendar import (
    deadline_after,
    deadline_after_months,
    is_city_holiday,
    is_open_day,
    month_end,
    resident_deadline_after,
    resident_deadline_after_months,
    roll_forward_to_open_day,
)


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        (date(2025, 4, 1), 30, date(2025, 5, 1)),  # day 1 is 4月2日
        (date(2025, 1, 31), 30, date(2025, 3, 2)),  # across a 28-day February
        (date(2024, 1, 31), 30, date(2024, 3, 1)),  # leap year: 2月29日 counts
        (date(2025, 12, 15), 30, date(2026, 1, 14)),  # across the year end
        (date(2025, 4, 1), 1, date(2025, 4, 2)),
    ],
)
def test_minpo_140_first_day_not_counted(start: date, days: int, end: date) -> None:
    assert deadline_after(start, days) == end


def test_minpo_140_rejects_empty_period() -> None:
    with pytest.raises(ValueError, match="1以上"):
        deadline_after(date(2025, 4, 1), 0)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2025, 4, 15), 1, date(2025, 5, 15)),  # 応当日 5月16日 の前日
        (date(2025, 12, 10), 1, date(2026, 1, 10)),  # across the year end
        (date(2025, 3, 31), 1, date(2025, 4, 30)),  # counting starts on 4月1日: whole April
        (date(2025, 6, 30), 3, date(2025, 9, 30)),  # starts on a 1st: ends at a month end
        (date(2025, 2, 28), 1, date(2025, 3, 31)),  # 3月1日 start, not 3月28日
    ],
)
def test_minpo_143_month_period_ends_before_corresponding_day(start: date, months: int, end: date) -> None:
    assert deadline_after_months(start, months) == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2025, 1, 30), date(2025, 2, 28)),  # 応当日 2月31日 does not exist → 月末
        (date(2023, 1, 29), date(2023, 2, 28)),  # 応当日 2月30日 does not exist → 月末
        (date(2024, 1, 30), date(2024, 2, 29)),  # leap year
        (date(2024, 1, 28), date(2024, 2, 28)),  # 応当日 2月29日 exists in a leap year
    ],
)
def test_minpo_143_2_no_corresponding_day_ends_at_month_end(start: date, end: date) -> None:
    assert deadline_after_months(start, 1) == end


def test_minpo_143_rejects_empty_period() -> None:
    with pytest.raises(ValueError, match="1以上"):
        deadline_after_months(date(2025, 4, 1), 0)


def test_minpo_143_month_end_handles_leap_february() -> None:
    assert month_end(date(2024, 2, 10)) == date(2024, 2, 29)
    assert month_end(date(2025, 2, 10)) == date(2025, 2, 28)
    assert month_end(date(2025, 12, 1)) == date(2025, 12, 31)


@pytest.mark.parametrize(
    ("day", "closed"),
    [
        (date(2025, 12, 26), False),  # 金曜日: 仕事納め前
        (date(2025, 12, 29), True),  # 年末年始 (月曜日)
        (date(2025, 12, 31), True),
        (date(2026, 1, 1), True),  # 元日
        (date(2026, 1, 2), True),  # 年末年始 (金曜日)
        (date(2026, 1, 3), True),
        (date(2026, 1, 5), False),  # 仕事始め
        (date(2026, 1, 12), True),  # 成人の日
        (date(2025, 5, 6), True),  # 振替休日
        (date(2026, 9, 22), True),  # 国民の休日 (敬老の日と秋分の日に挟まれた日)
        (date(2025, 4, 5), True),  # 土曜日
        (date(2025, 4, 6), True),  # 日曜日
        (date(2025, 4, 7), False),  # 平日
    ],
)
def test_jichiho_4_2_2_city_holidays(day: date, closed: bool) -> None:
    assert is_city_holiday(day) is closed
    assert is_open_day(day) is not closed


@pytest.mark.parametrize(
    ("deadline", "moved_to"),
    [
        (date(2025, 12, 29), date(2026, 1, 5)),  # 年末年始 then 土日 → 仕事始め
        (date(2026, 12, 29), date(2027, 1, 4)),  # 1月3日 is a Sunday
        (date(2024, 1, 3), date(2024, 1, 4)),
        (date(2024, 1, 6), date(2024, 1, 9)),  # 土日 + 成人の日
        (date(2025, 5, 3), date(2025, 5, 7)),  # Golden Week with 振替休日 5月6日
        (date(2026, 5, 2), date(2026, 5, 7)),  # Golden Week 2026: 土曜日から5連休
        (date(2026, 4, 29), date(2026, 4, 30)),  # 昭和の日 only
        (date(2026, 9, 19), date(2026, 9, 24)),  # 土日・敬老の日・国民の休日・秋分の日
        (date(2025, 4, 4), date(2025, 4, 4)),  # open day: unchanged
    ],
)
def test_jichiho_4_2_4_resident_deadline_moves_to_next_open_day(deadline: date, moved_to: date) -> None:
    assert roll_forward_to_open_day(deadline) == moved_to


def test_jichiho_4_2_4_resident_day_period_rolls_over_golden_week() -> None:
    # 4月3日 + 30日 = 5月3日 (憲法記念日) → 5月7日 (水)
    assert resident_deadline_after(date(2025, 4, 3), 30) == date(2025, 5, 7)
    # the same period for the city's own act does not move
    assert deadline_after(date(2025, 4, 3), 30) == date(2025, 5, 3)


def test_jichiho_4_2_4_resident_month_period_rolls_over_year_end() -> None:
    # 28条3項-style 一月以内: from 11月29日 → 12月29日 (年末年始) → 1月5日
    assert resident_deadline_after_months(date(2025, 11, 29), 1) == date(2026, 1, 5)
