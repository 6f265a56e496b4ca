"""RestrictionWorkflow (介護保険法66–69条) on the time-skipping test server with its real activities on
PostgreSQL and the real notice renderer.

Each path is driven as staff, the collection system and the registry would drive it; when
RECORD_HISTORIES=1, each finished history is written to tests/histories/ for the replay test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from kaigo.config import Settings
from kaigo.errors import ProblemError
from models.case import CaseRecord
from models.certification import ApplicationCreate
from models.restriction import (
    AssessmentBatch,
    AssessmentIn,
    BenefitReduction,
    EndReason,
    InsurerNoticeRequest,
    LiftingRequest,
    Outcome,
    RestrictionOutcome,
    RestrictionPolicy,
    RestrictionStart,
    ScanInput,
    ScanResult,
    Stage,
    Trigger,
)
from models.restriction_tasks import RestrictionTask as T
from models.task import Task, TaskState
from rules.calendar import resident_deadline_after
from rules.primary_determination import CareLevel
from rules.restriction import first_of_next_month, months_passed_on
from services import cases, certification, premiums, restriction
from services.notices import fiscal_year_of
from services.renewal import term_case_id
from tests.certification_helpers import BOARD, CaseDriver, primary_payload, seed_board, seed_insured
from tests.restriction_helpers import (
    RestrictionDriver,
    eventually,
    monthly_dues,
    pay,
    seed_certification,
    seed_ledger,
)
from tests.workflows.time_skipping import RecordHistory, history_recorder, own_task_queue, today
from workflows.restriction_scan import RestrictionScanWorkflow

INSURED = "0400000001"  # each test gets its own number (below): closed workflows outlive the database rows


@pytest.fixture(autouse=True)
def _insured_no(request: pytest.FixtureRequest) -> Iterator[None]:
    global INSURED
    INSURED = f"04{abs(hash(request.node.name)) % 10**8:08d}"
    yield


# The time-skipping harness (time_skipping.py, conftest.py): the production workers on a task queue of this
# module's own, on the session's test server; today() on that server's clock.
pytestmark = pytest.mark.usefixtures("server_clock")


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    return own_task_queue(settings, "restr")


@pytest.fixture
def record_history() -> RecordHistory:
    """Histories recorded as restriction_<name>.json (RECORD_HISTORIES=1)."""
    return history_recorder("restriction")


async def _in_arrears(
    sessions: async_sessionmaker[AsyncSession], *, months: int = 13, count: int = 3, category: str = "1"
) -> tuple[str, list[AssessmentIn]]:
    """A 第1号 person whose oldest unpaid 納期限 is `months` months ago, with `count` monthly instalments."""
    atena_no = await seed_insured(sessions, insured_no=INSURED, category=category)
    now = await today()
    first_due = now - timedelta(days=months * 31)
    return atena_no, await seed_ledger(sessions, INSURED, monthly_dues(first_due, count))


async def _open(
    worker: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    opened: list[str],
    policy: RestrictionPolicy | None = None,
) -> RestrictionDriver:
    result = await restriction.open_delinquency_case(
        sessions=sessions,
        temporal=worker,
        insured_no=INSURED,
        as_of=await today(),
        trigger=Trigger.STAFF,
        policy=policy or RestrictionPolicy(),
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
        actor="restriction",
    )
    assert result.created and result.case_id is not None, result
    opened.append(result.case_id)
    return RestrictionDriver(worker, sessions, result.case_id)


async def _outcome(client: Client, case: RestrictionDriver) -> RestrictionOutcome:
    return await client.get_workflow_handle(case.case_id, result_type=RestrictionOutcome).result()


# --------------------------------------------------------------------------------------- 66・67条


async def test_66_explanation_accepted_means_no_restriction(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    record_task = await case.open_task(T.EXPLANATION)
    assert (await case.notice_kinds()) == ["payment_method_change_advance"]
    advance = (await case.notices())[0]
    due = resident_deadline_after(await today(), 30)
    assert advance.data["explanation_due"] == due.isoformat()
    assert len(advance.data["arrears"]) == 3  # the facts: arrears by year × period (行政手続法30条)
    header = await case.case()
    assert (header.stage, header.due_on) == (Stage.EXPLANATION, due)
    assert record_task.due_at is not None
    await case.complete(
        T.EXPLANATION,
        {
            "received_on": (await today()).isoformat(),
            "form": "written",
            "claims_special_circumstances": True,
            "summary": "世帯主が長期入院し収入が途絶えたため (診断書あり)",
        },
    )
    await case.complete(
        T.EXPLANATION_REVIEW,
        {"accepted": True, "reasons": ["世帯の生計維持者の長期入院による収入の著しい減少を認める。"]},
    )
    outcome = await _outcome(worker, case)
    assert outcome.outcome == Outcome.EXPLANATION_ACCEPTED
    assert await case.notice_kinds() == ["payment_method_change_advance", "explanation_review_result"]
    review = (await case.notices())[1]
    assert review.data["accepted"] is True and review.data["measure"] == "payment_method_change"
    header = await case.case()
    assert (header.state, header.stage, header.outcome) == (
        "closed",
        Stage.NOT_RESTRICTED,
        "explanation_accepted",
    )
    assert header.exclusive_key is None
    record = await case.record()
    assert record.explanation_accepted is True and record.payment_method_change_from is None
    await record_history(worker, case.case_id, "explanation_accepted")


async def test_66_67_no_explanation_then_reimbursement_suspension_offset_and_lifting_on_payment(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    _, ledger = await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    await case.open_task(T.EXPLANATION)

    # 弁明 period over, nothing heard: 支払方法変更 from the 1st of the next month (66条1項).
    due = (await case.case()).due_on
    assert due is not None
    await time_skipping_env.sleep(due - await today() + timedelta(days=2))
    header = await case.until_stage(Stage.RESTRICTED)
    decided_on = await today()
    assert await case.notice_kinds() == ["payment_method_change_advance", "payment_method_change"]
    change = (await case.notices())[1]
    assert change.data["effective_from"] == first_of_next_month(change.issued_on).isoformat()
    suspension_on = months_passed_on(ledger[0].due_on, 18)
    assert header.due_on == suspension_on  # the 1年6か月 date of the oldest unpaid instalment
    assert "explanation.none" in await case.steps()
    assert not await case.has_open(T.EXPLANATION)
    assert decided_on < suspension_on

    # 1年6か月 (67条1項): staff decide the 一時差止 with the benefits already withheld.
    await time_skipping_env.sleep(suspension_on - await today() + timedelta(days=1))
    await case.complete(
        T.SUSPENSION,
        {
            "withheld": [
                {"service_month": (await today()).isoformat(), "service_name": "訪問介護", "amount": 48_200}
            ]
        },
    )
    await case.open_task(T.OFFSET)
    assert (await case.case()).stage == Stage.SUSPENDED
    assert (await case.notice_kinds())[-1] == "benefit_suspension"

    # 67条3項: the 控除 is notified before it is made; a 控除日 too soon is refused.
    too_soon = {
        "offset_on": (await today() + timedelta(days=3)).isoformat(),
        "withheld": [
            {"service_month": (await today()).isoformat(), "service_name": "訪問介護", "amount": 48_200}
        ],
        "premiums": [{"fiscal_year": ledger[0].fiscal_year, "period": ledger[0].period, "amount": 6_200}],
    }
    with pytest.raises(ProblemError) as refused:
        await case.complete(T.OFFSET, too_soon)
    assert refused.value.status == 422 and refused.value.field == "payload.offset_on"
    offset_on = await today() + timedelta(days=14)
    await case.complete(T.OFFSET, too_soon | {"offset_on": offset_on.isoformat()})
    await case.until_stage(Stage.OFFSET_NOTIFIED)
    assert (await case.notice_kinds())[-1] == "premium_offset"
    await time_skipping_env.sleep(timedelta(days=15))
    await case.open_task(T.OFFSET)  # arrears remain: the next 控除 can be planned
    record = await case.record()
    assert record.arrears_total == 2 * 6_200  # the oldest 期別 was paid by the 控除

    # The collection system posts the rest: arrears zero → 解除 at once (66条3項).
    for n, item in enumerate(ledger[1:]):
        await pay(sessions, worker, item, receipt_no=f"R-{n}", paid_on=await today())
    outcome = await _outcome(worker, case)
    assert (outcome.outcome, outcome.lift_reason) == (Outcome.LIFTED, "paid_in_full")
    kinds = await case.notice_kinds()
    assert kinds == [
        "payment_method_change_advance",
        "payment_method_change",
        "benefit_suspension",
        "premium_offset",
        "restriction_lifted",
    ]  # every notice once
    lifted = (await case.notices())[-1]
    assert lifted.data["lifted_measures"] == ["payment_method_change", "benefit_suspension"]
    assert lifted.data["remaining_unpaid"] == 0 and lifted.data["withheld_release_total"] == 48_200 - 6_200
    header = await case.case()
    assert (header.state, header.stage, header.exclusive_key) == ("closed", Stage.LIFTED, None)
    async with sessions() as session:
        open_tasks = (
            await session.exec(
                select(Task).where(Task.case_id == case.case_id, col(Task.state) == TaskState.OPEN)
            )
        ).all()
        current = await restriction.restrictions_of(session, INSURED, await today())
    assert open_tasks == []
    assert [(i.measure, i.status) for i in current.items] == [
        ("payment_method_change", "ended"),
        ("benefit_suspension", "ended"),
    ]
    await record_history(worker, case.case_id, "reimbursed_suspended_paid")


async def test_66_payment_during_the_explanation_period_drops_the_planned_measure(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    _, ledger = await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    await case.open_task(T.EXPLANATION)
    # Paying the oldest instalment is not enough: the next one is also a year overdue.
    await pay(sessions, worker, ledger[0], receipt_no="R-1", paid_on=await today())
    await case.until_notices(1)

    async def arrears_total() -> int | None:
        record = await case.record()
        return record.arrears_total if record.arrears_total == 2 * 6_200 else None

    await eventually(arrears_total)
    assert (await case.case()).state == "open" and await case.has_open(T.EXPLANATION)
    for n, item in enumerate(ledger[1:]):
        await pay(sessions, worker, item, receipt_no=f"R-{n + 2}", paid_on=await today())
    outcome = await _outcome(worker, case)
    assert outcome.outcome == Outcome.PAID_BEFORE_MEASURE
    assert await case.notice_kinds() == ["payment_method_change_advance"]
    assert not await case.has_open(T.EXPLANATION)
    await record_history(worker, case.case_id, "paid_during_explanation")


async def test_death_mid_case_ends_it_and_sends_nothing_more(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no, _ = await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    await case.open_task(T.EXPLANATION)
    await case.complete(
        T.EXPLANATION,
        {"received_on": (await today()).isoformat(), "form": "waived", "claims_special_circumstances": False},
    )
    await case.until_stage(Stage.RESTRICTED)
    ended = await cases.end_open_cases(
        sessions=sessions,
        temporal=worker,
        atena_no=atena_no,
        reason=EndReason.DEATH,
        actor="intake",
        on=await today(),
    )
    assert [c.id for c in ended] == [case.case_id]
    outcome = await _outcome(worker, case)
    assert (outcome.outcome, outcome.end_reason) == (Outcome.ENDED, "death")
    await time_skipping_env.sleep(timedelta(days=400))  # no 1年6か月 step for a closed case
    assert await case.notice_kinds() == ["payment_method_change_advance", "payment_method_change"]
    header = await case.case()
    assert (header.state, header.stage, header.exclusive_key) == ("closed", Stage.ENDED, None)
    assert (await case.record()).end_reason == "death"
    await record_history(worker, case.case_id, "death")


async def test_66_3_special_circumstances_approved_lifts_the_restriction_with_arrears_left(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str],
) -> None:  # fmt: skip
    await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    request = {"reason": "special_circumstances", "received_on": (await today()).isoformat(), "note": "火災"}
    with pytest.raises(ProblemError) as early:  # before the 支払方法変更: a 弁明 instead
        await restriction.apply_for_lifting(
            temporal=worker, case_id=case.case_id, request=LiftingRequest(**request, actor="restriction")
        )
    assert early.value.status == 409
    await case.complete(
        T.EXPLANATION,
        {"received_on": (await today()).isoformat(), "form": "waived", "claims_special_circumstances": False},
    )
    await case.until_stage(Stage.RESTRICTED)
    accepted = await restriction.apply_for_lifting(
        temporal=worker, case_id=case.case_id, request=LiftingRequest(**request, actor="restriction")
    )
    review = await case.open_task(T.LIFTING_REVIEW)
    assert str(review.id) == accepted.task_id
    await case.complete(T.LIFTING_REVIEW, {"approved": True, "reasons": ["罹災証明書により確認"]})
    outcome = await _outcome(worker, case)
    assert (outcome.outcome, outcome.lift_reason) == (Outcome.LIFTED, "special_circumstances")
    lifted = (await case.notices())[-1]
    assert lifted.kind == "restriction_lifted" and lifted.data["remaining_unpaid"] == 3 * 6_200
    assert lifted.data["lifted_measures"] == ["payment_method_change"]


# ------------------------------------------------------------------------------------------ 68条


async def test_68_insurer_request_advance_suspension_and_lifting_on_the_insurers_notice(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    await seed_insured(sessions, insured_no=INSURED, category="2")
    now = await today()
    start = RestrictionStart.model_validate(
        {
            "insured_no": INSURED,
            "kind": "category2",
            "medical_insurer": "旭川市国民健康保険",
            "request_received_on": now.isoformat(),
            "insurer_arrears": [
                {
                    "fiscal_year": 2025,
                    "period": 3,
                    "due_on": "2025-09-30",
                    "assessed": 18_400,
                    "unpaid": 18_400,
                },
                {
                    "fiscal_year": 2025,
                    "period": 4,
                    "due_on": "2025-10-31",
                    "assessed": 18_400,
                    "unpaid": 9_200,
                },
            ],
        }
    )
    result = await restriction.open_category2_case(
        sessions=sessions, temporal=worker, data=start, today=now, policy=RestrictionPolicy(),
        office=queue_settings.office_code, task_queue=queue_settings.temporal_task_queue, actor="restriction",
    )  # fmt: skip
    assert result.case_id is not None
    opened.append(result.case_id)
    case = RestrictionDriver(worker, sessions, result.case_id)
    await case.complete(
        T.EXPLANATION,
        {"received_on": now.isoformat(), "form": "waived", "claims_special_circumstances": False},
    )
    await case.until_stage(Stage.SUSPENDED)
    assert await case.notice_kinds() == ["category2_suspension_advance", "category2_suspension"]
    suspension = (await case.notices())[1]
    assert suspension.data["medical_insurer"] == "旭川市国民健康保険"
    assert suspension.data["effective_from"] == first_of_next_month(now).isoformat()
    with pytest.raises(ProblemError) as not_66:  # a 終了申請 is the 66条 route, not the insurer's
        await restriction.apply_for_lifting(
            temporal=worker,
            case_id=case.case_id,
            request=LiftingRequest(reason="marked_reduction", received_on=now, note="x", actor="restriction"),
        )
    assert not_66.value.status == 409
    with pytest.raises(ProblemError) as future:
        await restriction.record_insurer_notice(
            temporal=worker,
            case_id=case.case_id,
            request=InsurerNoticeRequest(received_on=now + timedelta(days=3), actor="restriction"),
        )
    assert future.value.status == 422 and future.value.field == "received_on"
    await restriction.record_insurer_notice(
        temporal=worker,
        case_id=case.case_id,
        request=InsurerNoticeRequest(received_on=now, actor="restriction"),
    )
    outcome = await _outcome(worker, case)
    assert (outcome.outcome, outcome.lift_reason) == (Outcome.LIFTED, "insurer_notice")
    assert await case.notice_kinds() == [
        "category2_suspension_advance",
        "category2_suspension",
        "category2_suspension_lifted",
    ]
    record = await case.record()
    assert (record.kind, record.medical_insurer, record.insurer_notice_on) == (
        "category2",
        "旭川市国民健康保険",
        now,
    )
    await record_history(worker, case.case_id, "category2")


async def test_68_is_for_the_second_category_only(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings
) -> None:
    await seed_insured(sessions, insured_no=INSURED, category="1")
    start = RestrictionStart.model_validate(
        {
            "insured_no": INSURED,
            "kind": "category2",
            "medical_insurer": "旭川市国民健康保険",
            "request_received_on": (await today()).isoformat(),
            "insurer_arrears": [
                {
                    "fiscal_year": 2025,
                    "period": 3,
                    "due_on": "2025-09-30",
                    "assessed": 18_400,
                    "unpaid": 18_400,
                }
            ],
        }
    )
    with pytest.raises(ProblemError) as refused:
        await restriction.open_category2_case(
            sessions=sessions, temporal=worker, data=start, today=await today(), policy=RestrictionPolicy(),
            office="honcho", task_queue=queue_settings.temporal_task_queue, actor="restriction",
        )  # fmt: skip
    assert refused.value.status == 422 and refused.value.field == "kind"
    async with sessions() as session:
        assert (await session.exec(select(CaseRecord))).all() == []


# ------------------------------------------------------------------------------ the daily scan


async def _scan(worker: Client, settings: Settings, name: str) -> ScanResult:
    return await worker.execute_workflow(
        RestrictionScanWorkflow.run,
        ScanInput(office=settings.office_code, task_queue=settings.temporal_task_queue),
        id=f"restriction-scan-test-{name}-{INSURED}",
        task_queue=settings.temporal_task_queue,
    )


async def test_66_daily_scan_started_twice_at_once_opens_one_case(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no, _ = await _in_arrears(sessions)
    now = await today()
    await seed_certification(
        sessions, INSURED, atena_no, now - timedelta(days=100), now + timedelta(days=200)
    )
    # Not opened: 11 months in arrears; and a person in arrears who is not certified.
    other = "05" + INSURED[2:]
    other_atena = await seed_insured(sessions, insured_no=other)
    await seed_ledger(sessions, other, monthly_dues(now - timedelta(days=11 * 31), 2))
    await seed_certification(
        sessions, other, other_atena, now - timedelta(days=100), now + timedelta(days=200)
    )
    first, second = await asyncio.gather(
        _scan(worker, queue_settings, "a"), _scan(worker, queue_settings, "b")
    )
    async with sessions() as session:
        headers = (await session.exec(select(CaseRecord).where(CaseRecord.case_type == "restriction"))).all()
    assert [h.insured_no for h in headers] == [INSURED]
    opened.append(headers[0].id)
    assert sorted(first.opened + second.opened) == [headers[0].id]  # one scan opened it, the other found it
    case = RestrictionDriver(worker, sessions, headers[0].id)
    await case.open_task(T.EXPLANATION)
    assert await case.notice_kinds() == ["payment_method_change_advance"]
    again = await _scan(worker, queue_settings, "c")
    # The open case keeps the person out of the scan; the 11-month one is looked at and left alone.
    assert again.opened == [] and again.checked == 1
    assert (await case.record()).trigger == "scan"
    await record_history(worker, f"restriction-scan-test-a-{INSURED}", "scan")


async def test_66_a_certification_application_in_arrears_triggers_the_same_check(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings, opened: list[str]
) -> None:

    await _in_arrears(sessions)
    data = ApplicationCreate.model_validate(
        {
            "insured_no": INSURED,
            "kind": "new",
            "applied_on": (await today()).isoformat(),
            "applicant_kind": "self",
        }
    )
    application, _ = await certification.receive(
        sessions=sessions,
        temporal=worker,
        settings=queue_settings,
        data=data,
        actor="intake",
        today=await today(),
    )
    opened.append(application.workflow_id)
    opened.append(term_case_id(application.id))  # its renewal term, once certified

    async def restriction_case() -> str | None:
        async with sessions() as session:
            return (await restriction.open_delinquency_cases(session, [INSURED])).get(INSURED)

    case_id = await eventually(restriction_case)
    opened.append(case_id)
    case = RestrictionDriver(worker, sessions, case_id)
    assert (await case.record()).trigger == "application"
    await case.open_task(T.EXPLANATION)


# ------------------------------------------------------------------------------------------ 69条


async def test_69_certification_with_time_barred_premiums_records_a_reduction_payment_does_not_lift(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip

    await seed_insured(sessions, insured_no=INSURED)
    now = await today()
    # Fiscal year three years back: four instalments, never paid (time-barred); the next year paid in full.
    barred_year = now.year - 4
    dues = [date(barred_year, month, 28) for month in (7, 8, 9, 10)] + [
        date(barred_year + 1, month, 28) for month in (7, 8, 9, 10)
    ]
    ledger = await seed_ledger(sessions, INSURED, dues)
    for n, item in enumerate(ledger[4:]):
        await pay(sessions, worker, item, receipt_no=f"P-{n}", paid_on=item.due_on)
    await seed_board(sessions, [now])
    data = ApplicationCreate.model_validate(
        {"insured_no": INSURED, "kind": "new", "applied_on": now.isoformat(), "applicant_kind": "self"}
    )
    application, _ = await certification.receive(
        sessions=sessions, temporal=worker, settings=queue_settings, data=data, actor="intake", today=now
    )
    opened.append(application.workflow_id)
    opened.append(term_case_id(application.id))  # its renewal term, once certified
    cert = CaseDriver(worker, sessions, application.id)
    await cert.evidence(now)
    await cert.complete("primary_result", primary_payload(INSURED, now, CareLevel.CARE_2))  # type: ignore[arg-type]
    for member in BOARD[:3]:
        await cert.vote(member, CareLevel.CARE_2, 6)
    await cert.close_board(board_opinion="特になし")

    case_id = restriction.reduction_case_id(application.id)
    opened.append(case_id)
    case = RestrictionDriver(worker, sessions, case_id)
    # X = 1 (a year time-barred), Y = 1 (a year paid): 1 ÷ 2 × 6 = 3か月. Staff confirm the usual share.
    await case.complete(T.REDUCTION, {"usual_copay_percent": 30})
    outcome = await _outcome(worker, case)
    assert outcome.outcome == Outcome.REDUCTION_RECORDED
    (notice,) = await case.notices()
    assert notice.kind == "benefit_reduction"
    assert (notice.data["reduction_months"], notice.data["benefit_rate"]) == (3, 60)
    assert notice.data["reduction_from"] == first_of_next_month(now).isoformat()
    async with sessions() as session:
        recorded = await session.get(BenefitReduction, application.id)  # on the certification
        assert recorded is not None and (recorded.months, recorded.benefit_rate) == (3, 60)
        current = await restriction.restrictions_of(session, INSURED, now)
    assert [(i.measure, i.status, i.certification_id) for i in current.items] == [
        ("benefit_reduction", "planned", application.id)
    ]
    # Time-barred premiums cannot be paid (200条), so nothing can lift the reduction.
    with pytest.raises(ProblemError) as barred:
        await pay(sessions, worker, ledger[0], receipt_no="LATE-1", paid_on=now)
    assert barred.value.status == 422 and barred.value.code == "time-barred"
    await record_history(worker, case.case_id, "reduction")


# ------------------------------------------------------------------------------- one case per person


async def test_66_one_open_case_per_person_and_a_new_episode_after_it_closes(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings, opened: list[str]
) -> None:
    _, ledger = await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    again = await restriction.open_delinquency_case(
        sessions=sessions, temporal=worker, insured_no=INSURED, as_of=await today(), trigger=Trigger.SCAN,
        policy=RestrictionPolicy(), office="honcho", actor="system",
        task_queue=queue_settings.temporal_task_queue,
    )  # fmt: skip
    assert (again.case_id, again.created) == (case.case_id, False)  # the same episode: the same case
    with pytest.raises(ProblemError) as open_one:
        await restriction.start_by_staff(
            sessions=sessions, temporal=worker, data=RestrictionStart(insured_no=INSURED, kind="delinquency"),
            today=await today(), policy=RestrictionPolicy(), office="honcho",
            task_queue=queue_settings.temporal_task_queue, actor="restriction",
        )  # fmt: skip
    assert open_one.value.status == 409 and open_one.value.extra["case_id"] == case.case_id
    for n, item in enumerate(ledger):
        await pay(sessions, worker, item, receipt_no=f"E-{n}", paid_on=await today())
    assert (await _outcome(worker, case)).outcome == Outcome.PAID_BEFORE_MEASURE
    # A later episode: another 期別 left unpaid for over a year (a 随時 調定) opens a new case.
    late_due = await today() - timedelta(days=400)
    late = AssessmentIn(
        insured_no=INSURED, fiscal_year=fiscal_year_of(late_due), period=12, due_on=late_due, amount=3_000
    )
    async with sessions() as session, session.begin():
        await premiums.post_assessments(
            session=session, batch=AssessmentBatch(assessments=[late]), actor="test"
        )
    later = await _open(worker, sessions, queue_settings, opened)
    assert later.case_id != case.case_id
    await later.open_task(T.EXPLANATION)


async def test_66_special_circumstances_keep_the_same_arrears_from_reopening_for_the_quiet_period(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings, opened: list[str]
) -> None:
    await _in_arrears(sessions)
    case = await _open(worker, sessions, queue_settings, opened)
    await case.complete(
        T.EXPLANATION,
        {"received_on": (await today()).isoformat(), "form": "oral", "claims_special_circumstances": True,
         "summary": "災害により住宅が全壊"},
    )  # fmt: skip
    await case.complete(T.EXPLANATION_REVIEW, {"accepted": True, "reasons": ["罹災証明書を確認"]})
    await _outcome(worker, case)
    quiet = await restriction.open_delinquency_case(
        sessions=sessions, temporal=worker, insured_no=INSURED, as_of=await today(), trigger=Trigger.SCAN,
        policy=RestrictionPolicy(), office="honcho", actor="system",
        task_queue=queue_settings.temporal_task_queue,
    )  # fmt: skip
    assert (quiet.skipped, quiet.case_id) == ("recently_closed", case.case_id)
    after = await restriction.open_delinquency_case(
        sessions=sessions, temporal=worker, insured_no=INSURED, as_of=await today(), trigger=Trigger.SCAN,
        policy=RestrictionPolicy(reopen_after_days=0), office="honcho",
        task_queue=queue_settings.temporal_task_queue, actor="system",
    )  # fmt: skip
    assert after.created and after.case_id != case.case_id
    assert after.case_id is not None
    opened.append(after.case_id)
