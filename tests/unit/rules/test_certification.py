"""介護保険法27–29条: application kinds, the 30-day clock, validity periods and the renewal window."""

from __future__ import annotations

from datetime import date

import pytest

from rules.certification import (
    ApplicantKind,
    ApplicationKind,
    DelayNotice,
    decision_deadline,
    deemed_rejection_date,
    delay_notice_latest,
    delay_notice_may_be_omitted,
    effective_date,
    late_renewal_deadline,
    longest_validity_months,
    may_deem_rejected,
    processing_period_end,
    recorded_validity_problem,
    standard_validity_months,
    validate_validity_months,
    validity_months_between,
    validity_period,
    validity_range,
)

NEW, RENEWAL, CHANGE = ApplicationKind.NEW, ApplicationKind.RENEWAL, ApplicationKind.CHANGE


# ------------------------------------------------------------------------------------------ kinds


def test_27_1_statutory_agents_may_file_on_behalf() -> None:
    agents = {kind for kind in ApplicantKind if kind.is_statutory_agent}
    assert agents == {
        ApplicantKind.CARE_MANAGER_OFFICE,
        ApplicantKind.COMMUNITY_NURSING_HOME,
        ApplicantKind.CARE_FACILITY,
        ApplicantKind.COMMUNITY_SUPPORT_CENTER,
    }
    assert ApplicantKind.COMMUNITY_SUPPORT_CENTER.label == "地域包括支援センター"
    assert not ApplicantKind.FAMILY.is_statutory_agent


def test_27_28_29_application_kind_labels() -> None:
    assert [kind.label for kind in ApplicationKind] == ["新規申請", "更新申請", "区分変更申請"]


# --------------------------------------------------------------------------------- 30-day rule


@pytest.mark.parametrize(
    ("applied", "due"),
    [
        (date(2025, 4, 1), date(2025, 5, 1)),
        (date(2025, 1, 31), date(2025, 3, 2)),  # across a 28-day February
        (date(2024, 1, 31), date(2024, 3, 1)),  # leap year
        (date(2024, 2, 29), date(2024, 3, 30)),  # filed on the leap day
        (date(2025, 12, 10), date(2026, 1, 9)),  # across the year end
    ],
)
def test_27_11_decision_due_30_days_after_application(applied: date, due: date) -> None:
    assert decision_deadline(applied) == due


@pytest.mark.parametrize(
    ("applied", "due"),
    [
        (date(2025, 12, 2), date(2026, 1, 1)),  # 元日
        (date(2025, 4, 3), date(2025, 5, 3)),  # 憲法記念日 (Golden Week)
        (date(2025, 4, 5), date(2025, 5, 5)),  # こどもの日
        (date(2025, 3, 30), date(2025, 4, 29)),  # 昭和の日
    ],
)
def test_27_11_city_duty_does_not_move_for_holidays(applied: date, due: date) -> None:
    assert decision_deadline(applied) == due


def test_27_11_delay_notice_latest_on_the_deadline_day() -> None:
    assert delay_notice_latest(date(2025, 4, 1)) == date(2025, 5, 1)
    assert delay_notice_latest(date(2025, 12, 2)) == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("kind", "consented", "expected_decision", "expiry", "omit"),
    [
        (RENEWAL, True, date(2025, 9, 20), date(2025, 9, 30), True),
        (RENEWAL, True, date(2025, 9, 30), date(2025, 9, 30), True),  # decided on the expiry day
        (RENEWAL, True, date(2025, 10, 1), date(2025, 9, 30), False),  # benefits would lapse
        (RENEWAL, False, date(2025, 9, 20), date(2025, 9, 30), False),  # no prior consent
        (RENEWAL, True, date(2025, 9, 20), None, False),  # expiry unknown
        (NEW, True, date(2025, 9, 20), date(2025, 9, 30), False),
        (CHANGE, True, date(2025, 9, 20), date(2025, 9, 30), False),
    ],
)
def test_27_11_delay_notice_omission_for_renewal_with_consent(
    kind: ApplicationKind, consented: bool, expected_decision: date, expiry: date | None, omit: bool
) -> None:
    result = delay_notice_may_be_omitted(
        kind, consented=consented, expected_decision=expected_decision, current_expiry=expiry
    )
    assert result is omit


def test_27_12_deemed_rejection_day_after_deadline_without_notice() -> None:
    assert deemed_rejection_date(date(2025, 4, 1)) == date(2025, 5, 2)
    assert deemed_rejection_date(date(2025, 12, 10)) == date(2026, 1, 10)


def test_27_12_deemed_rejection_day_after_processing_period() -> None:
    notice = DelayNotice(sent_on=date(2025, 5, 1), expected_by=date(2025, 5, 20))  # sent on day 30
    assert processing_period_end(date(2025, 4, 1), [notice]) == date(2025, 5, 20)
    assert deemed_rejection_date(date(2025, 4, 1), [notice]) == date(2025, 5, 21)


def test_27_12_late_delay_notice_does_not_postpone() -> None:
    late = DelayNotice(sent_on=date(2025, 5, 2), expected_by=date(2025, 5, 20))  # day 31
    assert deemed_rejection_date(date(2025, 4, 1), [late]) == date(2025, 5, 2)


