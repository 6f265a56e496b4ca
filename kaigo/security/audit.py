"""The audit chain: rows inserted in the caller's transaction, chained after commit, verified later.

A request only INSERTs its rows (no lock, no read of the chain head), so audited requests never wait for
each other. One chainer (kaigo/security/audit_chain.py: the leader among the API processes) then links the
rows that have become visible: it numbers them (`chain_seq`) and sets `prev_hash`/`hash`, where `hash` is
SHA-256 over the previous row's hash and this row's canonical JSON. Rows are chained in the order the
chainer first sees them committed, so a transaction that commits after a later one is chained in the next
pass instead of being skipped. A trigger lets the chain columns be set once and refuses every other change.

`verify_rows` walks `chain_seq` order and names the first row altered, removed or reordered; it also checks
the chain heads anchored outside PostgreSQL (workflows/audit_anchor.py), which catches the removal of the
newest rows and a rewrite of the tail, and `verify_database` reports rows left unchained too long.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from models.security import AuditEvent

Outcome = Literal["success", "failure", "denied", "throttled"]

GENESIS_HASH = "0" * 64
CHAIN_BATCH = 500

_TABLE: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]


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


def row_hash(prev_hash: str, *, id: int, entry: Any) -> str:
    """`entry`: anything with the audit columns as attributes (an AuditEvent, a fetched row)."""
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
    """Insert the entries, unchained, in the caller's transaction: they exist exactly if it commits."""
    for entry in entries:
        session.add(
            AuditEvent(
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
            )
        )
    await session.flush()


# ---------------------------------------------------------------------------------------------- chaining


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


async def chain_head(conn: AsyncConnection) -> ChainHead | None:
    row = (
        await conn.execute(
            sa.select(_TABLE.c.chain_seq, _TABLE.c.hash)
            .where(_TABLE.c.chain_seq.is_not(None))
            .order_by(_TABLE.c.chain_seq.desc())
            .limit(1)
        )
    ).first()
    return ChainHead(row[0], row[1]) if row else None


async def chain_pending(conn: AsyncConnection, *, batch: int = CHAIN_BATCH) -> int:
    """Chain every committed row that is not chained yet; returns how many were chained.

    Each batch is one transaction that continues from the head it reads. Two chainers at once cannot fork
    the chain: `chain_seq` is unique and a row's chain columns can be set only once, so the second one's
    transaction fails and nothing of it remains.
    """
    chained = 0
    while True:
        async with conn.begin():
            head = await chain_head(conn)
            seq, prev = (head.seq, head.hash) if head else (0, GENESIS_HASH)
            rows = (
                await conn.execute(
                    sa.select(_TABLE).where(_TABLE.c.chain_seq.is_(None)).order_by(_TABLE.c.id).limit(batch)
                )
            ).mappings()
            links = []
            for row in rows:
                seq += 1
                digest = row_hash(prev, id=row["id"], entry=SimpleNamespace(**row))
                links.append({"row_id": row["id"], "seq": seq, "prev": prev, "digest": digest})
                prev = digest
            if links:
                await conn.execute(
                    _TABLE.update()
                    .where(_TABLE.c.id == sa.bindparam("row_id"))
                    .values(
                        chain_seq=sa.bindparam("seq"),
                        prev_hash=sa.bindparam("prev"),
                        hash=sa.bindparam("digest"),
                    ),
                    links,
                )
        chained += len(links)
        if len(links) < batch:
            return chained


# ------------------------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded outside PostgreSQL (the result of one AuditAnchorWorkflow run)."""

    seq: int
    hash: str
    anchored_at: datetime


@dataclass(frozen=True)
class ChainReport:
    rows: int  # chained rows walked
    broken_at: int | None  # id of the first row whose link does not hold (None if no row can be named)
    reason: str | None
    unchained: int = 0  # rows not chained yet (normal for about a second after their commit)
    stale_unchained: int = 0  # of those, rows older than the allowed lag: the chainer is not running
    oldest_stale_id: int | None = None
    anchors_checked: int = 0

    @property
    def intact(self) -> bool:
        """No tampering found (rows not chained yet are not tampering; see `complete`)."""
        return self.reason is None

    @property
    def complete(self) -> bool:
        return self.stale_unchained == 0


def _short(digest: str) -> str:
    return digest[:12] + "…"


def verify_rows(rows: Iterator[Any], anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Walk chained rows in chain_seq order; report the first row altered, removed or reordered, then any
    anchored head the chain no longer contains."""
    by_seq = {a.seq: a for a in anchors}
    prev_hash, expected, count, last_id = GENESIS_HASH, 1, 0, None
    for row in rows:
        count += 1
        if row.chain_seq != expected:
            return ChainReport(
                count,
                row.id,
                f"chain_seq jumps from {expected - 1} to {row.chain_seq}: row(s) removed before this one",
                anchors_checked=len(anchors),
            )
        if row.prev_hash != prev_hash:
            return ChainReport(
                count,
                row.id,
                "prev_hash does not match the previous row (row removed or reordered)",
                anchors_checked=len(anchors),
            )
        if row_hash(prev_hash, id=row.id, entry=row) != row.hash:
            return ChainReport(
                count,
                row.id,
                "hash does not match the row's contents (row altered)",
                anchors_checked=len(anchors),
            )
        anchor = by_seq.get(row.chain_seq)
        if anchor is not None and anchor.hash != row.hash:
            return ChainReport(
                count,
                row.id,
                f"differs from the head anchored at {anchor.anchored_at:%Y-%m-%d %H:%M} UTC "
                f"(chain_seq {anchor.seq}, hash {_short(anchor.hash)}): the chain was rewritten up to here",
                anchors_checked=len(anchors),
            )
        prev_hash, expected, last_id = row.hash, expected + 1, row.id
    missing = [a for a in anchors if a.seq >= expected]
    if missing:
        newest = max(missing, key=lambda a: a.seq)
        return ChainReport(
            count,
            None,
            f"the chain ends at chain_seq {expected - 1} (id {last_id}) but chain_seq {newest.seq} was "
            f"anchored at {newest.anchored_at:%Y-%m-%d %H:%M} UTC (hash {_short(newest.hash)}): "
            "the newest rows were removed",
            anchors_checked=len(anchors),
        )
    return ChainReport(count, None, None, anchors_checked=len(anchors))


def verify_database(
    database_url: str, *, anchors: Sequence[Anchor] = (), max_lag: timedelta = timedelta(minutes=5)
) -> ChainReport:
    """Stream the chained rows (server-side cursor), verify them, and count rows still unchained."""
    from sqlalchemy import create_engine, pool

    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(
                sa.select(_TABLE).where(_TABLE.c.chain_seq.is_not(None)).order_by(_TABLE.c.chain_seq)
            )
            report = verify_rows(iter(rows), anchors)
            unchained, stale, oldest = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(_TABLE.c.at < sa.func.now() - max_lag),
                    sa.func.min(_TABLE.c.id).filter(_TABLE.c.at < sa.func.now() - max_lag),
                ).where(_TABLE.c.chain_seq.is_(None))
            ).one()
    finally:
        engine.dispose()
    return ChainReport(
        report.rows,
        report.broken_at,
        report.reason,
        unchained=unchained,
        stale_unchained=stale,
        oldest_stale_id=oldest,
        anchors_checked=report.anchors_checked,
    )
