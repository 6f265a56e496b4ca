"""Unauthenticated refusals, counted in memory and written as one audit row per minute and key.

A 401 for a missing or invalid token and a 429 for a throttled login cost the caller nothing, so writing a
row for each would let one anonymous client make the audit trail (and every audited request) as busy as it
likes. Instead each API process counts them per (action, outcome, actor, client address, reason) and
`flush` writes one row per key: detail has the count, the first and last time and up to five sample paths.
N processes write at most N rows per minute per key. Failed logins (wrong password) and authenticated
refusals (403) are not counted here: they stay one row each.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.security import audit
from kaigo.security.audit import AuditEntry, Outcome

log = structlog.get_logger("kaigo.audit.refusals")

FLUSH_INTERVAL_S = 60.0
MAX_KEYS = 5_000  # per interval; beyond it, refusals are counted under one overflow key per reason
MAX_SAMPLE_PATHS = 5
OVERFLOW = "(other)"


@dataclass(frozen=True)
class RefusalKey:
    action: str
    outcome: Outcome
    actor: str
    client_addr: str | None
    reason: str


@dataclass
class _Tally:
    count: int
    first: datetime
    last: datetime
    paths: list[str] = field(default_factory=list)


class RefusalCounter:
    """Per-process tallies; `count` does no I/O and takes no lock (one event loop per process)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._tallies: dict[RefusalKey, _Tally] = {}

    def count(self, key: RefusalKey, path: str) -> None:
        now = datetime.now(UTC)
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= self.max_keys:
                key = RefusalKey(key.action, key.outcome, OVERFLOW, OVERFLOW, key.reason)
                tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = _Tally(0, now, now)
        tally.count += 1
        tally.last = now
        if len(tally.paths) < MAX_SAMPLE_PATHS and path[:200] not in tally.paths:
            tally.paths.append(path[:200])

    def pending(self) -> int:
        return sum(t.count for t in self._tallies.values())

    def drain(self) -> dict[RefusalKey, _Tally]:
        tallies, self._tallies = self._tallies, {}
        return tallies

    def put_back(self, tallies: dict[RefusalKey, _Tally]) -> None:
        """Merge tallies a failed flush could not write, so no count is lost."""
        for key, old in tallies.items():
            tally = self._tallies.setdefault(key, _Tally(0, old.first, old.last))
            tally.count += old.count
            tally.first = min(tally.first, old.first)
            tally.last = max(tally.last, old.last)
            tally.paths = (old.paths + [p for p in tally.paths if p not in old.paths])[:MAX_SAMPLE_PATHS]

    def entries(self, tallies: dict[RefusalKey, _Tally]) -> list[AuditEntry]:
        return [
            AuditEntry(
                actor=key.actor[:64],
                action=key.action,
                outcome=key.outcome,
                resource="unauthenticated requests (aggregated)",
                client_addr=key.client_addr,
                at=tally.first,
                detail={
                    "reason": key.reason,
                    "count": tally.count,
                    "first_at": tally.first.isoformat(),
                    "last_at": tally.last.isoformat(),
                    "sample_paths": tally.paths,
                    "process": self.process,
                },
            )
            for key, tally in tallies.items()
        ]


async def flush(counter: RefusalCounter, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Write one row per key counted since the last flush; returns the number of rows."""
    tallies = counter.drain()
    if not tallies:
        return 0
    try:
        async with sessions() as session, session.begin():
            await audit.append(session, counter.entries(tallies))
    except BaseException:
        counter.put_back(tallies)
        raise
    return len(tallies)


async def flush_every(
    counter: RefusalCounter,
    sessions: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    interval: float = FLUSH_INTERVAL_S,
) -> None:
    """Flush every `interval` until `stop`, then once more (a graceful shutdown loses no count)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        try:
            await flush(counter, sessions)
        except Exception as exc:  # the database may be briefly away; the counts wait for the next flush
            log.warning("refusal_flush_failed", error=type(exc).__name__)
