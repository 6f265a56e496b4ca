"""Reading the audit trail (点検): search by actor, subject, action and period."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.security import AuditEvent


async def search(
    *,
    session: AsyncSession,
    actor: str | None,
    subject_atena_no: str | None,
    action: str | None,
    outcome: str | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[AuditEvent], int]:
    conditions: list[sa.ColumnElement[bool]] = []
    if actor:
        conditions.append(col(AuditEvent.actor) == actor)
    if subject_atena_no:
        conditions.append(col(AuditEvent.subject_atena_no) == subject_atena_no)
    if action:
        conditions.append(col(AuditEvent.action) == action)
    if outcome:
        conditions.append(col(AuditEvent.outcome) == outcome)
    if since:
        conditions.append(col(AuditEvent.at) >= since)
    if until:
        conditions.append(col(AuditEvent.at) < until)
    total = (await session.exec(select(sa.func.count()).select_from(AuditEvent).where(*conditions))).one()
    rows = await session.exec(
        select(AuditEvent).where(*conditions).order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    )
    return list(rows.all()), total
