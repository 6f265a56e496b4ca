"""The one audit chainer among all API processes: leader by PostgreSQL advisory session lock.

Every API process runs an `AuditChainer`. Each tries `pg_try_advisory_lock` on a connection of its own;
the one that gets it is the leader and chains new rows every `interval` on that same connection. The others
retry every `standby` seconds. When the leader's process or connection dies, PostgreSQL releases the lock
with the session and a standby takes over: there is never a second writer of the chain, and no request
waits for the chainer (it is off the request path, and request transactions never touch the chain head).
"""

from __future__ import annotations

import asyncio
import contextlib

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kaigo.security.audit import chain_pending

log = structlog.get_logger("kaigo.audit.chainer")

CHAINER_LOCK = 0x61756469  # "audi"
DEFAULT_INTERVAL_S = 0.5
DEFAULT_STANDBY_S = 5.0
LAST_PASS_WAIT_S = 5


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class AuditChainer:
    def __init__(
        self,
        database_url: str | URL,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        standby: float = DEFAULT_STANDBY_S,
    ) -> None:
        self.database_url = database_url
        self.interval = interval
        self.standby = standby
        self.is_leader = False

    async def run(self, stop: asyncio.Event) -> None:
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            while not stop.is_set():
                try:
                    async with engine.connect() as conn:
                        if await self._lead(conn):
                            await self._chain_until(stop, conn)
                except (DBAPIError, OSError) as exc:
                    log.warning(
                        "audit_chainer_connection_lost", error=type(exc).__name__, message=str(exc)[:300]
                    )
                finally:
                    self.is_leader = False
                await _sleep_or_stop(stop, self.standby)
            await self._last_pass(engine)
        finally:
            await engine.dispose()

    async def _lead(self, conn: AsyncConnection) -> bool:
        got = (
            await conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": CHAINER_LOCK})
        ).scalar()
        await conn.commit()  # the lock is the session's, not the transaction's
        if got:
            self.is_leader = True
            log.info("audit_chainer_leading")
        return bool(got)

    async def _chain_until(self, stop: asyncio.Event, conn: AsyncConnection) -> None:
        while not stop.is_set():
            await chain_pending(conn)
            await _sleep_or_stop(stop, self.interval)

    async def _last_pass(self, engine: AsyncEngine) -> None:
        """At shutdown every process, leader or not, chains what is left (its last refusal counts among
        it), taking the lock in turn, so a stopped deployment leaves no row unchained."""
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text(f"SET lock_timeout = '{LAST_PASS_WAIT_S}s'"))
                await conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": CHAINER_LOCK})
                await conn.commit()
                await chain_pending(conn)
        except (DBAPIError, OSError) as exc:  # the next leader chains them
            log.warning("audit_chainer_last_pass_skipped", error=type(exc).__name__)


async def chain_once(database_url: str | URL) -> int | None:
    """One chaining pass outside the API (`kaigo audit chain`), as the leader; None if a leader runs."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            got = (
                await conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": CHAINER_LOCK})
            ).scalar()
            await conn.commit()
            return await chain_pending(conn) if got else None
    finally:
        await engine.dispose()
