"""CertificationTermWorkflow (更新案内) on the time-skipping test server with its real activities on
PostgreSQL and the real notice renderer; the reconciliation against the dev server.

Each path is driven as the certification cases and the registry would drive it (the listener's
`tell_terms`, the kernel's end_case); when RECORD_HISTORIES=1, each finished history is written to
tests/histories/ for the replay test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.renewal import tell_terms
from kaigo import embedded, search_attributes, temporal_client
from kaigo.config import Settings
from kaigo.security.audit import AuditEntry
from kaigo.security.audit import Outcome as AuditOutcome
from models.case import CaseEvent, CaseRecord
from models.certification import (
    Certification,
    CertificationEvent,
    CertificationEventKind,
    CertificationRecord,
)
from models.certification_import import ImportChannel
from models.notice import NoticeRecord
from models.renewal import (
    CertificationTerm,
    Outcome,
    PolicyChanged,
    ReconcileInput,
    ReconcileResult,
    RenewalPolicy,
    Stage,
    TermOutcome,
)
from models.renewal_batch import RenewalBatchInput
from models.renewal_tasks import RenewalTask
from models.task import Task, TaskState
from notice_worker import build_thread_worker as build_notice_worker
from rules.calendar import add_months, is_city_holiday, month_end
from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel
from rules.renewal import last_filing_day
from services import cases, certification_import, renewal, renewal_batch, tasks
from tests.certification_helpers import seed_insured
from tests.conftest import TEST_SETTINGS
from tests.restriction_helpers import eventually
from worker import build_worker
from workflows.calendar import JST
from workflows.renewal import RECONCILE_SCHEDULE_ID
from workflows.renewal_batch import RenewalBatchWorkflow
from workflows.renewal_reconcile import RenewalReconcileWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
INSURED = "0500000001"  # each test gets its own number (below): closed workflows outlive the database rows


@pytest.fixture(autouse=True)
def _insured_no(request: pytest.FixtureRequest) -> Iterator[None]:
    global INSURED
    INSURED = f"05{abs(hash(request.node.name)) % 10**8:08d}"
    yield


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this module's own: terms sleep for months, and a term another module's
    certification started (and left behind) must not hold this module's clock, nor these terms theirs."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(embedded.venv_bin("temporal-test-server")),
        data_converter=temporal_client.data_converter(TEST_SETTINGS),
    )
    await search_attributes.add_search_attributes(env.client, "default", search_attributes.ALL_KEYS)
    yield env
    await env.shutdown()


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": f"renew-{os.getpid()}-{id(settings)}"})


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment,
    queue_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Client]:
    client = time_skipping_env.client
    async with (
        build_worker(client, queue_settings, sessions),
        build_notice_worker(client, queue_settings, sessions),
    ):
        yield client


_clock: WorkflowEnvironment | None = None


async def today() -> date:
    assert _clock is not None
    return (await _clock.get_current_time()).astimezone(JST).date()


@pytest.fixture(autouse=True)
def _use_test_server_clock(time_skipping_env: WorkflowEnvironment) -> Iterator[None]:
    global _clock
    _clock = time_skipping_env
    yield
    _clock = None


@pytest.fixture
async def opened(worker: Client) -> AsyncIterator[list[str]]:
    """Term ids the test started: terminated at the end (a running term would hold the shared clock)."""
    started: list[str] = []
    yield started
    for workflow_id in started:
        with contextlib.suppress(RPCError):
            await worker.get_workflow_handle(workflow_id).terminate("test finished")


@pytest.fixture
def record_history() -> Callable[[Client, str, str], Any]:
    async def record(client: Client, workflow_id: str, name: str) -> None:
        if os.environ.get("RECORD_HISTORIES") != "1":
            return
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"renewal_{name}.json").write_text(history.to_json())

    return record


# ------------------------------------------------------------------------------------------- helpers


def _month_end_after(day: date, *, closed: bool = False) -> date:
    """The first month end on or after `day` (validity periods end on one); `closed`: one on which the
    city office is closed, so the last filing day moves (地方自治法4条の2第4項)."""
    end = month_end(day)
    while closed and not is_city_holiday(end):
        end = month_end(end + timedelta(days=1))
    return end


def _valid_from(valid_to: date) -> date:
    """A 12-month period ending on `valid_to`."""
    year, month = add_months(valid_to.year, valid_to.month, -11)
    return date(year, month, 1)


def _twelve_months_after(valid_to: date) -> date:
    year, month = add_months(valid_to.year, valid_to.month, 12)
    return month_end(date(year, month, 1))


async def _certify(
    sessions: async_sessionmaker[AsyncSession],
    atena_no: str,
    valid_to: date,
    *,
    suffix: str = "0",
    service_use: bool = True,
    decided_on: date | None = None,
) -> str:
    certification_id = f"{INSURED}{suffix * 22}"
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=certification_id,
                atena_no=atena_no,
                insured_no=INSURED,
                level="要介護2",
                valid_from=_valid_from(valid_to),
                valid_to=valid_to,
                decided_on=decided_on or valid_to - timedelta(days=380),
                service_use_last_year=service_use,
            )
        )
    return certification_id


class Term:
    def __init__(self, client: Client, sessions: async_sessionmaker[AsyncSession], case_id: str) -> None:
        self.client, self.sessions, self.case_id = client, sessions, case_id

    async def case(self) -> CaseRecord:
        async with self.sessions() as session:
            case = await session.get(CaseRecord, self.case_id)
            assert case is not None
            return case

    async def record(self) -> CertificationTerm:
        async with self.sessions() as session:
            row = await session.get(CertificationTerm, self.case_id)
            assert row is not None
            return row

    async def notices(self) -> list[NoticeRecord]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(NoticeRecord)
                .where(NoticeRecord.case_id == self.case_id)
                .order_by(col(NoticeRecord.created_at))
            )
            return list(rows.all())

    async def steps(self) -> list[str]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(CaseEvent.step).where(CaseEvent.case_id == self.case_id).order_by(col(CaseEvent.id))
            )
            return list(rows.all())

    async def asleep(self) -> bool:
        """Its workflow has run its first task: the history holds the timer it sleeps on."""
        history = await self.client.get_workflow_handle(self.case_id).fetch_history()
        return any(event.HasField("timer_started_event_attributes") for event in history.events)

    async def until(self, probe: Callable[[CaseRecord, CertificationTerm], bool]) -> CaseRecord:
        async def reached() -> CaseRecord | None:
            case, record = await self.case(), await self.record()
            return case if probe(case, record) else None

        found: CaseRecord = await eventually(reached)
        return found

    async def until_stage(self, stage: str) -> CaseRecord:
        return await self.until(lambda case, _: case.stage == stage)

    async def open_follow_up(self) -> Task | None:
        async with self.sessions() as session:
            return (
                await session.exec(
                    select(Task).where(
                        Task.case_id == self.case_id,
                        Task.kind == RenewalTask.FOLLOW_UP,
                        col(Task.state) == TaskState.OPEN,
                    )
                )
            ).first()

    async def outcome(self) -> TermOutcome:
        return await self.client.get_workflow_handle(self.case_id, result_type=TermOutcome).result()


async def _start(
    worker: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    opened: list[str],
    certification_id: str,
    policy: RenewalPolicy | None = None,
) -> Term:
    started = await renewal.start_term(
        sessions=sessions,
        temporal=worker,
        certification_id=certification_id,
        policy=policy or RenewalPolicy(),
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
    )
    assert started.created and started.case_id, started
    opened.append(started.case_id)
    term = Term(worker, sessions, started.case_id)
    assert await eventually(term.asleep)  # its first run set the timer to its next date
    return term


def _event(
    kind: CertificationEventKind,
    application_id: str,
    atena_no: str,
    on: date,
    *,
    application_kind: ApplicationKind = ApplicationKind.RENEWAL,
    certification: CertificationRecord | None = None,
) -> CertificationEvent:
    return CertificationEvent(
        kind=kind,
        case_id=f"certification-{application_id}",
        application_id=application_id,
        application_kind=application_kind,
        atena_no=atena_no,
        insured_no=INSURED,
        category=InsuredCategory.FIRST,
        on=on,
        certification=certification,
    )


async def _tell(
    worker: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings, event: CertificationEvent
) -> None:
    """What the certification case's announcement activity does (twice: it is retried as a whole)."""
    for _ in range(2):
        await tell_terms(
            worker,
            sessions,
            event,
            policy=RenewalPolicy(),
            office=settings.office_code,
            task_queue=settings.temporal_task_queue,
        )


