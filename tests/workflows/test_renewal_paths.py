"""CertificationTermWorkflow (更新案内) paths on the time-skipping test server with its real activities on
PostgreSQL and the real notice renderer: reminders on their days, the lapse, renewal, replacement, withdrawal,
death, the city's policy.

Each path is driven as the certification cases and the registry would drive it (the listener's
`tell_terms`, the kernel's end_case); when RECORD_HISTORIES=1, each finished history is written to
tests/histories/ for the replay test. The reconciliation that starts terms: test_renewal_reconciliation.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from kaigo.config import Settings
from models.certification import CertificationEventKind
from models.renewal import Outcome, PolicyChanged, RenewalPolicy, Stage
from rules.certification import ApplicationKind
from rules.renewal import last_filing_day
from services import cases, renewal, tasks
from tests.certification_helpers import seed_insured
from tests.conftest import time_skipping_server
from tests.restriction_helpers import eventually
from tests.workflows.renewal_helpers import (
    Term,
    announce,
    certification_event,
    certify,
    decide,
    month_end_after,
    open_term,
    twelve_months_after,
)
from tests.workflows.time_skipping import (
    RecordHistory,
    history_recorder,
    own_task_queue,
    sleep_to,
    today,
)

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
    async with time_skipping_server() as env:
        yield env


# The time-skipping harness (time_skipping.py, conftest.py): the production workers on a task queue of this
# module's own, on the server above; today() on its clock.
pytestmark = pytest.mark.usefixtures("server_clock")


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    return own_task_queue(settings, "renew")


@pytest.fixture
def record_history() -> RecordHistory:
    """Histories recorded as renewal_<name>.json (RECORD_HISTORIES=1)."""
    return history_recorder("renewal")


# ------------------------------------------------------------------------------------------- paths


async def test_reminders_once_each_on_their_days_then_lapse_after_the_last_filing_day(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = month_end_after(await today() + timedelta(days=75), closed=True)  # filing runs later
    last = last_filing_day(expiry)
    assert last > expiry
    term = await open_term(
        worker, sessions, queue_settings, opened, await certify(sessions, INSURED, atena_no, expiry)
    )
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

    await sleep_to(time_skipping_env, first_day - timedelta(days=1))
    assert await term.notices() == []  # not a day early
    await sleep_to(time_skipping_env, first_day)
    await term.until_stage(Stage.NOTIFIED)
    notices = await term.notices()
    assert [(n.kind, n.issued_on, n.data["second_notice"]) for n in notices] == [
        ("expiry_reminder", first_day, False)
    ]
    assert (await term.record()).first_notice_no == notices[0].document_no
    assert (await term.case()).due_on == second_day

    await sleep_to(time_skipping_env, second_day)
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

    await sleep_to(time_skipping_env, last)  # after the expiry, still within 4条の2第4項
    assert (await term.case()).state == "open"
    await sleep_to(time_skipping_env, last + timedelta(days=1))
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
    expiry = month_end_after(await today() + timedelta(days=90))
    term = await open_term(
        worker, sessions, queue_settings, opened, await certify(sessions, INSURED, atena_no, expiry)
    )
    application_id = "a" * 32
    received = certification_event(
        CertificationEventKind.RECEIVED, application_id, INSURED, atena_no, await today()
    )
    await announce(worker, sessions, queue_settings, received)
    await term.until_stage(Stage.APPLICATION_PENDING)
    assert (await term.case()).due_on is None
    assert (await term.record()).application_id == application_id

    await sleep_to(time_skipping_env, expiry - timedelta(days=45))  # past the first-notice day
    assert await term.notices() == []
    new_id = await decide(
        worker, sessions, queue_settings, INSURED, atena_no, application_id, expiry, ApplicationKind.RENEWAL
    )
    outcome = await term.outcome()
    assert (outcome.outcome, outcome.successor_certification_id) == (Outcome.RENEWED, new_id)
    assert await term.notices() == []
    assert (await term.record()).successor_certification_id == new_id
    successor = Term(worker, sessions, renewal.term_case_id(new_id))
    opened.append(successor.case_id)
    header = await successor.until_stage(Stage.WAITING)
    assert header.due_on == twelve_months_after(expiry) - timedelta(days=60)
    await record_history(worker, term.case_id, "renewed_before_first_notice")


async def test_category_change_between_notices_stops_the_second_and_replaces_the_term(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = month_end_after(await today() + timedelta(days=70))
    term = await open_term(
        worker, sessions, queue_settings, opened, await certify(sessions, INSURED, atena_no, expiry)
    )
    await sleep_to(time_skipping_env, expiry - timedelta(days=60))
    await term.until_stage(Stage.NOTIFIED)
    application_id = "c" * 32
    received = certification_event(
        CertificationEventKind.RECEIVED,
        application_id,
        INSURED,
        atena_no,
        await today(),
        application_kind=ApplicationKind.CHANGE,
    )
    await announce(worker, sessions, queue_settings, received)
    await term.until_stage(Stage.APPLICATION_PENDING)
    await sleep_to(time_skipping_env, expiry - timedelta(days=25))  # past the second-notice day
    assert len(await term.notices()) == 1
    new_id = await decide(
        worker, sessions, queue_settings, INSURED, atena_no, application_id, expiry, ApplicationKind.CHANGE
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
    expiry = month_end_after(await today() + timedelta(days=90))
    term = await open_term(
        worker, sessions, queue_settings, opened, await certify(sessions, INSURED, atena_no, expiry)
    )
    application_id = "b" * 32
    await announce(
        worker,
        sessions,
        queue_settings,
        certification_event(
            CertificationEventKind.RECEIVED, application_id, INSURED, atena_no, await today()
        ),
    )
    await term.until_stage(Stage.APPLICATION_PENDING)
    await sleep_to(time_skipping_env, expiry - timedelta(days=20))  # both reminder days passed
    assert await term.notices() == []
    withdrawn_on = await today()
    await announce(
        worker,
        sessions,
        queue_settings,
        certification_event(
            CertificationEventKind.CLOSED_WITHOUT_CERTIFICATION,
            application_id,
            INSURED,
            atena_no,
            withdrawn_on,
        ),
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
    await sleep_to(time_skipping_env, last_filing_day(expiry) + timedelta(days=1))
    outcome = await term.outcome()
    assert outcome.outcome == Outcome.LAPSED
    assert len(await term.notices()) == 1
    await record_history(worker, term.case_id, "withdrawn_resumed")  # the run after continue-as-new


async def test_death_ends_the_term(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = month_end_after(await today() + timedelta(days=120))
    term = await open_term(
        worker, sessions, queue_settings, opened, await certify(sessions, INSURED, atena_no, expiry)
    )
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
    expiry = month_end_after(await today() + timedelta(days=65))
    certification_id = await certify(sessions, INSURED, atena_no, expiry, service_use=False)
    policy = RenewalPolicy(only_service_users=True)
    term = await open_term(worker, sessions, queue_settings, opened, certification_id, policy)
    header, record = await term.case(), await term.record()
    assert header.due_on == last_filing_day(expiry) and record.reminded is False
    await sleep_to(time_skipping_env, last_filing_day(expiry) + timedelta(days=1))
    outcome = await term.outcome()
    assert outcome.outcome == Outcome.LAPSED
    assert await term.notices() == [] and await term.open_follow_up() is None
    await record_history(worker, term.case_id, "policy_off")


async def test_policy_change_mid_term_moves_the_second_notice(
    worker: Client, sessions: async_sessionmaker[AsyncSession], queue_settings: Settings,
    time_skipping_env: WorkflowEnvironment, opened: list[str], record_history: Callable[..., Any],
) -> None:  # fmt: skip
    atena_no = await seed_insured(sessions, insured_no=INSURED)
    expiry = month_end_after(await today() + timedelta(days=70))
    term = await open_term(
        worker, sessions, queue_settings, opened, await certify(sessions, INSURED, atena_no, expiry)
    )
    await sleep_to(time_skipping_env, expiry - timedelta(days=60))
    await term.until_stage(Stage.NOTIFIED)
    policy = RenewalPolicy(second_notice_days_before_expiry=14)
    await worker.get_workflow_handle(term.case_id).signal("policy_changed", PolicyChanged(policy=policy))
    moved = expiry - timedelta(days=14)
    await term.until(lambda case, _: case.due_on == moved)
    await sleep_to(time_skipping_env, expiry - timedelta(days=20))
    assert len(await term.notices()) == 1  # not on the old day
    await sleep_to(time_skipping_env, moved)
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
    certification_id = await certify(
        sessions, INSURED, atena_no, month_end_after(await today() + timedelta(days=200))
    )
    term = await open_term(worker, sessions, queue_settings, opened, certification_id)
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
