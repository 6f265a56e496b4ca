"""CertificationWorkflow on the time-skipping test server with its real activities on PostgreSQL.

Each path of 介護保険法27–29条 that the workflow takes is driven here as staff would drive it; when
RECORD_HISTORIES=1, each finished history is written to tests/histories/ for the replay test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from kaigo.config import Settings
from kaigo.errors import ProblemError
from models.board import BoardAllocation
from models.case import CaseEvent
from models.certification import (
    ApplicationCreate,
    ApplicationState,
    Certification,
    CertificationOutcome,
    CertificationPolicy,
    EndReason,
    Stage,
)
from models.certification_tasks import CertificationTask as TaskKind
from models.notice import NoticePdf, NoticeRecord
from models.procedure import NOTICE_REPAIR, CaseClosed, EndCase
from models.registry import Person
from models.task import Task, TaskState
from rules.calendar import add_months, month_end
from rules.certification import ApplicationKind, decision_deadline, validity_period
from rules.primary_determination import CareLevel
from services import cases, certification, tasks
from services.renewal import term_case_id
from tests.certification_helpers import (
    BOARD,
    CaseDriver,
    eventually,
    opinion_payload,
    primary_payload,
    renewal_fields,
    seed_board,
    seed_insured,
    survey_payload,
)
from tests.workflows.time_skipping import history_recorder, own_task_queue, today
from workflows.calendar import JST

# The time-skipping harness (time_skipping.py, conftest.py): the production workers on a task queue of this
# module's own, on the session's test server; today() on that server's clock.
pytestmark = pytest.mark.usefixtures("server_clock")


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    return own_task_queue(settings, "cert")


@pytest.fixture
async def start(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings
) -> AsyncIterator[Callable[..., object]]:
    started: list[str] = []

    async def start_case(
        insured_no: str = "0300000001", policy: CertificationPolicy | None = None, **fields: object
    ) -> CaseDriver:
        data = ApplicationCreate.model_validate(
            {
                "insured_no": insured_no,
                "kind": "new",
                "applied_on": await today(),
                "applicant_kind": "self",
                **fields,
            }
        )
        application, _ = await certification.receive(
            sessions=sessions,
            temporal=worker,
            settings=queue_settings.model_copy(
                update={"certification_policy": policy or CertificationPolicy()}
            ),
            data=data,
            actor="intake",
            today=await today(),
        )
        started.append(application.workflow_id)
        # A certification decided starts its renewal term (procedures.py listener): it sleeps on this
        # test's queue, and once its timer fires with no worker it would hold the clock too.
        started.append(term_case_id(application.id))
        return CaseDriver(worker, sessions, application.id)

    yield start_case
    # A case left running would hold the shared test server's clock: time only skips when every
    # workflow's tasks are handled, and this test's worker is about to stop. A case that is finishing gets a
    # moment to complete its last activities (a terminated one's in-flight activity stalls the test server's
    # clock too); the rest are terminated.
    for workflow_id in started:
        handle = worker.get_workflow_handle(workflow_id)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handle.result(), timeout=2)
        with contextlib.suppress(RPCError):
            await handle.terminate("test finished")


@pytest.fixture
def record_history() -> Callable[[Client, CaseDriver, str], Awaitable[None]]:
    """Histories recorded as certification_<name>.json (RECORD_HISTORIES=1)."""
    record = history_recorder("certification")

    async def record_case(client: Client, case: CaseDriver, name: str) -> None:
        await record(client, case.case_id, name)

    return record_case


async def _result(client: Client, case: CaseDriver) -> CertificationOutcome:
    return await client.get_workflow_handle(case.case_id, result_type=CertificationOutcome).result()


async def _events(sessions: async_sessionmaker[AsyncSession], case: CaseDriver) -> list[str]:
    async with sessions() as session:
        rows = (
            await session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.case_id).order_by(col(CaseEvent.id))
            )
        ).all()
    return [r.step for r in rows]


async def _notices(sessions: async_sessionmaker[AsyncSession], case: CaseDriver) -> list[NoticeRecord]:
    async with sessions() as session:
        rows = await session.exec(
            select(NoticeRecord)
            .where(NoticeRecord.case_id == case.case_id)
            .order_by(col(NoticeRecord.sequence))
        )
        return list(rows.all())


async def _deemed(case: CaseDriver) -> date | None:
    return (await case.application()).deemed_rejection_on


async def _count_notices(
    sessions: async_sessionmaker[AsyncSession], case: CaseDriver, n: int
) -> list[NoticeRecord]:
    notices = await _notices(sessions, case)
    return notices if len(notices) >= n else []


async def _has_event(sessions: async_sessionmaker[AsyncSession], case: CaseDriver, step: str) -> bool:
    return step in await _events(sessions, case)


async def _end(worker: Client, case: CaseDriver, reason: EndReason, note: str | None = None) -> CaseClosed:
    request = EndCase(reason=reason, actor="intake", on=await today(), note=note)
    return await cases.end_case(temporal=worker, case_id=case.case_id, request=request)


async def _decide_by_board(case: CaseDriver, level: CareLevel, months: int | None, voters: list[str]) -> None:
    for member in voters:
        await case.vote(member, level, months)
    await case.close_board(board_opinion="特になし")


# ---------------------------------------------------------------------------------------- main path


async def test_27_new_application_from_intake_to_result_notice(
    start: Callable[..., object],
    worker: Client,
    sessions: async_sessionmaker[AsyncSession],
    record_history: Callable[..., object],
) -> None:
    await seed_insured(sessions)
    await seed_board(sessions, [await today()])
    case: CaseDriver = await start()  # type: ignore[operator]
    applied = await today()
    await case.evidence(applied)
    await case.open_task(TaskKind.PRIMARY_RESULT)
    assert (await case.case()).stage == Stage.PRIMARY
    await case.complete(TaskKind.PRIMARY_RESULT, primary_payload("0300000001", applied))
    await case.open_task(TaskKind.BOARD_CLOSE)
    assert (await case.case()).stage == Stage.BOARD
    await _decide_by_board(case, CareLevel.CARE_2, 6, BOARD[:4])

    outcome = await _result(worker, case)
    assert outcome.state == ApplicationState.DECIDED and outcome.level == CareLevel.CARE_2
    # 27条8項: effective from the application date; 6 months counted from the next month's 1st, month end.
    assert (outcome.valid_from, outcome.valid_to) == validity_period(ApplicationKind.NEW, applied, 6)
    notices = await _notices(sessions, case)
    assert [n.kind for n in notices] == ["certification_result"]
    async with sessions() as session:
        stored = await session.get(NoticePdf, notices[0].id)
        assert stored is not None and stored.pdf.startswith(b"%PDF") and stored.pages in (1, 2)
        assert (await session.get(Certification, case.application_id)) is not None
        open_tasks = (
            await session.exec(
                select(Task).where(Task.case_id == case.case_id, col(Task.state) == TaskState.OPEN)
            )
        ).all()
    assert open_tasks == []
    steps = await _events(sessions, case)
    assert steps[0] == "application.received"
    assert {
        "survey.completed",
        "opinion_receipt.completed",
        "primary_result.completed",
        "board.allocated",
    } <= set(steps)
    assert steps[-1] == "certification.decided"
    header = await case.case()
    assert (header.state, header.outcome, header.stage) == ("closed", "decided", Stage.DECIDED)
    assert header.due_on is None and header.exclusive_key is None  # a new application may now be filed
    assert (await case.application()).surveyor == "surveyor"
    await record_history(worker, case, "new_decided")


async def test_27_9_not_applicable_gets_a_denial_notice_with_reasons(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions)
    await seed_board(sessions, [await today()])
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.evidence(await today())
    await case.complete(
        TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today(), CareLevel.NOT_APPLICABLE)
    )
    await _decide_by_board(case, CareLevel.NOT_APPLICABLE, None, BOARD[:3])
    outcome = await _result(worker, case)
    assert outcome.level == CareLevel.NOT_APPLICABLE and outcome.valid_from is None
    (notice,) = await _notices(sessions, case)
    assert notice.kind == "certification_denial"
    assert notice.data["reasons"][0].startswith("介護認定審査会の審査及び判定の結果")
    await record_history(worker, case, "not_applicable")


# ---------------------------------------------------------------------------------- board rules


async def test_board_tie_is_broken_by_the_chair_and_change_needs_a_reason(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions)
    await seed_board(sessions, [await today()])
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.evidence(await today())
    await case.complete(
        TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today(), CareLevel.CARE_2)
    )
    # Four present, two against two: the chair's side (要介護3) carries (可否同数は議長の決するところ).
    await case.vote("board-chair", CareLevel.CARE_3, 12)
    await case.vote("board-b", CareLevel.CARE_3, 12)
    await case.vote("board-c", CareLevel.CARE_2, 12)
    await case.vote("board-d", CareLevel.CARE_2, 12)
    with pytest.raises(ProblemError) as refused:
        await case.close_board()  # 要介護3 ≠ 一次判定 要介護2: a reason is required
    assert refused.value.status == 422 and refused.value.field == "payload.change_reason"
    await case.close_board(change_reason="認知症による見守りの手間が一次判定に反映されていないため")
    with pytest.raises(ProblemError) as too_late:  # the board has decided: the decision is notified
        await _end(worker, case, EndReason.WITHDRAWN)
    assert too_late.value.status == 409
    outcome = await _result(worker, case)
    assert outcome.level == CareLevel.CARE_3
    application = await case.application()
    assert application.decision is not None and application.decision["change_reason"].startswith("認知症")
    await record_history(worker, case, "board_tie")


async def test_board_without_quorum_moves_the_case_to_the_next_meeting(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    time_skipping_env: WorkflowEnvironment, record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions)
    first, second = await seed_board(sessions, [await today(), await today() + timedelta(days=7)])
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.evidence(await today())
    await case.complete(TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today()))
    await case.vote("board-chair", CareLevel.CARE_2, 6)
    await case.vote("board-b", CareLevel.CARE_2, 6)
    await case.close_board()  # 2 of 5 present: no quorum (chair + majority)
    await case.open_task(TaskKind.BOARD_VOTE, assignee="board-chair")
    second_meeting = await today() + timedelta(days=7)
    with pytest.raises(ProblemError) as early:  # votes belong to the meeting: not before its date
        await case.vote("board-chair", CareLevel.CARE_2, 6)
    assert early.value.status == 409 and "開催日より前" in early.value.detail
    await time_skipping_env.sleep(timedelta(days=7))
    await _decide_by_board(case, CareLevel.CARE_2, 6, BOARD[:3])
    outcome = await _result(worker, case)
    assert outcome.level == CareLevel.CARE_2
    # Decided at the second meeting: the certification and its notice carry that date.
    async with sessions() as session:
        certified = await session.get(Certification, case.application_id)
    assert certified is not None and certified.decided_on == second_meeting
    (notice,) = await _notices(sessions, case)
    assert notice.data["decision_date"] == second_meeting.isoformat()
    steps = await _events(sessions, case)
    assert steps.count("board.allocated") == 2 and steps.count("board.tallied") == 2
    async with sessions() as session:
        used = (
            await session.exec(
                select(BoardAllocation.meeting_id).where(
                    BoardAllocation.application_id == case.application_id
                )
            )
        ).all()
    assert sorted(used) == [first, second]
    await record_history(worker, case, "no_quorum")


async def test_members_from_the_applying_office_are_recused(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_insured(sessions)
    await seed_board(sessions, [await today()])
    case: CaseDriver = await start(**renewal_fields(await today() + timedelta(days=40)))  # type: ignore[operator]
    await case.evidence(await today())
    await case.complete(TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today()))
    await case.open_task(TaskKind.BOARD_CLOSE)
    assert not await case.has_open_for("board-e")  # board-e works for the office that applied
    await _decide_by_board(case, CareLevel.CARE_2, 24, BOARD[:3])
    outcome = await _result(worker, case)
    # 更新: from the day after the current expiry (28条).
    assert outcome.valid_from == await today() + timedelta(days=41)


async def test_29_change_of_level_gets_a_category_change_notice(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions)
    await seed_board(sessions, [await today()])
    change = {
        "kind": "change",
        "previous_level": CareLevel.CARE_2,
        "previous_valid_to": await today() + timedelta(days=200),
    }
    case: CaseDriver = await start(**change)  # type: ignore[operator]
    await case.evidence(await today())
    await case.complete(
        TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today(), CareLevel.CARE_3)
    )
    await _decide_by_board(case, CareLevel.CARE_3, 6, BOARD[:3])
    outcome = await _result(worker, case)
    assert outcome.level == CareLevel.CARE_3 and outcome.valid_from == await today()  # 29条2項→27条8項
    (notice,) = await _notices(sessions, case)
    assert notice.kind == "category_change"
    assert (notice.data["previous_level"], notice.data["new_level"]) == ("要介護2", "要介護3")
    await record_history(worker, case, "category_change")


async def test_7_3_2_second_category_needs_a_specified_disease_confirmed_by_the_board(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions, insured_no="0300000002", category="2")
    await seed_board(sessions, [await today()])
    second = {
        "specified_disease": "16",
        "medical_insurer_no": "06010014",
        "medical_insurance_symbol": "12-345",
    }
    case: CaseDriver = await start("0300000002", **second)  # type: ignore[operator]
    await case.complete(TaskKind.SURVEY, survey_payload(await today()), actor="surveyor")
    await case.complete(
        TaskKind.OPINION_REQUEST,
        {
            "physician_name": "旭川 太郎",
            "institution_name": "旭川中央病院",
            "requested_on": (await today()).isoformat(),
        },
    )
    with pytest.raises(ProblemError) as no_disease:  # the physician must name the 特定疾病
        await case.complete(TaskKind.OPINION_RECEIPT, opinion_payload(await today()))
    assert no_disease.value.field == "payload.specified_disease"
    await case.complete(
        TaskKind.OPINION_RECEIPT, opinion_payload(await today()) | {"specified_disease": "16"}
    )
    await case.complete(
        TaskKind.PRIMARY_RESULT, primary_payload("0300000002", await today(), CareLevel.CARE_2)
    )
    for member in BOARD[:3]:
        await case.vote(member, CareLevel.CARE_2, 6)
    with pytest.raises(ProblemError) as unconfirmed:
        await case.close_board()
    assert unconfirmed.value.field == "payload.specified_disease_confirmed"
    await case.close_board(specified_disease_confirmed=False)
    outcome = await _result(worker, case)
    assert outcome.level == CareLevel.NOT_APPLICABLE  # not caused by a 特定疾病: not certified
    (notice,) = await _notices(sessions, case)
    assert notice.kind == "certification_denial" and "特定疾病" in notice.data["reasons"][0]
    await record_history(worker, case, "second_category_not_by_disease")


# -------------------------------------------------------------------------------- 30-day clock


async def test_27_11_delay_notice_before_the_deadline_and_again_when_the_estimate_slips(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    time_skipping_env: WorkflowEnvironment, record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    applied = await today()
    deadline = decision_deadline(applied)
    await time_skipping_env.sleep(timedelta(days=26))  # nothing decided as day 30 nears
    first_estimate = deadline + timedelta(days=14)
    await case.complete(
        TaskKind.DELAY_ESTIMATE,
        {"expected_by": first_estimate.isoformat(), "reason": "主治医意見書の提出が遅れているため"},
    )
    notices = await eventually(lambda: _notices(sessions, case))
    assert [n.kind for n in notices] == ["postponement"]
    assert notices[0].data["expected_by"] == first_estimate.isoformat()
    # 27条12項: with a notice sent in time, deemed rejection only after the announced period.
    deemed = await eventually(lambda: _deemed(case))
    assert deemed == first_estimate + timedelta(days=1)

    await time_skipping_env.sleep(timedelta(days=20))  # the estimate slipped
    second_estimate = first_estimate + timedelta(days=10)
    await case.complete(
        TaskKind.DELAY_ESTIMATE,
        {"expected_by": second_estimate.isoformat(), "reason": "審査会の再審査のため"},
    )
    both = await eventually(lambda: _count_notices(sessions, case, 2))
    assert [n.kind for n in both] == ["postponement", "postponement"]
    await _end(worker, case, EndReason.WITHDRAWN)
    await _result(worker, case)
    await record_history(worker, case, "delay_notices")


async def test_27_12_no_decision_and_no_notice_records_the_deemed_rejection_date(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    time_skipping_env: WorkflowEnvironment,
) -> None:  # fmt: skip
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    deadline = decision_deadline(await today())
    await time_skipping_env.sleep(timedelta(days=32))
    assert await eventually(lambda: _deemed(case)) == deadline + timedelta(days=1)
    await eventually(lambda: _has_event(sessions, case, "deadline.deemed_rejection"))
    assert await case.has_open(TaskKind.DELAY_ESTIMATE)  # a late notice still informs the applicant
    assert await _notices(sessions, case) == []


async def test_27_11_renewal_with_consent_omits_the_delay_notice(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    time_skipping_env: WorkflowEnvironment,
) -> None:  # fmt: skip
    await seed_insured(sessions)
    expiry, applied = await today() + timedelta(days=59), await today()
    case: CaseDriver = await start(**renewal_fields(expiry), renewal_delay_consent=True)  # type: ignore[operator]
    await time_skipping_env.sleep(timedelta(days=26))
    expected = decision_deadline(applied) + timedelta(days=10)  # before the current expiry
    await case.complete(
        TaskKind.DELAY_ESTIMATE, {"expected_by": expected.isoformat(), "reason": "調査日程の調整のため"}
    )
    await eventually(lambda: _has_event(sessions, case, "delay_notice.omitted"))
    assert await _notices(sessions, case) == []


async def test_delay_estimate_must_lie_beyond_the_30_days(
    start: Callable[..., object],
    sessions: async_sessionmaker[AsyncSession],
    time_skipping_env: WorkflowEnvironment,
) -> None:
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    applied = await today()
    await time_skipping_env.sleep(timedelta(days=26))
    with pytest.raises(ProblemError) as refused:
        await case.complete(
            TaskKind.DELAY_ESTIMATE,
            {"expected_by": decision_deadline(applied).isoformat(), "reason": "x"},
        )
    assert refused.value.status == 422 and refused.value.field == "payload.expected_by"


# ------------------------------------------------------------------------------- opinion reminder


async def test_overdue_opinion_opens_a_reminder_task(
    start: Callable[..., object],
    sessions: async_sessionmaker[AsyncSession],
    time_skipping_env: WorkflowEnvironment,
) -> None:
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.complete(
        TaskKind.OPINION_REQUEST,
        {
            "physician_name": "旭川 太郎",
            "institution_name": "旭川中央病院",
            "requested_on": (await today()).isoformat(),
            "due_on": (await today() + timedelta(days=14)).isoformat(),
        },
    )
    assert not await case.has_open(TaskKind.OPINION_REMINDER)
    await time_skipping_env.sleep(timedelta(days=16))
    reminder = await case.open_task(TaskKind.OPINION_REMINDER)
    assert reminder.candidate_role == "intake"
    await case.complete(
        TaskKind.OPINION_REMINDER, {"reminded_on": (await today()).isoformat(), "method": "phone"}
    )
    async with sessions() as session:
        receipt = (
            await session.exec(
                select(Task).where(Task.case_id == case.case_id, Task.kind == TaskKind.OPINION_RECEIPT)
            )
        ).one()
    assert receipt.state == TaskState.OPEN and receipt.due_at is not None


# ------------------------------------------------------------------------------------- endings


async def test_withdrawal_closes_open_tasks_and_sends_nothing(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession],
    record_history: Callable[..., object],
) -> None:  # fmt: skip
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.open_task(TaskKind.SURVEY)
    closed = await _end(worker, case, EndReason.WITHDRAWN, note="本人の申出")
    assert closed.outcome == ApplicationState.ENDED
    outcome = await _result(worker, case)
    assert outcome.state == ApplicationState.ENDED and outcome.end_reason == EndReason.WITHDRAWN
    async with sessions() as session:
        states = {
            t.kind: t.state
            for t in (await session.exec(select(Task).where(Task.case_id == case.case_id))).all()
        }
    assert set(states.values()) == {TaskState.CANCELLED}
    assert await _notices(sessions, case) == []
    header = await case.case()
    assert (header.state, header.outcome, header.stage) == ("closed", "ended", "ended")
    assert (await case.application()).end_reason == "withdrawn"
    with pytest.raises(ProblemError) as again:
        await _end(worker, case, EndReason.DEATH)
    assert again.value.status == 409
    await record_history(worker, case, "withdrawn")


async def test_withdrawal_at_once_leaves_no_task_open(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Withdrawn before the first step was even written: the tasks it opens and the cancellation are written
    together, and every task ends cancelled (none stays open in an inbox)."""
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    await _end(worker, case, EndReason.WITHDRAWN)
    async with sessions() as session:
        states = (await session.exec(select(Task.state).where(Task.case_id == case.case_id))).all()
    assert states and set(states) == {TaskState.CANCELLED}
    assert (await _result(worker, case)).end_reason == EndReason.WITHDRAWN