async def _decide(
    worker: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    atena_no: str,
    application_id: str,
    old_valid_to: date,
    application_kind: ApplicationKind,
) -> str:
    """A new certification decided on that application: its row, then the announcement."""
    on = await today()
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=application_id,
                atena_no=atena_no,
                insured_no=INSURED,
                level="要介護3",
                valid_from=old_valid_to + timedelta(days=1),
                valid_to=_twelve_months_after(old_valid_to),
                decided_on=on,
            )
        )
    record = CertificationRecord(
        application_id=application_id,
        atena_no=atena_no,
        insured_no=INSURED,
        level=CareLevel("要介護3"),
        valid_from=old_valid_to + timedelta(days=1),
        valid_to=_twelve_months_after(old_valid_to),
        board_opinion=None,
        service_types=[],
        decided_on=on,
    )
    event = _event(
        CertificationEventKind.CERTIFIED,
        application_id,
        atena_no,
        on,
        application_kind=application_kind,
        certification=record,
    )
    await _tell(worker, sessions, settings, event)
    return application_id


async def _sleep_to(env: WorkflowEnvironment, day: date, hour: int = 10) -> None:
    """Skip the shared clock to `day` at `hour` JST."""
    now = await env.get_current_time()
    target = (now.astimezone(JST).replace(hour=hour, minute=0, second=0, microsecond=0)) + timedelta(
        days=(day - now.astimezone(JST).date()).days
    )
    if target > now:
        await env.sleep(target - now)


