"""Business time inside workflows: dates are calendar dates in Asia/Tokyo, timers wake at office hours.

Deterministic: time comes from workflow.now(). Japan has no daylight saving time, so a fixed offset is exact
(and safe inside the workflow sandbox, which has no tz database).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from temporalio import workflow

JST = timezone(timedelta(hours=9), "JST")


def business_today() -> date:
    return workflow.now().astimezone(JST).date()


def at_business_hour(day: date, hour: int = 9) -> datetime:
    """Timers wake at office hours (JST), not at midnight."""
    return datetime.combine(day, time(hour), JST)


def end_of_business_day(day: date) -> datetime:
    """Deadlines shown in the Temporal UI and on tasks: 17:00 JST of the due day."""
    return at_business_hour(day, 17)
