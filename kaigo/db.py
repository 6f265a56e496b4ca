"""Database engine and sessions (SQLAlchemy async over psycopg 3).

No `pool_pre_ping`: it costs a `SELECT 1` round trip at every checkout. A checked-out connection is instead
checked without a round trip (`_drop_dead_connection`): psycopg knows a connection is closed or broken, and
a connection the server has closed (restart, pg_terminate_backend, idle timeout) has an end-of-file waiting
on its socket. Either way the pool throws it away and hands out another one. `pool_recycle` retires
connections before idle timeouts of firewalls and proxies can cut them silently.

`hide_parameters`: a failed statement's error names the SQL but not its values. Activities log that error
(the worker's log), and without it a failed page of renewal terms put 500 被保険者番号 and 宛名番号 there.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

POOL_RECYCLE_S = 30 * 60


def make_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=POOL_RECYCLE_S,
        hide_parameters=True,
    )
    event.listen(engine.sync_engine.pool, "checkout", _drop_dead_connection)
    return engine


def connection_is_dead(conn: psycopg.AsyncConnection[Any] | psycopg.Connection[Any]) -> bool:
    """True if the connection cannot be used, found out without talking to the server."""
    if conn.closed or conn.broken:
        return True
    pgconn = conn.pgconn
    # An idle, healthy connection has nothing to read. Otherwise read what came (a notice, or the server's
    # goodbye): after a goodbye the socket stays readable and the next read finds end-of-file.
    for _ in range(3):
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
        if not readable:
            return False
        try:
            pgconn.consume_input()
        except psycopg.OperationalError:
            return True
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            return True
    return False


def _drop_dead_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if connection_is_dead(dbapi_connection.driver_connection):
        # The pool discards this connection and retries the checkout with a new one.
        raise exc.DisconnectionError("connection closed by the server")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers return objects after commit without a second round trip.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    async with sessions() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
