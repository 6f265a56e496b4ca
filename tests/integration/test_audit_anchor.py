"""Anchoring the audit chain outside PostgreSQL, on the Temporal dev server: a superuser who deletes the
newest rows (or rewrites the tail with recomputed hashes) is caught by `kaigo audit verify`; and the
schedule helper the periodic procedures share makes exactly one schedule however many workers start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import psycopg
import pytest
from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from cli.audit_anchors import anchors_from
from cli.main import app as cli
from kaigo import embedded, migrate
from kaigo.db import make_engine, make_sessionmaker
from kaigo.schedules import ensure_schedule
from kaigo.security import audit
from kaigo.security.audit import AuditEntry, row_hash, verify_database
from kaigo.security.audit_chain import chain_once
from periodic import PERIODIC_WORKFLOWS, periodic_activities
from workflows.audit_anchor import AuditAnchorWorkflow, anchor_schedule_id


@pytest.fixture
async def chained_database(create_database: Callable[[str], str]) -> str:
    url = create_database("kaigo_anchor")
    migrate.upgrade_to_head(url)
    engine = make_engine(url, pool_size=1)
    async with make_sessionmaker(engine)() as session, session.begin():
        entries = [
            AuditEntry(actor=f"clerk{i}", action="person.read", outcome="success", resource="r")
            for i in range(6)
        ]
        await audit.append(session, entries)
    await engine.dispose()
    await chain_once(url)
    return url


@pytest.fixture
async def anchor_worker(
    dev_server_env: WorkflowEnvironment, chained_database: str
) -> AsyncIterator[tuple[Client, str]]:
    """The production anchor workflow and activity, on a task queue of this test, reading that database."""
    engine = make_engine(chained_database, pool_size=2)
    task_queue = f"anchor-{uuid.uuid4().hex[:8]}"
    async with Worker(
        dev_server_env.client,
        task_queue=task_queue,
        workflows=PERIODIC_WORKFLOWS,
        activities=periodic_activities(make_sessionmaker(engine)),
    ):
        yield dev_server_env.client, task_queue
    await engine.dispose()


async def _anchor_now(client: Client, task_queue: str, schedule_id: str) -> None:
    """What the schedule does every AUDIT_ANCHOR_MINUTES, triggered now; waits until the run is listed."""
    handle = await ensure_schedule(
        client, schedule_id, AuditAnchorWorkflow.run, task_queue=task_queue, every=timedelta(hours=1)
    )
    await handle.trigger()
    query = f"WorkflowId STARTS_WITH '{schedule_id}' AND ExecutionStatus = 'Completed'"
    for _ in range(100):
        if [w async for w in client.list_workflows(query)]:
            await handle.delete()
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the anchor run did not complete")


def _superuser_sql(url: str, statement: str) -> None:
    with psycopg.connect(embedded.libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # triggers off: an attacker with superuser
        conn.execute(statement)


async def test_deleting_the_newest_rows_is_caught_by_the_anchor(
    anchor_worker: tuple[Client, str], chained_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, task_queue = anchor_worker
    schedule_id = anchor_schedule_id(task_queue)  # as the worker names it
    await _anchor_now(client, task_queue, schedule_id)
    anchors = await anchors_from(client, schedule_id)
    assert [(a.seq, len(a.hash)) for a in anchors] == [(6, 64)]
    assert verify_database(chained_database, anchors=anchors).intact

    _superuser_sql(chained_database, "DELETE FROM audit_event WHERE chain_seq > 4")
    assert verify_database(chained_database).intact  # the chain alone cannot see a missing tail …
    report = verify_database(chained_database, anchors=anchors)  # … the anchor can
    assert not report.intact and report.reason is not None
    assert "chain ends at chain_seq 4" in report.reason and "chain_seq 6 was anchored" in report.reason

    # The operator's command reads the anchors from Temporal by itself.
    monkeypatch.setenv("DATABASE_URL", chained_database)
    monkeypatch.setenv("TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", task_queue)
    from kaigo.config import get_settings

    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "verify"])
        assert result.exit_code == 1, result.output
        assert (
            "BROKEN at the end of the chain" in result.output and "newest rows were removed" in result.output
        )
        assert "1 anchors checked" in result.output
    finally:
        get_settings.cache_clear()


async def test_a_rewritten_tail_with_recomputed_hashes_is_caught_by_the_anchor(
    anchor_worker: tuple[Client, str], chained_database: str
) -> None:
    client, task_queue = anchor_worker
    schedule_id = anchor_schedule_id(task_queue)
    await _anchor_now(client, task_queue, schedule_id)
    anchors = await anchors_from(client, schedule_id)

    # The attacker edits row 5 and recomputes the hashes of rows 5 and 6: the chain itself is consistent.
    with psycopg.connect(embedded.libpq_url(chained_database)) as conn:
        rows = conn.execute("SELECT id, chain_seq, prev_hash FROM audit_event ORDER BY chain_seq").fetchall()
    _superuser_sql(chained_database, f"UPDATE audit_event SET actor = 'nobody' WHERE id = {rows[4][0]}")
    from sqlalchemy import create_engine, text

    engine = create_engine(chained_database)
    with engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))
        prev = rows[4][2]
        for row in conn.execute(
            text("SELECT * FROM audit_event WHERE chain_seq >= 5 ORDER BY chain_seq")
        ).all():
            digest = row_hash(prev, id=row.id, entry=row)
            conn.execute(
                text("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": digest, "id": row.id},
            )
            prev = digest
    engine.dispose()
    assert verify_database(chained_database).intact
    report = verify_database(chained_database, anchors=anchors)
    assert report.broken_at == rows[5][0] and report.reason is not None and "rewritten" in report.reason


async def test_a_schedule_ensured_by_two_workers_at_once_exists_once(temporal: Client) -> None:
    schedule_id = f"periodic-test-{uuid.uuid4().hex[:8]}"

    def ensure(every: timedelta) -> object:
        return ensure_schedule(
            temporal, schedule_id, AuditAnchorWorkflow.run, task_queue="nowhere", every=every
        )

    await asyncio.gather(ensure(timedelta(minutes=5)), ensure(timedelta(minutes=5)))
    listed = [s async for s in await temporal.list_schedules() if s.id == schedule_id]
    assert len(listed) == 1
    handle = temporal.get_schedule_handle(schedule_id)
    described = await handle.describe()
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=5)]

    # A worker started with newer settings brings the schedule to them.
    await ensure(timedelta(minutes=7))
    described = await handle.describe()
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=7)]
    await handle.delete()
