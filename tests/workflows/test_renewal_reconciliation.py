"""The renewal reconciliation (RenewalReconcileWorkflow), which starts a CertificationTermWorkflow for every
certification that has none: on the dev server with the production workers (run twice and concurrently; a
term whose workflow never started), and on the time-skipping test server from a certification import through
every reminder to the day's print batch. Records no histories.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from kaigo import search_attributes, temporal_client
from kaigo.config import Settings
from kaigo.security.audit import AuditEntry
from kaigo.security.audit import Outcome as AuditOutcome
from models.certification_import import ImportChannel
from models.renewal import CertificationTerm, ReconcileInput, ReconcileResult, RenewalPolicy
from models.renewal_batch import RenewalBatchInput
from services import certification_import, renewal, renewal_batch
from tests.certification_helpers import seed_insured
from tests.conftest import time_skipping_server
from tests.restriction_helpers import eventually
from tests.workflows.renewal_helpers import Term, certify, month_end_after, valid_from
from tests.workflows.time_skipping import own_task_queue, sleep_to, today
from workflows.calendar import JST
from workflows.renewal import RECONCILE_SCHEDULE_ID
from workflows.renewal_batch import RenewalBatchWorkflow
from workflows.renewal_reconcile import RenewalReconcileWorkflow

INSURED = "0500000001"  # each test gets its own number (below): closed workflows outlive the database rows


@pytest.fixture(autouse=True)
def _insured_no(request: pytest.FixtureRequest) -> Iterator[None]:
    global INSURED
    INSURED = f"05{abs(hash(request.node.name)) % 10**8:08d}"
    yield


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this module's own, as test_renewal_paths.py has: the imported certifications' terms
    sleep for months, and a term another module's certification started (and left behind) must not hold this
    module's clock, nor these terms theirs."""
    async with time_skipping_server() as env:
        yield env


# The time-skipping harness (time_skipping.py, conftest.py): the production workers on a task queue of this
# module's own, on the server above; today() on its clock. The dev-server tests use the `running_worker`.
pytestmark = pytest.mark.usefixtures("server_clock")


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    return own_task_queue(settings, "renew")


# ------------------------------------------------------------------------- reconciliation (dev server)


async def test_reconciliation_twice_and_concurrently_starts_one_term_per_certification(
    dev_server_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession],
    running_worker: None,
) -> None:  # fmt: skip
    client = dev_server_env.client
    as_of = (await dev_server_env.get_current_time()).astimezone(JST).date()
    ids = []
    for n in range(3):
        insured_no = f"06{abs(hash(('reconcile', n, os.getpid()))) % 10**8:08d}"
        atena_no = await seed_insured(sessions, insured_no=insured_no)
        expiry = month_end_after(as_of + timedelta(days=200 + 31 * n))
        ids.append(await certify(sessions, insured_no, atena_no, expiry))
        if n == 0:  # an older certification of the same person, still valid: not a second term
            await certify(
                sessions,
                insured_no,
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
    base, start = await today(), INSURED
    expiries, numbers = [], []
    for n in range(3):  # three people, three expiries a month apart
        insured_no = f"{start[:-1]}{n}"
        await seed_insured(sessions, insured_no=insured_no)
        numbers.append(insured_no)
        expiries.append(month_end_after(base + timedelta(days=75 + 31 * n)))
    decided = base - timedelta(days=300)
    rows = [
        f"{no},要介護2,{valid_from(expiry)},{expiry},{decided},有"
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
        await sleep_to(time_skipping_env, day)
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
    insured_no = f"07{abs(hash(('stalled', os.getpid()))) % 10**8:08d}"
    atena_no = await seed_insured(sessions, insured_no=insured_no)
    certification_id = await certify(
        sessions, insured_no, atena_no, month_end_after(as_of + timedelta(days=200))
    )
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
