"""Retention purge (seed: 保有する必要がなくなった情報は速やかに消去).

Removes persons taken off the register (除票) longer ago than the retention period, with everything keyed to
them, and closed tasks past retention.

The audit trail is never purged: it holds 宛名番号 only, so it stays a complete, verifiable chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import CaseEvent
from models.idempotency import IdempotencyRecord
from models.registry import Person
from models.security import RevokedToken
from models.task import Task, TaskState


def retention_cutoff(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 2月29日
        return date(today.year - years, 2, 28)


@dataclass(frozen=True)
class PurgeResult:
    cutoff: date
    persons: int
    tasks: int


async def purge(*, session: AsyncSession, today: date, years: int, dry_run: bool) -> PurgeResult:
    cutoff = retention_cutoff(today, years)
    stale_people = select(Person.atena_no).where(col(Person.removed_on) < cutoff)
    closed_before = datetime.combine(cutoff, time.min, tzinfo=UTC)
    stale_tasks = sa.or_(
        col(Task.subject_atena_no).in_(stale_people),
        sa.and_(col(Task.state) != TaskState.OPEN, col(Task.closed_at) < closed_before),
    )
    people = (await session.exec(select(sa.func.count()).select_from(stale_people.subquery()))).one()
    tasks = (await session.exec(select(sa.func.count()).select_from(Task).where(stale_tasks))).one()
    if not dry_run:
        # Notices, their PDFs and 欠番 records refuse DELETE except inside this purge (migration 0007).
        await session.exec(sa.text("SET LOCAL kaigo.retention_purge = 'on'"))  # type: ignore[call-overload]
        await session.exec(delete(Task).where(stale_tasks))
        await session.exec(delete(CaseEvent).where(col(CaseEvent.subject_atena_no).in_(stale_people)))
        # Insured rows, applications, certifications and notices (with their PDFs and 欠番 records) go with
        # the person (ON DELETE CASCADE), and so does the encrypted 個人番号 on the person row.
        await session.exec(delete(Person).where(col(Person.removed_on) < cutoff))
        # Short-lived records: stored Idempotency-Key responses (24 h) and revocations of expired tokens.
        now = datetime.now(UTC)
        await session.exec(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - timedelta(days=1))
        )
        await session.exec(delete(RevokedToken).where(col(RevokedToken.expires_at) < now))
    return PurgeResult(cutoff=cutoff, persons=people, tasks=tasks)
