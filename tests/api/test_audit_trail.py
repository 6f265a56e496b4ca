"""The audit trail: every personal-data read leaves a row, rows are append-only and hash-chained, and
`kaigo audit verify` finds the first row altered directly in PostgreSQL."""

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

from kaigo import embedded, migrate
from kaigo.cli import app as cli
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security import audit
from kaigo.security.audit import AuditEntry, verify_database
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


async def test_the_app_role_cannot_change_or_remove_audit_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await audit.append(
            session, [AuditEntry(actor="t", action="test.row", outcome="success", resource="t")]
        )
    for statement in (
        "UPDATE audit_event SET actor = 'mallory' WHERE action = 'test.row'",
        "DELETE FROM audit_event WHERE action = 'test.row'",
        "TRUNCATE audit_event",
    ):
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only|permission denied"):
                await session.exec(sa.text(statement))  # type: ignore[call-overload]


async def test_concurrent_writers_keep_one_unbroken_chain(
    as_staff: Callable[[str], httpx.AsyncClient], database_url: str
) -> None:
    intake = as_staff("intake")
    responses = await asyncio.gather(*(intake.post("/persons", json=person_payload()) for _ in range(20)))
    assert {r.status_code for r in responses} == {201}
    report = await asyncio.to_thread(verify_database, database_url)
    assert report.intact and report.rows >= 20


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
        intact = runner.invoke(cli, ["audit", "verify"])
        assert intact.exit_code == 0 and "audit chain intact: 5 rows" in intact.output

        ids = [
            r[0]
            for r in psycopg.connect(embedded.libpq_url(tampered_database)).execute(
                "SELECT id FROM audit_event ORDER BY id"
            )
        ]
        _superuser_sql(
            tampered_database, f"UPDATE audit_event SET actor = 'someone-else' WHERE id = {ids[2]}"
        )
        broken = runner.invoke(cli, ["audit", "verify"])
        assert broken.exit_code == 1
        assert f"BROKEN at id {ids[2]}" in broken.output and "altered" in broken.output
    finally:
        get_settings.cache_clear()


def test_a_deleted_row_breaks_the_next_link(tampered_database: str) -> None:
    with psycopg.connect(embedded.libpq_url(tampered_database)) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM audit_event ORDER BY id")]
    _superuser_sql(tampered_database, f"DELETE FROM audit_event WHERE id = {ids[1]}")
    report = verify_database(tampered_database)
    assert report.broken_at == ids[2]
    assert report.reason is not None and "removed" in report.reason