# ------------------------------------------------------------------------------------------- paths


async def test_reminders_once_each_on_their_days_then_lapse_after_the_last_filing_day(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=75), closed=True)  # filing runs later
    last = last_filing_day(expiry)
    assert last > expiry
    term = await _start(worker, sessions, queue_settings, opened, await _certify(sessions, atena_no, expiry))
    first_day, second_day = expiry - timedelta(days=60), expiry - timedelta(days=30)
    header = await term.case()
    assert (header.stage, header.due_on, header.details) == (
        Stage.WAITING,
        first_day,
        f"更新案内 {first_day.month}/{first_day.day} 送付予定",
    )
    record = await term.record()
    assert (record.expiry, record.last_filing_day, record.next_reminder_on) == (expiry, last, first_day)
    # Its starter wrote that opening (rows and search attributes): the term's first run only set its timer,
    # one workflow task where 25,000 terms at once took three (bench/bench_renewal.py).
    history = await worker.get_workflow_handle(term.case_id).fetch_history()
    kinds = [event.WhichOneof("attributes") for event in history.events]
    assert "activity_task_scheduled_event_attributes" not in kinds
    assert kinds.count("workflow_task_completed_event_attributes") == 1
    assert kinds[-1] == "timer_started_event_attributes"
    assert await term.steps() == ["renewal.opened"]

    await _sleep_to(time_skipping_env, first_day - timedelta(days=1))
    assert await term.notices() == []  # not a day early
    await _sleep_to(time_skipping_env, first_day)
    await term.until_stage(Stage.NOTIFIED)
    notices = await term.notices()
    assert [(n.kind, n.issued_on, n.data["second_notice"]) for n in notices] == [
        ("expiry_reminder", first_day, False)
    ]
    assert (await term.record()).first_notice_no == notices[0].document_no
    assert (await term.case()).due_on == second_day

    await _sleep_to(time_skipping_env, second_day)
    await term.until_stage(Stage.SECOND_NOTIFIED)
    notices = await term.notices()
    assert [(n.issued_on, n.data["second_notice"]) for n in notices] == [
        (first_day, False),
        (second_day, True),
    ]
    task = await eventually(term.open_follow_up)
    await tasks.complete(
        temporal=worker,
        task=task,
        actor="intake",
        payload={"contacted": "care_manager", "outcome": "not_reached", "note": "不在"},
    )
    await term.until(lambda _, record: record.follow_up_outcome == "not_reached")
    assert (await term.case()).due_on == last

    await _sleep_to(time_skipping_env, last)  # after the expiry, still within 4条の2第4項
    assert (await term.case()).state == "open"
    await _sleep_to(time_skipping_env, last + timedelta(days=1))
    outcome = await term.outcome()
    assert outcome.outcome == Outcome.LAPSED
    header, record = await term.case(), await term.record()
    assert (header.state, header.stage, record.state) == ("closed", Stage.LAPSED, Stage.LAPSED)
    assert record.closed_on == last + timedelta(days=1)
    assert len(await term.notices()) == 2  # each once
    await record_history(worker, term.case_id, "lapsed")