def test_27_12_last_timely_notice_fixes_the_processing_period() -> None:
    first = DelayNotice(sent_on=date(2025, 4, 20), expected_by=date(2025, 5, 20))
    second = DelayNotice(sent_on=date(2025, 4, 28), expected_by=date(2025, 5, 31))
    resent_after_day_30 = DelayNotice(sent_on=date(2025, 5, 15), expected_by=date(2025, 6, 30))
    assert deemed_rejection_date(date(2025, 4, 1), [first, second, resent_after_day_30]) == date(2025, 6, 1)
    # order of the list does not matter, only the sending dates
    assert deemed_rejection_date(date(2025, 4, 1), [second, first]) == date(2025, 6, 1)


def test_27_12_processing_period_cannot_shorten_the_30_days() -> None:
    short = DelayNotice(sent_on=date(2025, 4, 10), expected_by=date(2025, 4, 25))
    assert deemed_rejection_date(date(2025, 4, 1), [short]) == date(2025, 5, 2)


@pytest.mark.parametrize(
    "notice",
    [
        DelayNotice(sent_on=date(2025, 3, 31), expected_by=date(2025, 5, 20)),  # before the application
        DelayNotice(sent_on=date(2025, 4, 20), expected_by=date(2025, 4, 19)),  # period ends before sending
    ],
)
def test_27_12_inconsistent_notice_is_refused(notice: DelayNotice) -> None:
    with pytest.raises(ValueError, match="延期通知"):
        deemed_rejection_date(date(2025, 4, 1), [notice])


@pytest.mark.parametrize(
    ("today", "decided_on", "may"),
    [
        (date(2025, 5, 1), None, False),  # day 30: the city may still decide
        (date(2025, 5, 2), None, True),  # day 31, undecided
        (date(2025, 5, 2), date(2025, 5, 1), False),  # decided in time
        (date(2025, 5, 10), date(2025, 5, 5), False),  # decided late: the decision itself is appealable
        (date(2025, 5, 3), date(2025, 5, 5), True),  # decision still to come
    ],
)
def test_27_12_may_deem_rejected_on_a_day(today: date, decided_on: date | None, may: bool) -> None:
    assert may_deem_rejected(date(2025, 4, 1), today, decided_on=decided_on) is may


def test_27_12_may_deem_rejected_after_the_processing_period() -> None:
    notice = DelayNotice(sent_on=date(2025, 4, 25), expected_by=date(2025, 5, 20))
    assert not may_deem_rejected(date(2025, 4, 1), date(2025, 5, 20), delay_notices=[notice])
    assert may_deem_rejected(date(2025, 4, 1), date(2025, 5, 21), delay_notices=[notice])


# ------------------------------------------------------------------------------------- validity


def test_28_1_standard_validity() -> None:
    assert standard_validity_months(NEW) == 6
    assert standard_validity_months(CHANGE) == 6
    assert standard_validity_months(RENEWAL) == 12


@pytest.mark.parametrize(
    ("kind", "unchanged", "bounds"),
    [(NEW, False, (3, 12)), (CHANGE, True, (3, 12)), (RENEWAL, False, (3, 36)), (RENEWAL, True, (3, 48))],
)
def test_28_1_validity_range(kind: ApplicationKind, unchanged: bool, bounds: tuple[int, int]) -> None:
    assert validity_range(kind, unchanged) == bounds


@pytest.mark.parametrize(
    ("kind", "months", "unchanged"),
    [(NEW, 3, False), (NEW, 12, False), (CHANGE, 3, False), (CHANGE, 12, True), (RENEWAL, 3, False)]
    + [(RENEWAL, 36, False), (RENEWAL, 37, True), (RENEWAL, 48, True)],
)
def test_28_1_validity_within_range(kind: ApplicationKind, months: int, unchanged: bool) -> None:
    validate_validity_months(kind, months, unchanged)


@pytest.mark.parametrize(
    ("kind", "months", "unchanged", "message"),
    [
        (NEW, 2, False, "新規申請の有効期間は3〜12か月の範囲で設定してください（2か月）"),
        (NEW, 13, False, "新規申請の有効期間は3〜12か月の範囲で設定してください（13か月）"),
        (CHANGE, 13, True, "区分変更申請の有効期間は3〜12か月の範囲で設定してください（13か月）"),
        (RENEWAL, 2, True, "更新申請の有効期間は3〜48か月の範囲で設定してください（2か月）"),
        (
            RENEWAL,
            37,
            False,
            "更新申請の有効期間を36か月を超えて設定できるのは、前回と同じ要介護状態区分の場合（48か月まで）に限られます",
        ),
        (RENEWAL, 49, True, "更新申請の有効期間は3〜48か月の範囲で設定してください（49か月）"),
        (RENEWAL, 49, False, "更新申請の有効期間は3〜36か月の範囲で設定してください（49か月）"),
    ],
)
def test_28_1_validity_outside_range_refused(
    kind: ApplicationKind, months: int, unchanged: bool, message: str
) -> None:
    with pytest.raises(ValueError) as excinfo:
        validate_validity_months(kind, months, unchanged)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("kind", "start", "months", "end"),
    [
        (NEW, date(2025, 4, 1), 6, date(2025, 9, 30)),  # from a 1st: that month counts
        (NEW, date(2025, 4, 15), 6, date(2025, 10, 31)),  # rest of April + 6 months
        (NEW, date(2025, 11, 30), 3, date(2026, 2, 28)),  # starts on a month end
        (NEW, date(2023, 8, 20), 6, date(2024, 2, 29)),  # ends on a leap day
        (CHANGE, date(2025, 12, 5), 12, date(2026, 12, 31)),  # across the year end
        (RENEWAL, date(2025, 10, 1), 12, date(2026, 9, 30)),
        (RENEWAL, date(2026, 1, 1), 36, date(2028, 12, 31)),
    ],
)
def test_28_1_validity_period_ends_on_a_month_end(
    kind: ApplicationKind, start: date, months: int, end: date
) -> None:
    assert validity_period(kind, start, months) == (start, end)


