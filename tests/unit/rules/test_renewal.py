"""更新申請の案内: the renewal window (28条2項, 施行規則), the last day to file (地方自治法4条の2第4項)
and the policy's reminder days."""

from __future__ import annotations

from datetime import date

import pytest

from rules.calendar import is_city_holiday
from rules.renewal import (
    first_notice_day,
    in_renewal_window,
    last_filing_day,
    renewal_window,
    renewal_window_opens,
    second_notice_day,
)


@pytest.mark.parametrize(
    ("expiry", "opens"),
    [
        (date(2025, 9, 30), date(2025, 8, 1)),
        (date(2025, 3, 31), date(2025, 1, 30)),
        (date(2024, 3, 31), date(2024, 1, 31)),  # leap year
        (date(2026, 2, 28), date(2025, 12, 30)),  # opens in the previous year
    ],
)
def test_28_2_renewal_window_opens_60_days_before_expiry(expiry: date, opens: date) -> None:
    assert renewal_window_opens(expiry) == opens
    assert renewal_window(expiry)[0] == opens


def test_28_2_renewal_window_boundaries() -> None:
    expiry = date(2025, 9, 30)  # a Tuesday: the window closes on the expiry itself
    assert not in_renewal_window(expiry, date(2025, 7, 31))
    assert in_renewal_window(expiry, date(2025, 8, 1))
    assert in_renewal_window(expiry, expiry)
    assert not in_renewal_window(expiry, date(2025, 10, 1))


def test_4_2_4_last_filing_day_moves_past_a_weekend() -> None:
    # 2025年5月31日 is a Saturday: the certification ends that day, but a 更新 may be filed on Monday 6/2.
    assert last_filing_day(date(2025, 5, 31)) == date(2025, 6, 2)
    assert renewal_window(date(2025, 5, 31)) == (date(2025, 4, 1), date(2025, 6, 2))
    assert in_renewal_window(date(2025, 5, 31), date(2025, 6, 2))
    assert not in_renewal_window(date(2025, 5, 31), date(2025, 6, 3))


def test_4_2_4_last_filing_day_moves_past_the_year_end_holidays() -> None:
    # 12月31日 expiry: 12/29–1/3 are closed (4条の2第2項3号), 2027-01-04 is a Monday.
    assert last_filing_day(date(2026, 12, 31)) == date(2027, 1, 4)


def test_4_2_4_last_filing_day_moves_past_a_national_holiday() -> None:
    # 2026-05-03〜06 (憲法記念日・みどりの日・こどもの日・振替休日).
    assert last_filing_day(date(2026, 5, 3)) == date(2026, 5, 7)


def test_4_2_4_last_filing_day_is_the_expiry_on_an_open_day() -> None:
    expiry = date(2026, 3, 31)  # a Tuesday
    assert not is_city_holiday(expiry)
    assert last_filing_day(expiry) == expiry


def test_first_notice_is_the_window_opening_by_default() -> None:
    assert first_notice_day(date(2026, 3, 31)) == date(2026, 1, 30)
    assert first_notice_day(date(2026, 3, 31), -7) == date(2026, 1, 23)


def test_second_notice_is_30_days_before_expiry_by_default() -> None:
    assert second_notice_day(date(2026, 3, 31)) == date(2026, 3, 1)
    assert second_notice_day(date(2026, 3, 31), 14) == date(2026, 3, 17)
