"""Task inbox at scale (issue #9): 100k open + 1M closed tasks, 50 clients, the API against its own SQL.

    .venv/bin/python bench/bench_inbox.py [--seconds 10] [--clients 50] [--explain FILE]

For each query type (the caller's inbox, by case, by 被保険者番号, overdue across roles) it measures:
- the API (`POST /tasks/search` on the real server, `python -m cli api`), 50 closed-loop clients and one;
- the same SQL run directly (psycopg, 50 connections and one): the statements are captured from
  services.tasks.search itself, for 100 different parameter sets per type, so the baseline is exactly
  what the API sends (its count and its page query), whatever the code of the day generates.
`--explain FILE` writes EXPLAIN (ANALYZE, BUFFERS) of every captured statement of each type.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench._harness import Database, Seeded, database, seed, start_api, summary_ms

QUERY_TYPES = ("inbox", "by_case", "by_insured", "overdue")


def _body(kind: str, i: int, seeded_cases: list[str], insured: list[str]) -> dict[str, Any]:
    rng = random.Random(i)
    if kind == "inbox":
        return {}
    if kind == "by_case":
        return {"case_id": rng.choice(seeded_cases), "state": None}
    if kind == "by_insured":
        return {"insured_no": rng.choice(insured), "state": None}
    return {"overdue": True}


def _who(kind: str, i: int, seeded: Seeded) -> str:
    """Inbox: a clerk (intake); the rest: a supervisor, who sees every task (task:assign)."""
    role = "intake" if kind == "inbox" else "supervisor"
    logins = [login for login, r in seeded.staff if r == role]
    return logins[i % len(logins)]


# ------------------------------------------------------------------------------------------------ API


def api_clients(
    base_url: str, requests: list[tuple[str, dict[str, Any]]], clients: int, seconds: float
) -> tuple[list[float], list[str]]:
    """`clients` closed-loop clients cycling through (token, body) pairs; returns latencies (s) of the
    answered requests and the failures (dropped connections, non-200) as strings."""

    async def run() -> tuple[list[float], list[str]]:
        latencies: list[float] = []
        failures: list[str] = []
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:

            async def loop(offset: int) -> None:
                i = offset
                while time.perf_counter() < deadline:
                    token, body = requests[i % len(requests)]
                    t0 = time.perf_counter()
                    i += clients
                    try:
                        response = await client.post(
                            "/tasks/search", json=body, headers={"Authorization": f"Bearer {token}"}
                        )
                    except httpx.HTTPError as error:
                        failures.append(type(error).__name__)
                        continue
                    if response.status_code != 200:
                        failures.append(f"HTTP {response.status_code}")
                        continue
                    latencies.append(time.perf_counter() - t0)

            await asyncio.gather(*(loop(k) for k in range(clients)))
        return latencies, failures

    return asyncio.run(run())


# ------------------------------------------------------------------------------------------------- SQL


def capture_sql(
    db: Database, seeded: Seeded, kind: str, count: int
) -> list[list[tuple[str, dict[str, Any]]]]:
    """Run services.tasks.search as the API would, recording every statement it sends (per call)."""
    from sqlalchemy import event
    from sqlmodel.ext.asyncio.session import AsyncSession

    from kaigo.db import make_engine, make_sessionmaker
    from services import tasks

    async def run() -> list[list[tuple[str, dict[str, Any]]]]:
        engine = make_engine(db.url, pool_size=1)
        recorded: list[tuple[str, dict[str, Any]]] = []

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def record(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
        ) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "FROM task" in statement:
                recorded.append((statement, dict(parameters or {})))

        sessions = make_sessionmaker(engine)
        calls = []
        for i in range(count):
            login = _who(kind, i, seeded)
            role = dict(seeded.staff)[login]
            who = tasks.TaskVisibility(login_id=login, sees_all=role == "supervisor", claimable_roles=[role])
            query = tasks.TaskSearch.model_validate(_body(kind, i, seeded.case_ids, seeded.insured_nos))
            recorded.clear()
            session: AsyncSession
            async with sessions() as session:
                await tasks.search(session=session, query=query, who=who)
            calls.append(list(recorded))
        await engine.dispose()
        return calls

    return asyncio.run(run())


def sql_clients(
    libpq: str, calls: list[list[tuple[str, dict[str, Any]]]], clients: int, seconds: float
) -> list[float]:
    """`clients` connections each replaying whole calls (all statements of one search) in a loop."""

    async def run() -> list[float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def loop(offset: int) -> None:
            async with await psycopg.AsyncConnection.connect(libpq, autocommit=True) as conn:
                i = offset
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    for statement, params in calls[i % len(calls)]:
                        await (await conn.execute(statement, params)).fetchall()
                    latencies.append(time.perf_counter() - t0)
                    i += clients

        await asyncio.gather(*(loop(k) for k in range(clients)))
        return latencies

    return asyncio.run(run())


def explain(libpq: str, calls: list[list[tuple[str, dict[str, Any]]]]) -> str:
    out = []
    with psycopg.connect(libpq, autocommit=True) as conn:
        for statement, params in calls[0]:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).fetchall()
            rendered = psycopg.ClientCursor(conn).mogrify(statement, params)
            out.append(rendered + "\n\n" + "\n".join(row[0] for row in plan))
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--cases", type=int, default=50_000)  # x (2 open + 20 closed) = 100k + 1M tasks
    parser.add_argument("--explain", type=Path)
    parser.add_argument("--only", choices=QUERY_TYPES, action="append")
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")

    with database("inbox") as db, tempfile.TemporaryDirectory(prefix="kaigo-bench-logs-") as logs:
        started = time.perf_counter()
        seeded = seed(db, cases=args.cases, open_per_case=2, closed_per_case=20)
        with psycopg.connect(db.libpq) as conn:
            counts = dict(conn.execute("SELECT state, count(*) FROM task GROUP BY state").fetchall())
        print(f"seeded {counts} in {time.perf_counter() - started:.0f} s")
        api = start_api(db, Path(logs))
        explained: list[str] = []
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                for kind in args.only or QUERY_TYPES:
                    calls = capture_sql(db, seeded, kind, 100)
                    requests = [
                        (
                            seeded.tokens[_who(kind, i, seeded)],
                            _body(kind, i, seeded.case_ids, seeded.insured_nos),
                        )
                        for i in range(100)
                    ]
                    pool.submit(api_clients, api.base_url, requests, 4, 2.0).result()  # warm-up
                    api_one = pool.submit(api_clients, api.base_url, requests, 1, args.seconds / 2).result()
                    api_many = pool.submit(
                        api_clients, api.base_url, requests, args.clients, args.seconds
                    ).result()
                    sql_one = pool.submit(sql_clients, db.libpq, calls, 1, args.seconds / 2).result()
                    sql_many = pool.submit(sql_clients, db.libpq, calls, args.clients, args.seconds).result()
                    print(f"{kind} ({len(calls[0])} statements per search)")
                    failed = sorted(set(api_many[1] + api_one[1]))
                    print(
                        f"  API, {args.clients} clients: {summary_ms(api_many[0])}"
                        + (
                            f"  FAILED {len(api_many[1]) + len(api_one[1])}: {', '.join(failed)}"
                            if failed
                            else ""
                        )
                    )
                    print(f"  SQL, {args.clients} clients: {summary_ms(sql_many)}")
                    print(f"  API, 1 client:    {summary_ms(api_one[0])}")
                    print(f"  SQL, 1 client:    {summary_ms(sql_one)}")
                    if args.explain:
                        explained.append(f"-- {kind}\n" + explain(db.libpq, calls))
        finally:
            api.stop()
        if args.explain:
            args.explain.write_text("\n\n".join(explained) + "\n")
            print(f"plans written to {args.explain}")


if __name__ == "__main__":
    main()