@pytest.mark.parametrize(
    ("kind", "start", "months"),
    [
        (NEW, date(2025, 4, 1), 6),
        (NEW, date(2025, 4, 15), 6),  # the rest of April is added, not counted
        (NEW, date(2025, 11, 30), 3),
        (RENEWAL, date(2025, 10, 1), 12),
        (RENEWAL, date(2026, 1, 1), 36),
    ],
)
def test_28_1_validity_months_read_back_from_a_period(
    kind: ApplicationKind, start: date, months: int
) -> None:
    # 簡素化 needs the previous validity in months; certifications store only their dates.
    assert validity_months_between(*validity_period(kind, start, months)) == months


def test_28_1_validity_months_of_an_impossible_period_is_refused() -> None:
    with pytest.raises(ValueError, match="終了日が開始日より前"):
        validity_months_between(date(2026, 5, 1), date(2026, 4, 30))


def test_28_1_validity_period_48_months_only_if_level_unchanged() -> None:
    assert validity_period(RENEWAL, date(2026, 1, 1), 48, level_unchanged=True)[1] == date(2029, 12, 31)
    with pytest.raises(ValueError, match="前回と同じ要介護状態区分"):
        validity_period(RENEWAL, date(2026, 1, 1), 48)


def test_27_8_new_application_effective_from_application_date() -> None:
    assert effective_date(NEW, date(2025, 4, 15)) == date(2025, 4, 15)


def test_29_2_change_effective_from_application_date() -> None:
    assert effective_date(CHANGE, date(2025, 4, 15), previous_expiry=date(2025, 9, 30)) == date(2025, 4, 15)


@pytest.mark.parametrize(
    ("expiry", "start"),
    [
        (date(2025, 9, 30), date(2025, 10, 1)),
        (date(2025, 12, 31), date(2026, 1, 1)),
        (date(2024, 2, 29), date(2024, 3, 1)),
    ],
)
def test_28_10_renewal_effective_day_after_expiry(expiry: date, start: date) -> None:
    assert effective_date(RENEWAL, date(2025, 8, 10), previous_expiry=expiry) == start


def test_28_10_renewal_needs_previous_expiry() -> None:
    with pytest.raises(ValueError, match="満了日"):
        effective_date(RENEWAL, date(2025, 8, 10))


# ------------------------------------------------------------------------------- renewal window


@pytest.mark.parametrize(
    ("reason_ended", "deadline"),
    [
        (date(2025, 6, 10), date(2025, 7, 10)),
        (date(2025, 4, 3), date(2025, 5, 7)),  # 5月3日 falls in Golden Week
        (date(2025, 1, 30), date(2025, 2, 28)),  # no 2月30日 → month end (a Friday)
    ],
)
def test_28_3_late_renewal_within_one_month_of_the_reason_ending(reason_ended: date, deadline: date) -> None:
    assert late_renewal_deadline(reason_ended) == deadline


# ------------------------------------------------- recorded validity (imported from a previous system)


def test_28_1_recorded_validity_may_reach_48_months_but_not_more() -> None:
    assert longest_validity_months() == 48
    assert recorded_validity_problem(date(2026, 4, 1), date(2030, 3, 31)) is None  # 48 months
    # Starting after the 1st, the rest of that month is not counted (施行規則): still 48.
    assert recorded_validity_problem(date(2026, 4, 15), date(2030, 4, 30)) is None
    too_long = recorded_validity_problem(date(2026, 4, 1), date(2030, 4, 30))
    assert too_long is not None and "49か月" in too_long and "上限は48か月" in too_long


def test_28_1_recorded_validity_cut_short_is_lawful() -> None:
    # Ended by a later 区分変更 or by death: any day, any length.
    assert recorded_validity_problem(date(2026, 4, 1), date(2026, 5, 17)) is None
    assert recorded_validity_problem(date(2026, 4, 1), date(2026, 4, 1)) is None


def test_recorded_validity_must_not_end_before_it_starts() -> None:
    assert (
        recorded_validity_problem(date(2026, 4, 2), date(2026, 4, 1)) == "有効期間の開始日が終了日より後です"
    )
