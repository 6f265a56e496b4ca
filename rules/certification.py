"""要介護認定の手続 (介護保険法27–29条; 施行規則): kinds, the 30-day clock, validity and the renewal window.

Day counting follows 民法140条 via 法201条 (`rules.calendar`). The 30-day decision duty is the city's own,
so it never moves for holidays; deadlines of the resident's acts (28条3項) do (地方自治法4条の2第4項).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from rules.calendar import add_months, deadline_after, month_end, resident_deadline_after_months

DECISION_PERIOD_DAYS = 30  # 27条11項


class ApplicationKind(StrEnum):
    NEW = "new"  # 新規 (27条)
    RENEWAL = "renewal"  # 更新 (28条2項; やむを得ない理由による遅れは28条3項)
    CHANGE = "change"  # 区分変更 (29条)

    @property
    def label(self) -> str:
        return _APPLICATION_KIND_LABELS[self]


_APPLICATION_KIND_LABELS = {
    ApplicationKind.NEW: "新規申請",
    ApplicationKind.RENEWAL: "更新申請",
    ApplicationKind.CHANGE: "区分変更申請",
}


class ApplicantKind(StrEnum):
    """Who filed: the insured person, someone for them, or a 27条1項 代行 body."""

    SELF = "self"  # 本人
    FAMILY = "family"  # 家族
    GUARDIAN = "guardian"  # 成年後見人等の法定代理人
    CARE_MANAGER_OFFICE = "care_manager_office"  # 指定居宅介護支援事業者 (27条1項)
    COMMUNITY_NURSING_HOME = "community_nursing_home"  # 地域密着型介護老人福祉施設 (27条1項)
    CARE_FACILITY = "care_facility"  # 介護保険施設 (27条1項)
    COMMUNITY_SUPPORT_CENTER = "community_support_center"  # 地域包括支援センター (27条1項)
    OTHER = "other"  # その他の代理人 (民生委員など)

    @property
    def label(self) -> str:
        return _APPLICANT_KIND_LABELS[self]

    @property
    def is_statutory_agent(self) -> bool:
        """A body 27条1項後段 lets file on the person's behalf (申請代行)."""
        return self in _STATUTORY_AGENTS


_APPLICANT_KIND_LABELS = {
    ApplicantKind.SELF: "本人",
    ApplicantKind.FAMILY: "家族",
    ApplicantKind.GUARDIAN: "法定代理人",
    ApplicantKind.CARE_MANAGER_OFFICE: "指定居宅介護支援事業者",
    ApplicantKind.COMMUNITY_NURSING_HOME: "地域密着型介護老人福祉施設",
    ApplicantKind.CARE_FACILITY: "介護保険施設",
    ApplicantKind.COMMUNITY_SUPPORT_CENTER: "地域包括支援センター",
    ApplicantKind.OTHER: "その他",
}
_STATUTORY_AGENTS = frozenset(
    {
        ApplicantKind.CARE_MANAGER_OFFICE,
        ApplicantKind.COMMUNITY_NURSING_HOME,
        ApplicantKind.CARE_FACILITY,
        ApplicantKind.COMMUNITY_SUPPORT_CENTER,
    }
)


# ---------------------------------------------------------------------------- 30-day rule (27条11・12項)


def decision_deadline(application_date: date) -> date:
    """Last day for the decision: 30 days after the application, 初日不算入 (27条11項本文).

    The city's own duty: it does not move when it falls on a holiday.
    """
    return deadline_after(application_date, DECISION_PERIOD_DAYS)


def delay_notice_latest(application_date: date) -> date:
    """Last day a 延期通知 may be sent: "当該申請のあった日から三十日以内に" = the deadline day itself."""
    return decision_deadline(application_date)


def delay_notice_may_be_omitted(
    kind: ApplicationKind, *, consented: bool, expected_decision: date, current_expiry: date | None
) -> bool:
    """Whether a 延期通知 may be skipped (更新, the applicant consented in advance, and the decision is
    expected within the current validity, so benefits never lapse).

    National guidance as municipalities apply it; a decision on the expiry day itself still counts.
    """
    return (
        kind is ApplicationKind.RENEWAL
        and consented
        and current_expiry is not None
        and expected_decision <= current_expiry
    )


@dataclass(frozen=True)
class DelayNotice:
    """A 延期通知 (27条11項ただし書): the day it was sent and the last day of the 処理見込期間."""

    sent_on: date
    expected_by: date


def processing_period_end(application_date: date, delay_notices: Sequence[DelayNotice] = ()) -> date:
    """The last day the city may decide before the applicant may deem the application rejected.

    Only a notice sent within the 30 days is a 27条11項 notice; the last such notice fixes the
    処理見込期間. A notice re-sent after day 30 informs the applicant but cannot take back a right
    12項 has already given, so it does not move this date. A 処理見込期間 ending inside the 30 days
    cannot shorten them (the notice only 延期する).
    """
    deadline = decision_deadline(application_date)
    for notice in delay_notices:
        if notice.sent_on < application_date or notice.expected_by < notice.sent_on:
            raise ValueError("延期通知の送付日または処理見込期間が申請日と矛盾しています")
    in_time = [n for n in delay_notices if n.sent_on <= deadline]
    if not in_time:
        return deadline
    latest = sorted(in_time, key=lambda n: n.sent_on)[-1]  # stable: same day → the later in the list
    return max(deadline, latest.expected_by)


def deemed_rejection_date(application_date: date, delay_notices: Sequence[DelayNotice] = ()) -> date:
    """First day the applicant may deem the application rejected if still undecided (27条12項).

    Without a timely 延期通知: the day after the 30-day deadline. With one: the day after the
    処理見込期間 ends ("処理見込期間が経過した日までに処分がされないとき" read as: not decided by the
    period's last day).
    """
    return processing_period_end(application_date, delay_notices) + timedelta(days=1)


