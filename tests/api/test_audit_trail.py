"""The audit trail: every personal-data read leaves a row, rows are append-only and hash-chained after
commit by one chainer, and `kaigo audit verify` finds the first row altered, removed or reordered directly
in PostgreSQL, and rows left unchained."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from cli.main import app as cli
from kaigo import embedded, migrate
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security import audit
from kaigo.security.audit import AuditEntry, verify_database
from kaigo.security.audit_chain import AuditChainer, chain_once
from models.security import AuditEvent
from tests.factories import insured_payload, person_payload


async def _rows(sessions: async_sessionmaker[AsyncSession], request_id: str) -> list[AuditEvent]:
    async with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(col(AuditEvent.id))
        return list((await session.exec(query)).all())


async def test_every_personal_data_read_leaves_one_row_per_person(
    as_staff: Callable[[str], httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    intake = as_staff("intake")
    people = [
        (await intake.post("/persons", json=person_payload(name_kana=f"カンサ {k}"))).json() for k in "アイウ"
    ]
    await intake.post("/insured", json=insured_payload(people[0]["atena_no"]))

    reads = {
        "one": ("GET", f"/persons/{people[0]['atena_no']}", None),
        "search": ("GET", "/persons?kana=かんさ", None),
        "insured": ("GET", f"/insured/{insured_payload(people[0]['atena_no'])['insured_no']}", None),
        "insured-search": ("GET", "/insured?kana=かんさ", None),
    }
    for name, (method, url, body) in reads.items():
        response = await intake.request(method, url, json=body, headers={"X-Request-ID": f"read-{name}-0001"})
        assert response.status_code == 200
    subjects = {
        name: [r.subject_atena_no for r in await _rows(sessions, f"read-{name}-0001")] for name in reads
    }
    all_three = sorted(p["atena_no"] for p in people)
    assert subjects["one"] == [people[0]["atena_no"]]
    assert sorted(subjects["search"]) == all_three
    assert subjects["insured"] == subjects["insured-search"] == [people[0]["atena_no"]]
    row = (await _rows(sessions, "read-one-0001"))[0]
    assert (row.actor, row.roles, row.action, row.outcome) == ("intake", "intake", "person.read", "success")
    assert row.client_addr == "192.0.2.10"
    assert row.at.tzinfo is not None and abs(row.at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_failed_write_leaves_no_success_row(
    as_staff: Callable[[str], httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    payload = person_payload()
    intake = as_staff("intake")
    await intake.post("/persons", json=payload)
    again = await intake.post("/persons", json=payload, headers={"X-Request-ID": "dup-create-0001"})
    assert again.status_code == 409
    assert await _rows(sessions, "dup-create-0001") == []


async def test_audit_search_by_actor_subject_and_period(as_staff: Callable[[str], httpx.AsyncClient]) -> None:
    person = (await as_staff("intake").post("/persons", json=person_payload())).json()["atena_no"]
    await as_staff("restriction").get(f"/persons/{person}")
    supervisor = as_staff("supervisor")
    by_subject = (await supervisor.get("/audit-events", params={"subject": person})).json()
    assert {(i["actor"], i["action"]) for i in by_subject["items"]} == {
        ("intake", "person.create"),
        ("restriction", "person.read"),
    }
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    by_actor = (await supervisor.get("/audit-events", params={"actor": "restriction", "since": since})).json()
    assert by_actor["total"] >= 1 and all(i["actor"] == "restriction" for i in by_actor["items"])
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await supervisor.get("/audit-events", params={"since": future})).json()["total"] == 0


def _entry(action: str = "test.row", **overrides: object) -> AuditEntry:
    return AuditEntry(actor="t", action=action, outcome="success", resource="t", **overrides)  # type: ignore[arg-type]


async def test_the_app_role_cannot_change_or_remove_audit_rows_but_chain_each_once(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with sessions() as session, session.begin():
        await audit.append(session, [_entry("test.unchained")])
    unchained = "(SELECT id FROM audit_event WHERE action = 'test.unchained')"
    refused = [
        "UPDATE audit_event SET actor = 'mallory' WHERE action = 'test.unchained'",
        # Chain columns together with anything else: refused even on an unchained row.
        f"UPDATE audit_event SET chain_seq = 999999, prev_hash = 'p', hash = 'h', actor = 'mallory' "
        f"WHERE id = {unchained}",
        "DELETE FROM audit_event WHERE action = 'test.unchained'",
        "TRUNCATE audit_event",
        # A row cannot be inserted already chained: only the chainer links rows.
        "INSERT INTO audit_event (at, actor, roles, action, outcome, resource, detail, chain_seq, prev_hash,"
        " hash) VALUES (now(), 'm', '', 'forged', 'success', 'r', '{}', 999999, 'p', 'h')",
    ]
    for statement in refused:
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only|permission denied|inserted unchained"):
                await session.exec(sa.text(statement))  # type: ignore[call-overload]

    assert await chain_once(database_url) is not None  # the chainer sets the chain columns once …
    for statement in (
        f"UPDATE audit_event SET prev_hash = '{'0' * 64}' WHERE id = {unchained}",
        f"UPDATE audit_event SET chain_seq = NULL, prev_hash = NULL, hash = NULL WHERE id = {unchained}",
    ):
        async with sessions() as session:  # … and nobody, the chainer included, sets them again
            with pytest.raises(DBAPIError, match="append-only"):
                await session.exec(sa.text(statement))  # type: ignore[call-overload]


async def test_concurrent_writers_keep_one_unbroken_chain(
    as_staff: Callable[[str], httpx.AsyncClient], database_url: str
) -> None:
    intake = as_staff("intake")
    responses = await asyncio.gather(*(intake.post("/persons", json=person_payload()) for _ in range(20)))
    assert {r.status_code for r in responses} == {201}
    before = await asyncio.to_thread(verify_database, database_url)
    assert before.intact and before.unchained >= 20  # written by the requests, not chained yet
    await chain_once(database_url)
    report = await asyncio.to_thread(verify_database, database_url)
    assert report.intact and report.unchained == 0 and report.rows >= before.rows + 20


async def test_a_row_committed_after_a_later_one_is_still_chained(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """The lock-free design's hard case: ids are taken in one order, commits land in another."""
    async with sessions() as slow:
        await slow.begin()
        await audit.append(slow, [_entry("test.slow")])  # smaller id, still uncommitted
        async with sessions() as fast, fast.begin():
            await audit.append(fast, [_entry("test.fast")])
        await chain_once(database_url)  # chains the committed row; the slow one is not visible yet
        await slow.commit()
    await chain_once(database_url)
    async with sessions() as session:
        rows = {
            r.action: r
            for r in (
                await session.exec(
                    select(AuditEvent).where(col(AuditEvent.action).in_(["test.slow", "test.fast"]))
                )
            ).all()
        }
    assert rows["test.slow"].id < rows["test.fast"].id  # type: ignore[operator]
    assert rows["test.slow"].chain_seq > rows["test.fast"].chain_seq  # type: ignore[operator]
    report = verify_database(database_url)
    assert report.intact and report.unchained == 0