async def test_renewed_before_the_first_notice_sends_nothing_and_starts_the_next_term(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=90))
    term = await _start(worker, sessions, queue_settings, opened, await _certify(sessions, atena_no, expiry))
    application_id = "a" * 32
    received = _event(CertificationEventKind.RECEIVED, application_id, atena_no, await today())
    await _tell(worker, sessions, queue_settings, received)
    await term.until_stage(Stage.APPLICATION_PENDING)
    assert (await term.case()).due_on is None
    assert (await term.record()).application_id == application_id

    await _sleep_to(time_skipping_env, expiry - timedelta(days=45))  # past the first-notice day
    assert await term.notices() == []
    new_id = await _decide(
        worker, sessions, queue_settings, atena_no, application_id, expiry, ApplicationKind.RENEWAL
    )
    outcome = await term.outcome()
    assert (outcome.outcome, outcome.successor_certification_id) == (Outcome.RENEWED, new_id)
    assert await term.notices() == []
    assert (await term.record()).successor_certification_id == new_id
    successor = Term(worker, sessions, renewal.term_case_id(new_id))
    opened.append(successor.case_id)
    header = await successor.until_stage(Stage.WAITING)
    assert header.due_on == _twelve_months_after(expiry) - timedelta(days=60)
    await record_history(worker, term.case_id, "renewed_before_first_notice")


async def test_category_change_between_notices_stops_the_second_and_replaces_the_term(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=70))
    term = await _start(worker, sessions, queue_settings, opened, await _certify(sessions, atena_no, expiry))
    await _sleep_to(time_skipping_env, expiry - timedelta(days=60))
    await term.until_stage(Stage.NOTIFIED)
    application_id = "c" * 32
    received = _event(
        CertificationEventKind.RECEIVED,
        application_id,
        atena_no,
        await today(),
        application_kind=ApplicationKind.CHANGE,
    )
    await _tell(worker, sessions, queue_settings, received)
    await term.until_stage(Stage.APPLICATION_PENDING)
    await _sleep_to(time_skipping_env, expiry - timedelta(days=25))  # past the second-notice day
    assert len(await term.notices()) == 1
    new_id = await _decide(
        worker, sessions, queue_settings, atena_no, application_id, expiry, ApplicationKind.CHANGE
    )
    outcome = await term.outcome()
    assert outcome.outcome == Outcome.REPLACED
    assert (await term.case()).stage == Stage.REPLACED
    assert len(await term.notices()) == 1
    assert await term.open_follow_up() is None
    successor = Term(worker, sessions, renewal.term_case_id(new_id))
    opened.append(successor.case_id)
    await successor.until_stage(Stage.WAITING)
    await record_history(worker, term.case_id, "replaced_by_category_change")


async def test_withdrawn_application_resumes_reminding_and_skipped_reminders_go_out_once(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=90))
    term = await _start(worker, sessions, queue_settings, opened, await _certify(sessions, atena_no, expiry))
    application_id = "b" * 32
    await _tell(
        worker,
        sessions,
        queue_settings,
        _event(CertificationEventKind.RECEIVED, application_id, atena_no, await today()),
    )
    await term.until_stage(Stage.APPLICATION_PENDING)
    await _sleep_to(time_skipping_env, expiry - timedelta(days=20))  # both reminder days passed
    assert await term.notices() == []
    withdrawn_on = await today()
    await _tell(
        worker,
        sessions,
        queue_settings,
        _event(CertificationEventKind.CLOSED_WITHOUT_CERTIFICATION, application_id, atena_no, withdrawn_on),
    )
    await term.until(lambda case, _: case.stage == Stage.NOTIFIED and case.due_on is not None)
    notices = await term.notices()
    assert [(n.issued_on, n.data["second_notice"]) for n in notices] == [(withdrawn_on, False)]  # once
    assert await eventually(term.open_follow_up) is not None  # past the second-notice day: staff call
    assert (await term.record()).application_id is None
    steps = await term.steps()
    assert "renewal.application_filed" in steps and "renewal.application_closed" in steps
    # Completing the call lets the term lapse afterwards without further notices.
    task = await term.open_follow_up()
    assert task is not None
    await tasks.complete(
        temporal=worker, task=task, actor="intake", payload={"contacted": "person", "outcome": "declined"}
    )
    await _sleep_to(time_skipping_env, last_filing_day(expiry) + timedelta(days=1))
    outcome = await term.outcome()
    assert outcome.outcome == Outcome.LAPSED
    assert len(await term.notices()) == 1
    await record_history(worker, term.case_id, "withdrawn_resumed")  # the run after continue-as-new