def may_deem_rejected(
    application_date: date,
    today: date,
    *,
    decided_on: date | None = None,
    delay_notices: Sequence[DelayNotice] = (),
) -> bool:
    """Whether, on `today`, the applicant may treat the application as rejected (27条12項).

    `decided_on` is the date of the 処分 (the decision), if any; once decided there is no deemed rejection.
    """
    if decided_on is not None and decided_on <= today:
        return False
    return today >= deemed_rejection_date(application_date, delay_notices)


# ------------------------------------------------------------------ validity (28条1項 and its 施行規則)


@dataclass(frozen=True)
class ValidityRule:
    minimum: int
    standard: int
    maximum: int
    maximum_if_level_unchanged: int


VALIDITY_RULES: dict[ApplicationKind, ValidityRule] = {
    ApplicationKind.NEW: ValidityRule(3, 6, 12, 12),
    ApplicationKind.CHANGE: ValidityRule(3, 6, 12, 12),
    # 前回と同じ区分なら48か月まで (令和3年4月1日以降の申請)
    ApplicationKind.RENEWAL: ValidityRule(3, 12, 36, 48),
}


def validity_range(kind: ApplicationKind, level_unchanged: bool = False) -> tuple[int, int]:
    """(minimum, maximum) months the board may set."""
    rule = VALIDITY_RULES[kind]
    maximum = rule.maximum_if_level_unchanged if level_unchanged else rule.maximum
    return rule.minimum, maximum


def standard_validity_months(kind: ApplicationKind) -> int:
    """原則の有効期間 (新規・区分変更 6か月, 更新 12か月)."""
    return VALIDITY_RULES[kind].standard


def validate_validity_months(kind: ApplicationKind, months: int, level_unchanged: bool = False) -> None:
    """Raise ValueError (Japanese message) if `months` is outside the range for `kind`."""
    minimum, maximum = validity_range(kind, level_unchanged)
    if minimum <= months <= maximum:
        return
    rule = VALIDITY_RULES[kind]
    if kind is ApplicationKind.RENEWAL and not level_unchanged and months <= rule.maximum_if_level_unchanged:
        raise ValueError(
            f"{kind.label}の有効期間を{rule.maximum}か月を超えて設定できるのは、"
            f"前回と同じ要介護状態区分の場合（{rule.maximum_if_level_unchanged}か月まで）に限られます"
        )
    raise ValueError(
        f"{kind.label}の有効期間は{minimum}〜{maximum}か月の範囲で設定してください（{months}か月）"
    )


def effective_date(
    kind: ApplicationKind, application_date: date, previous_expiry: date | None = None
) -> date:
    """When the certification takes effect.

    新規・区分変更: the application date (27条8項, and 29条2項 applying it). 更新: the day after the
    previous expiry (28条10項; 28条4項 excludes 27条8項), also for a late renewal (28条9項).
    """
    if kind is not ApplicationKind.RENEWAL:
        return application_date
    if previous_expiry is None:
        raise ValueError("更新申請には前回の有効期間の満了日が必要です")
    return previous_expiry + timedelta(days=1)


def validity_period(
    kind: ApplicationKind, effective_from: date, months: int, *, level_unchanged: bool = False
) -> tuple[date, date]:
    """(start, end) of the validity. It always ends on a month end.

    Starting on a 1st, that month is the first of `months`; starting later, the rest of that month is
    added and the months count from the 1st of the following month (施行規則).
    """
    validate_validity_months(kind, months, level_unchanged)
    year, month = effective_from.year, effective_from.month
    if effective_from.day != 1:
        year, month = add_months(year, month, 1)
    year, month = add_months(year, month, months - 1)
    return effective_from, month_end(date(year, month, 1))


def validity_months_between(valid_from: date, valid_to: date) -> int:
    """The months a validity period was set for: the inverse of `validity_period` (a start after the 1st
    adds the rest of that month, which is not counted)."""
    if valid_to < valid_from:
        raise ValueError("有効期間の終了日が開始日より前です")
    months = (valid_to.year - valid_from.year) * 12 + valid_to.month - valid_from.month
    return months + 1 if valid_from.day == 1 else months


def longest_validity_months() -> int:
    """The longest validity the law allows any certification: 更新 with the same 区分 (48か月)."""
    return max(rule.maximum_if_level_unchanged for rule in VALIDITY_RULES.values())


def recorded_validity_problem(valid_from: date, valid_to: date) -> str | None:
    """Why a validity recorded elsewhere (a previous system's certification) cannot be lawful, or None.

    Only the outer bound is checked: a period cut short by a later 区分変更 or by death is lawful, and
    ends on any day, so neither the minimum nor the month end applies to recorded periods.
    """
    if valid_from > valid_to:
        return "有効期間の開始日が終了日より後です"
    months = validity_months_between(valid_from, valid_to)
    longest = longest_validity_months()
    if months > longest:
        return f"有効期間が{months}か月あります。法令上の上限は{longest}か月です (28条1項・施行規則)"
    return None


# ------------------------------------------------------------------------ late renewal (28条3項)
# The renewal window itself (28条2項, 地方自治法4条の2第4項) is in rules/renewal.py.


def late_renewal_deadline(reason_ended_on: date) -> date:
    """Last day for a 更新 after 災害その他やむを得ない理由: "その理由のやんだ日から一月以内" (28条3項).

    初日不算入, and a resident's act toward the city, so a holiday end moves to the next open day.
    """
    return resident_deadline_after_months(reason_ended_on, 1)