async def test_one_chainer_leads_among_many_and_another_takes_over(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    chainers = [AuditChainer(database_url, interval=0.05, standby=0.1) for _ in range(3)]
    stops = [asyncio.Event() for _ in chainers]
    tasks = [asyncio.create_task(c.run(stop)) for c, stop in zip(chainers, stops, strict=True)]

    async def wait_for(condition: Callable[[], bool]) -> None:
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("timed out")

    async def all_chained() -> bool:
        return (await asyncio.to_thread(verify_database, database_url)).unchained == 0

    try:
        await wait_for(lambda: any(c.is_leader for c in chainers))
        await asyncio.sleep(0.3)
        assert sum(c.is_leader for c in chainers) == 1
        async with sessions() as session, session.begin():
            await audit.append(session, [_entry("test.leader") for _ in range(3)])
        for _ in range(100):
            if await all_chained():
                break
            await asyncio.sleep(0.05)
        assert await all_chained()

        leader = next(i for i, c in enumerate(chainers) if c.is_leader)
        stops[leader].set()
        await tasks[leader]
        await wait_for(lambda: any(c.is_leader for i, c in enumerate(chainers) if i != leader))
        async with sessions() as session, session.begin():
            await audit.append(session, [_entry("test.follower")])
        for _ in range(100):
            if await all_chained():
                break
            await asyncio.sleep(0.05)
        assert await all_chained()
        assert verify_database(database_url).intact
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)