async def test_death_ends_the_term(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=120))
    term = await _start(worker, sessions, queue_settings, opened, await _certify(sessions, atena_no, expiry))
    ended = await cases.end_open_cases(
        sessions=sessions,
        temporal=worker,
        atena_no=atena_no,
        reason="death",
        actor="registry",
        on=await today(),
    )
    assert term.case_id in [case.id for case in ended]
    outcome = await term.outcome()
    assert (outcome.outcome, outcome.end_reason) == (Outcome.ENDED, "death")
    header = await term.case()
    assert (header.state, header.stage) == ("closed", Stage.ENDED)
    assert await term.notices() == []
    await record_history(worker, term.case_id, "death")


async def test_policy_only_service_users_sends_nothing_but_still_marks_the_lapse(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=65))
    certification_id = await _certify(sessions, atena_no, expiry, service_use=False)
    policy = RenewalPolicy(only_service_users=True)
    term = await _start(worker, sessions, queue_settings, opened, certification_id, policy)
    header, record = await term.case(), await term.record()
    assert header.due_on == last_filing_day(expiry) and record.reminded is False
    await _sleep_to(time_skipping_env, last_filing_day(expiry) + timedelta(days=1))
    outcome = await term.outcome()
    assert outcome.outcome == Outcome.LAPSED
    assert await term.notices() == [] and await term.open_follow_up() is None
    await record_history(worker, term.case_id, "policy_off")


async def test_policy_change_mid_term_moves_the_second_notice(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = _month_end_after(await today() + timedelta(days=70))
    term = await _start(worker, sessions, queue_settings, opened, await _certify(sessions, atena_no, expiry))
    await _sleep_to(time_skipping_env, expiry - timedelta(days=60))
    await term.until_stage(Stage.NOTIFIED)
    policy = RenewalPolicy(second_notice_days_before_expiry=14)
    await worker.get_workflow_handle(term.case_id).signal("policy_changed", PolicyChanged(policy=policy))
    moved = expiry - timedelta(days=14)
    await term.until(lambda case, _: case.due_on == moved)
    await _sleep_to(time_skipping_env, expiry - timedelta(days=20))
    assert len(await term.notices()) == 1  # not on the old day
    await _sleep_to(time_skipping_env, moved)
    await term.until_stage(Stage.SECOND_NOTIFIED)
    assert [n.issued_on for n in await term.notices()] == [expiry - timedelta(days=60), moved]
    await cases.end_open_cases(
        sessions=sessions, temporal=worker, atena_no=atena_no, reason="lost_status", actor="registry",
        on=await today(),
    )  # fmt: skip
    assert (await term.outcome()).outcome == Outcome.ENDED
    await record_history(worker, term.case_id, "policy_changed")


async def test_a_second_start_for_the_same_certification_is_the_same_term(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings, opened: list[str]
) -> None:
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    certification_id = await _certify(
        sessions, atena_no, _month_end_after(await today() + timedelta(days=200))
    )
    term = await _start(worker, sessions, queue_settings, opened, certification_id)
    again = await renewal.start_term(
        sessions=sessions,
        temporal=worker,
        certification_id=certification_id,
        policy=RenewalPolicy(),
        office=queue_settings.office_code,
        task_queue=queue_settings.temporal_task_queue,
    )
    assert (again.case_id, again.created) == (term.case_id, False)
    assert term.case_id == f"renewal-{certification_id}"


# ------------------------------------------------------------------------- reconciliation (dev server)


async def test_reconciliation_twice_and_concurrently_starts_one_term_per_certification(
    dev_server_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession],
    running_worker: None,
) -> None:  # fmt: skip
    client = dev_server_env.client
    as_of = (await dev_server_env.get_current_time()).astimezone(JST).date()
    ids = []
    for n in range(3):
        global INSURED
        INSURED = f"06{abs(hash(('reconcile', n, os.getpid()))) % 10**8:08d}"
        atena_no = await seed_insured(sessions, insured_no=INSURED)
        ids.append(await _certify(sessions, atena_no, _month_end_after(as_of + timedelta(days=200 + 31 * n))))
        if n == 0:  # an older certification of the same person, still valid: not a second term
            await _certify(
                sessions,
                atena_no,
                as_of + timedelta(days=30),
                suffix="1",
                decided_on=as_of - timedelta(days=400),
            )
    reconcile = ReconcileInput(
        office=settings.office_code, task_queue=settings.temporal_task_queue, as_of=as_of
    )

    async def run(n: int) -> ReconcileResult:
        return await client.execute_workflow(
            RenewalReconcileWorkflow.run,
            reconcile,
            id=f"{RECONCILE_SCHEDULE_ID}-test-{os.getpid()}-{n}",
            task_queue=settings.temporal_task_queue,
        )

    try:
        results = await asyncio.gather(run(1), run(2))
        again = await run(3)
        assert sum(r.started_count for r in results) == 3 and again.started_count == 0
        async with sessions() as session:
            terms = (
                await session.exec(
                    select(CertificationTerm.certification_id).where(
                        col(CertificationTerm.certification_id).in_([*ids, ids[0][:10] + "1" * 22])
                    )
                )
            ).all()
        assert sorted(terms) == sorted(ids)
        for certification_id in ids:
            case_id = renewal.term_case_id(certification_id)
            description = await client.get_workflow_handle(case_id).describe()
            assert description.status is not None and description.status.name == "RUNNING"
        # What a supervisor filters by in the Temporal UI: sleeping terms by their next reminder date.
        wanted = {renewal.term_case_id(c) for c in ids}
        query = "CaseType = 'renewal' AND ExecutionStatus = 'Running' AND DueDate > '2000-01-01T00:00:00Z'"

        async def listed() -> dict[str, Any] | None:
            found = {w.id: w.typed_search_attributes async for w in client.list_workflows(query)}
            return found if wanted <= set(found) else None

        found = await eventually(listed)
        for case_id in wanted:
            due = found[case_id].get(search_attributes.DUE_DATE)
            assert due is not None and due.astimezone(JST).date() > as_of  # the first reminder, ahead
    finally:
        for certification_id in ids:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(renewal.term_case_id(certification_id)).terminate("test")


