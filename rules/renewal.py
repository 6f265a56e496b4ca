"""更新申請の案内 (seed 3(7)): the renewal window, the reminder days and the last day to file (DOMAIN.md §4).

- 介護保険法28条2項 and 施行規則: a 更新 may be filed from 60 days before the expiry (有効期間満了の日);
- the last day to file is the expiry date, moved to the next open day when it falls on a city holiday
  (地方自治法4条の2第4項: a resident's act toward the city) — the certification itself still ends on its
  own date, and an application filed in that gap is a 更新 whose period starts the day after the expiry;
- the reminder days are the city's policy (offsets from the window opening and from the expiry).
"""

from __future__ import annotations

from datetime import date, timedelta

from rules.calendar import roll_forward_to_open_day

RENEWAL_WINDOW_DAYS = 60  # 施行規則: 有効期間満了の日の60日前から申請できる


def renewal_window_opens(expiry: date) -> date:
    """First day a 更新 may be filed: 60 days before the expiry (28条2項, 施行規則)."""
    return expiry - timedelta(days=RENEWAL_WINDOW_DAYS)


def last_filing_day(expiry: date) -> date:
    """Last day to file a 更新: the expiry, or the next open day after it (地方自治法4条の2第4項)."""
    return roll_forward_to_open_day(expiry)


def renewal_window(expiry: date) -> tuple[date, date]:
    """(opens, last filing day) of the 更新 window."""
    return renewal_window_opens(expiry), last_filing_day(expiry)


def in_renewal_window(expiry: date, on: date) -> bool:
    opens, closes = renewal_window(expiry)
    return opens <= on <= closes


def first_notice_day(expiry: date, days_after_opening: int = 0) -> date:
    """The first reminder: when the window opens, or `days_after_opening` later (policy, may be negative
    to remind before it opens)."""
    return renewal_window_opens(expiry) + timedelta(days=days_after_opening)


def second_notice_day(expiry: date, days_before_expiry: int = 30) -> date:
    """The second reminder when nothing has been filed: by default 30 days before the expiry (policy)."""
    return expiry - timedelta(days=days_before_expiry)
