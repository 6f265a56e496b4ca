"""The API's pool without pre-ping: no `SELECT 1` per checkout, yet a connection the server has closed
(restart, pg_terminate_backend, an idle timeout) is replaced at checkout instead of failing a request."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from kaigo import embedded
from kaigo.db import make_engine


async def test_a_connection_killed_by_the_server_is_replaced_at_checkout(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=2)
    try:
        async with engine.connect() as conn:
            killed = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        with psycopg.connect(embedded.libpq_url(database_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connection's socket
        async with engine.connect() as conn:  # no error: the dead one was dropped at checkout
            replacement = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert replacement != killed
    finally:
        await engine.dispose()


async def test_checkout_costs_no_round_trip(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 42"))
        assert statements == ["SELECT 42"] * 3
    finally:
        await engine.dispose()


async def test_a_failed_statement_names_its_sql_but_not_its_values(database_url: str) -> None:
    """What an activity logs when the database refuses a page of terms: the statement, no 被保険者番号."""
    engine = make_engine(database_url, pool_size=1)
    insured_no = "0100000001"
    try:
        with pytest.raises(DBAPIError) as failure:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO no_such_table (insured_no) VALUES (:insured_no)"),
                    {"insured_no": insured_no},
                )
    finally:
        await engine.dispose()
    logged = "".join(traceback.format_exception(failure.value))
    assert "INSERT INTO no_such_table" in logged  # the operator still sees which statement failed
    assert insured_no not in logged