# ------------------------------------------------------------------- import → terms → reminders → batch


async def test_imported_certifications_get_each_reminder_once_on_its_day_and_the_days_batch(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str],
) -> None:  # fmt: skip
    """Issue 11's "done when": a city adopts kaigo-flow mid-stream with a CSV of certifications that expire
    on different dates; the reconciliation starts a term for each; every reminder goes out once, on its day
    (first at the window's opening, 28条2項; second 30 days before the expiry), and the day's print batch
    holds exactly that day's reminders."""
    global INSURED
    base, start = await today(), INSURED
    expiries, numbers = [], []
    for n in range(3):  # three people, three expiries a month apart
        INSURED = f"{start[:-1]}{n}"
        await seed_insured(sessions, insured_no=INSURED)
        numbers.append(INSURED)
        expiries.append(_month_end_after(base + timedelta(days=75 + 31 * n)))
    decided = base - timedelta(days=300)
    rows = [
        f"{no},要介護2,{_valid_from(expiry)},{expiry},{decided},有"
        for no, expiry in zip(numbers, expiries, strict=True)
    ]
    header = "被保険者番号,要介護状態区分,有効期間開始日,有効期間終了日,認定日,サービス利用"
    csv = "\r\n".join([header, *rows]).encode()

    def entry(outcome: AuditOutcome, detail: dict[str, Any]) -> AuditEntry:
        return AuditEntry(
            actor="test", action="certification.import", outcome=outcome, resource="t", detail=detail
        )

    _, counts = await certification_import.import_file(
        sessions,
        io.BytesIO(csv),
        encoding=None,
        key=lambda s: hashlib.sha256(s.encode()).hexdigest(),
        actor="test",
        channel=ImportChannel.CLI,
        audit_entry=entry,
        today=base,
    )
    assert counts.added == 3
    result = await worker.execute_workflow(
        RenewalReconcileWorkflow.run,
        ReconcileInput(
            office=queue_settings.office_code, task_queue=queue_settings.temporal_task_queue, as_of=base
        ),
        id=f"{RECONCILE_SCHEDULE_ID}-import-{os.getpid()}",
        task_queue=queue_settings.temporal_task_queue,
    )
    assert result.started_count == 3
    async with sessions() as session:
        term_rows = (
            await session.exec(
                select(CertificationTerm).where(col(CertificationTerm.insured_no).in_(numbers))
            )
        ).all()
    by_expiry = {row.expiry: Term(worker, sessions, row.case_id) for row in term_rows}
    opened.extend(term.case_id for term in by_expiry.values())
    assert sorted(by_expiry) == sorted(expiries)

    # (day, expiry, second notice?) of every reminder due; two people's may fall on the same day.
    due = sorted((expiry - timedelta(days=d), expiry, d == 30) for expiry in expiries for d in (60, 30))
    insured_of = {row.expiry: row.insured_no for row in term_rows}
    for day in sorted({d for d, _, _ in due}):
        await _sleep_to(time_skipping_env, day)
        today_due = [(e, second) for d, e, second in due if d == day]
        for expiry, _ in today_due:
            await eventually(lambda term=by_expiry[expiry], day=day: _issued_on(term, day))
        # Every reminder issued so far is exactly one of those due so far: none early, none twice.
        issued = []
        for expiry, term in by_expiry.items():
            issued += [(n.issued_on, expiry, n.data["second_notice"]) for n in await term.notices()]
        assert sorted(issued) == [r for r in due if r[0] <= day]
        batch = await worker.execute_workflow(
            RenewalBatchWorkflow.run,
            RenewalBatchInput(day=day),
            id=f"renewal-batch-import-{os.getpid()}-{day.isoformat()}",
            task_queue=queue_settings.temporal_task_queue,
        )
        assert batch.export_id is not None, batch
        # The day's print batch holds this day's reminders of these people, and none of their other ones
        # (it also takes any other unprinted reminder of the shared database, up to that day).
        async with sessions() as session:
            rows = await renewal_batch.list_rows(
                session=session, batch=await renewal_batch.get_batch(session=session, day=day)
            )
        mine = sorted((r.insured_no, r.issued_on, r.second_notice) for r in rows if r.insured_no in numbers)
        assert mine == sorted((insured_of[e], day, second) for e, second in today_due)