@pytest.fixture
async def tampered_database(create_database: Callable[[str], str]) -> str:
    """A database of its own: tampering would break the shared test database's chain for later tests."""
    url = create_database("kaigo_tamper")
    migrate.upgrade_to_head(url)
    engine = make_engine(url, pool_size=1)
    async with make_sessionmaker(engine)() as session, session.begin():
        entries = [
            AuditEntry(actor=f"clerk{i}", action="person.read", outcome="success", resource="r")
            for i in range(5)
        ]
        await audit.append(session, entries)
    await engine.dispose()
    await chain_once(url)
    return url


def _superuser_sql(url: str, statement: str) -> None:
    # An attacker with superuser rights: disables triggers for this session, then edits the table.
    with psycopg.connect(embedded.libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement)


def test_kaigo_audit_verify_reports_the_first_altered_row(
    tampered_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", tampered_database)
    from kaigo.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    try:
        intact = runner.invoke(cli, ["audit", "verify", "--no-anchors"])
        assert intact.exit_code == 0 and "audit chain intact: 5 rows" in intact.output

        ids = [
            r[0]
            for r in psycopg.connect(embedded.libpq_url(tampered_database)).execute(
                "SELECT id FROM audit_event ORDER BY chain_seq"
            )
        ]
        _superuser_sql(
            tampered_database, f"UPDATE audit_event SET actor = 'someone-else' WHERE id = {ids[2]}"
        )
        broken = runner.invoke(cli, ["audit", "verify", "--no-anchors"])
        assert broken.exit_code == 1
        assert f"BROKEN at id {ids[2]}" in broken.output and "altered" in broken.output
    finally:
        get_settings.cache_clear()


def test_a_deleted_row_breaks_the_next_link(tampered_database: str) -> None:
    with psycopg.connect(embedded.libpq_url(tampered_database)) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM audit_event ORDER BY chain_seq")]
    _superuser_sql(tampered_database, f"DELETE FROM audit_event WHERE id = {ids[1]}")
    report = verify_database(tampered_database)
    assert report.broken_at == ids[2]
    assert report.reason is not None and "removed" in report.reason


def test_reordered_rows_break_the_chain_at_the_first_moved_row(tampered_database: str) -> None:
    with psycopg.connect(embedded.libpq_url(tampered_database)) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM audit_event ORDER BY chain_seq")]
    _superuser_sql(
        tampered_database,
        f"UPDATE audit_event SET chain_seq = -1 WHERE id = {ids[1]}; "
        f"UPDATE audit_event SET chain_seq = 2 WHERE id = {ids[2]}; "
        f"UPDATE audit_event SET chain_seq = 3 WHERE id = {ids[1]}",
    )
    report = verify_database(tampered_database)
    assert report.broken_at == ids[2] and report.reason is not None and "reordered" in report.reason


def test_verify_reports_rows_left_unchained_too_long(
    tampered_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def write_old_row() -> None:
        engine = make_engine(tampered_database, pool_size=1)
        async with make_sessionmaker(engine)() as session, session.begin():
            await audit.append(session, [_entry(at=datetime.now(UTC) - timedelta(minutes=10))])
        await engine.dispose()

    asyncio.run(write_old_row())
    report = verify_database(tampered_database, max_lag=timedelta(minutes=5))
    assert report.intact and not report.complete and report.stale_unchained == 1
    monkeypatch.setenv("DATABASE_URL", tampered_database)
    from kaigo.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audit", "verify", "--no-anchors"])
        assert result.exit_code == 1 and "waited more than 300 s to be chained" in result.output
        assert CliRunner().invoke(cli, ["audit", "chain"]).output.strip() == "chained 1 rows"
        assert CliRunner().invoke(cli, ["audit", "verify", "--no-anchors"]).exit_code == 0
    finally:
        get_settings.cache_clear()