async def test_death_in_the_registry_ends_every_open_case(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    atena_no = await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.open_task(TaskKind.SURVEY)
    ended = await cases.end_open_cases(
        sessions=sessions,
        temporal=worker,
        atena_no=atena_no,
        reason=EndReason.DEATH,
        actor="intake",
        on=await today(),
    )
    assert [c.id for c in ended] == [case.case_id]
    assert (await _result(worker, case)).end_reason == EndReason.DEATH


# ---------------------------------------------------------------------------- update validation


async def test_invalid_payloads_and_closed_tasks_are_rejected_before_history(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    survey = await case.open_task(TaskKind.SURVEY)
    with pytest.raises(ProblemError) as invalid:
        await case.complete(TaskKind.SURVEY, {"schema_version": "2021"}, actor="surveyor")
    assert invalid.value.status == 422
    with pytest.raises(ProblemError):
        await case.complete(TaskKind.SURVEY, {"answers": {}}, actor="surveyor")
    history = await worker.get_workflow_handle(case.case_id).fetch_history()
    # Rejected by the validator: no update was accepted, nothing about it is in the history.
    assert not any(e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events)
    await case.evidence(await today())
    with pytest.raises(ProblemError) as closed:
        await tasks.complete(temporal=worker, task=survey, actor="surveyor", payload={})
    assert closed.value.status == 409
    primary_wrong = primary_payload("0300000001", await today(), CareLevel.CARE_2) | {
        "total_minutes": "20.0",
        "meal_minutes": "20.0",
    }
    with pytest.raises(ProblemError) as contradict:
        await case.complete(TaskKind.PRIMARY_RESULT, primary_wrong)
    assert contradict.value.status == 422 and contradict.value.field == "payload.level"


# ------------------------------------------------------------------------ rules wired as the law says


async def _simplified_on_the_agenda(case: CaseDriver, sessions: async_sessionmaker[AsyncSession]) -> bool:
    await case.evidence(await today())
    await case.complete(
        TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today(), CareLevel.CARE_2)
    )
    await case.open_task(TaskKind.BOARD_CLOSE)
    async with sessions() as session:
        (allocation,) = (
            await session.exec(
                select(BoardAllocation).where(BoardAllocation.application_id == case.application_id)
            )
        ).all()
    return allocation.simplified


@pytest.mark.parametrize(("previous_months", "simplified"), [(12, True), (6, False)])
async def test_simplified_review_needs_a_previous_validity_of_12_months(
    start: Callable[..., object],
    sessions: async_sessionmaker[AsyncSession],
    previous_months: int,
    simplified: bool,
) -> None:
    """審査会の簡素化 (老発0323第1号): a 第1号 renewal whose 一次判定 equals the previous level, and whose
    previous validity was 12 months or longer, goes to the board as a simplified case — counted against
    the meeting's simplified quota."""
    await seed_insured(sessions)
    await seed_board(sessions, [await today()])
    expiry = month_end(await today() + timedelta(days=40))
    year, month = add_months(expiry.year, expiry.month, 1 - previous_months)
    case: CaseDriver = await start(  # type: ignore[operator]
        **renewal_fields(expiry), previous_valid_from=date(year, month, 1)
    )
    assert await _simplified_on_the_agenda(case, sessions) is simplified


async def test_opinion_due_date_comes_from_the_policy_the_case_started_with(
    start: Callable[..., object], sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_insured(sessions)
    case: CaseDriver = await start(policy=CertificationPolicy(opinion_due_days=10))  # type: ignore[operator]
    requested = await today()
    await case.complete(
        TaskKind.OPINION_REQUEST,
        {
            "physician_name": "旭川 太郎",
            "institution_name": "旭川中央病院",
            "requested_on": requested.isoformat(),
        },
    )
    receipt = await case.open_task(TaskKind.OPINION_RECEIPT)
    assert receipt.due_at is not None and receipt.due_at.astimezone(JST).date() == requested + timedelta(
        days=10
    )
    application = await case.application()
    assert application.opinion_request is not None
    assert application.opinion_request["due_on"] == (requested + timedelta(days=10)).isoformat()


async def test_evidence_dated_before_the_application_or_in_the_future_is_refused(
    start: Callable[..., object], sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_insured(sessions)
    case: CaseDriver = await start()  # type: ignore[operator]
    applied = await today()
    for day, wording in ((applied - timedelta(days=1), "申請日"), (applied + timedelta(days=3), "未来")):
        with pytest.raises(ProblemError) as refused:
            await case.complete(TaskKind.SURVEY, survey_payload(day), actor="surveyor")
        assert refused.value.status == 422 and refused.value.field == "payload.overview.conducted_on"
        assert wording in refused.value.detail
    with pytest.raises(ProblemError) as early_opinion:
        await case.complete(
            TaskKind.OPINION_REQUEST,
            {
                "physician_name": "旭川 太郎",
                "institution_name": "病院",
                "requested_on": str(applied - timedelta(days=2)),
            },
        )
    assert early_opinion.value.field == "payload.requested_on"


async def test_a_notice_that_cannot_be_printed_becomes_a_task_not_an_endless_retry(
    start: Callable[..., object], worker: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A name written before the registry checked the typeface (an emoji) cannot be printed: staff get a
    task naming the problem; once the name is corrected, completing it issues the notice and decides."""
    atena_no = await seed_insured(sessions)
    async with sessions() as session, session.begin():
        person = await session.get(Person, atena_no)
        assert person is not None
        person.name_kanji = "髙橋 ハナ😀"
    await seed_board(sessions, [await today()])
    case: CaseDriver = await start()  # type: ignore[operator]
    await case.evidence(await today())
    await case.complete(TaskKind.PRIMARY_RESULT, primary_payload("0300000001", await today()))
    await _decide_by_board(case, CareLevel.CARE_2, 6, BOARD[:3])
    repair = await case.open_task(NOTICE_REPAIR)
    assert (
        repair.reference is not None
        and "認定結果通知書" in repair.reference
        and "U+1F600" in repair.reference
    )
    assert (await case.case()).state == "open" and await _notices(sessions, case) == []
    async with sessions() as session, session.begin():
        person = await session.get(Person, atena_no)
        assert person is not None
        person.name_kanji = "髙橋 ハナ"
    await case.complete(NOTICE_REPAIR, {"note": "氏名の絵文字を削除"})
    outcome = await _result(worker, case)
    assert outcome.state == ApplicationState.DECIDED and len(outcome.notice_ids) == 1
    assert "notice.failed" in await _events(sessions, case)