async def _issued_on(term: Term, day: date) -> bool:
    return any(n.issued_on == day for n in await term.notices())


async def test_reconciliation_starts_a_term_whose_workflow_never_started(
    dev_server_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession],
    running_worker: None,
) -> None:  # fmt: skip
    """Temporal was unreachable (or the process died) after the term's rows were committed and before its
    workflow started: the next reconciliation starts it, once, and marks it started."""
    client = dev_server_env.client
    as_of = (await dev_server_env.get_current_time()).astimezone(JST).date()
    global INSURED
    INSURED = f"07{abs(hash(('stalled', os.getpid()))) % 10**8:08d}"
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    certification_id = await _certify(sessions, atena_no, _month_end_after(as_of + timedelta(days=200)))
    case_id = renewal.term_case_id(certification_id)
    down = await Client.connect(  # Temporal unreachable at the start
        "127.0.0.1:1", lazy=True, data_converter=temporal_client.data_converter(settings)
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever the outage looks like, the rows stay
        await renewal.start_term(
            sessions=sessions, temporal=down, certification_id=certification_id, policy=RenewalPolicy(),
            office=settings.office_code, task_queue=settings.temporal_task_queue,
        )  # fmt: skip
    term = Term(client, sessions, case_id)
    assert not (await term.record()).workflow_started
    with pytest.raises(RPCError):
        await client.get_workflow_handle(case_id).describe()
    reconcile = ReconcileInput(
        office=settings.office_code, task_queue=settings.temporal_task_queue, as_of=as_of
    )

    async def run(n: int) -> ReconcileResult:
        return await client.execute_workflow(
            RenewalReconcileWorkflow.run, reconcile, id=f"{RECONCILE_SCHEDULE_ID}-stalled-{os.getpid()}-{n}",
            task_queue=settings.temporal_task_queue,
        )  # fmt: skip

    try:
        await run(1)
        assert (await term.record()).workflow_started
        assert await eventually(term.asleep)
        description = await client.get_workflow_handle(case_id).describe()
        assert description.status is not None and description.status.name == "RUNNING"
        first_run = description.run_id
        await run(2)  # nothing left to start: the same run goes on
        assert (await client.get_workflow_handle(case_id).describe()).run_id == first_run
        assert await term.steps() == ["renewal.opened"]  # the opening was written once, by the start
    finally:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(case_id).terminate("test")
