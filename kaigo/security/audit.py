"""The audit chain: append entries in the caller's transaction, verify the whole chain later.

Each row's hash is SHA-256 over the previous row's hash and this row's canonical JSON. Appends take a
transaction-scoped advisory lock, so concurrent writers are serialised and the chain has one order (the id
order). Call `append` as late as possible in a transaction: the lock is held until commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from models.security import AuditEvent

Outcome = Literal["success", "failure", "denied", "throttled"]

GENESIS_HASH = "0" * 64
_AUDIT_LOCK = 0x61756469  # "audi"


@dataclass
class AuditEntry:
    actor: str
    action: str
    outcome: Outcome
    resource: str
    roles: str = ""
    subject_atena_no: str | None = None
    request_id: str | None = None
    client_addr: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def row_hash(prev_hash: str, *, id: int, entry: AuditEntry | AuditEvent) -> str:
    body = {
        "id": id,
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor": entry.actor,
        "roles": entry.roles,
        "action": entry.action,
        "outcome": entry.outcome,
        "subject_atena_no": entry.subject_atena_no,
        "resource": entry.resource,
        "request_id": entry.request_id,
        "client_addr": entry.client_addr,
        "detail": entry.detail,
    }
    return hashlib.sha256((prev_hash + _canonical(body)).encode()).hexdigest()


async def append(session: AsyncSession, entries: Iterable[AuditEntry]) -> None:
    entries = list(entries)
    if not entries:
        return
    await session.exec(sa.text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_AUDIT_LOCK))
    last = await session.exec(sa.text("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1"))
    prev_hash = last.scalar_one_or_none() or GENESIS_HASH
    for entry in entries:
        next_id = (await session.exec(sa.text("SELECT nextval('audit_event_id_seq')"))).scalar_one()
        digest = row_hash(prev_hash, id=next_id, entry=entry)
        session.add(
            AuditEvent(
                id=next_id,
                at=entry.at,
                actor=entry.actor,
                roles=entry.roles,
                action=entry.action,
                outcome=entry.outcome,
                subject_atena_no=entry.subject_atena_no,
                resource=entry.resource,
                request_id=entry.request_id,
                client_addr=entry.client_addr,
                detail=entry.detail,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    await session.flush()


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_at: int | None  # id of the first row whose link does not hold
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_rows(rows: Iterator[AuditEvent]) -> ChainReport:
    """Walk rows in id order; report the first row that was altered, inserted or follows a removed row."""
    prev_hash, count = GENESIS_HASH, 0
    for row in rows:
        count += 1
        if row.prev_hash != prev_hash:
            return ChainReport(
                count, row.id, "prev_hash does not match the previous row (row removed or reordered)"
            )
        if row_hash(prev_hash, id=row.id, entry=row) != row.hash:
            return ChainReport(count, row.id, "hash does not match the row's contents (row altered)")
        prev_hash = row.hash
    return ChainReport(count, None, None)


def verify_database(database_url: str) -> ChainReport:
    """Stream the whole table (server-side cursor) and verify the chain."""
    from sqlalchemy import create_engine, pool
    from sqlmodel import Session, select

    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            rows = session.exec(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
            return verify_rows(iter(rows))
    finally:
        engine.dispose()
