"""Retention purge: 除票 persons past retention go, with their records; the audit chain stays intact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cli.operator_jobs import run_purge
from kaigo.config import Settings
from kaigo.security.audit import verify_database
from models.registry import Insured, Person
from models.security import AuditEvent
from models.task import Task, TaskState
from services.retention import retention_cutoff
from tests.factories import insured_payload, person_payload


def test_cutoff_counts_whole_years_and_survives_leap_days() -> None:
    assert retention_cutoff(date(2026, 11, 26), 5) == date(2021, 11, 26)
    assert retention_cutoff(date(2028, 2, 29), 5) == date(2023, 2, 28)


async def test_purge_removes_old_removed_persons_with_their_records(
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
) -> None:
    intake = as_staff("intake")
    old, recent, living = [
        (await intake.post("/persons", json=person_payload())).json()["atena_no"] for _ in "abc"
    ]
    for atena in (old, recent, living):
        await intake.post("/insured", json=insured_payload(atena))
    await intake.put(f"/persons/{old}/my-number", json={"my_number": "000000000019"})
    await intake.post(f"/persons/{old}/removal", json={"removed_on": "2015-03-31", "removal_reason": "death"})
    await intake.post(
        f"/persons/{recent}/removal", json={"removed_on": "2026-01-31", "removal_reason": "moved_out"}
    )
    async with sessions() as session, session.begin():
        session.add(
            Task(
                case_id="c1",
                workflow_id="w1",
                kind="survey",
                candidate_role="surveyor",
                subject_atena_no=old,
                insured_no=insured_payload(old)["insured_no"],
                state=TaskState.CANCELLED,
            )
        )

    dry = await run_purge(settings, database_url, dry_run=True)
    assert (dry.persons, dry.tasks) == (1, 1)
    async with sessions() as session:
        assert await session.get(Person, old) is not None  # a dry run deletes nothing

    result = await run_purge(settings, database_url, dry_run=False)
    assert (result.persons, result.tasks) == (1, 1)
    async with sessions() as session:
        assert await session.get(Person, old) is None
        assert (await session.exec(select(Insured).where(Insured.atena_no == old))).first() is None
        assert (await session.exec(select(Task).where(Task.subject_atena_no == old))).first() is None
        assert await session.get(Person, recent) is not None and await session.get(Person, living) is not None
        # The audit trail still names the purged person by key only, and the chain is whole.
        kept = (await session.exec(select(AuditEvent).where(AuditEvent.subject_atena_no == old))).all()
        assert {r.action for r in kept} >= {"person.create", "mynumber.link", "person.removal"}
        purge_rows = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "retention.purge"))
        ).all()
        assert purge_rows[-1].detail["persons"] == 1
    assert verify_database(database_url).intact
