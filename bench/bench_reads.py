"""300 staff reading: open-loop load on the real API (issue #9), then refusal floods against reads.

    .venv/bin/python bench/bench_reads.py [--rate 100] [--duration 60] [--cases 5000]

Starts the API as `make dev` does (`python -m cli api --no-migrate`: its configured worker processes)
on a throw-away embedded PostgreSQL seeded with cases, timelines and tasks (bench/_harness.py). Temporal is
not needed for these routes. The load generator is a separate process.

1. baseline: one client, sequential, the same request mix (unloaded latency);
2. open loop: `--rate` requests/s (300 staff, each a read every 3 s) for `--duration` s, half
   GET /cases/{id}, half POST /tasks/search (the caller's inbox); latency counts from the scheduled send
   time, so a slow server cannot hide queueing (no coordinated omission). Meanwhile pg_stat_activity is
   sampled for sessions waiting on locks;
3. floods: one staff member's sequential reads for 10 s alone (baseline), then while one client floods
   anonymous 401s, then while one client floods failed logins; audit rows written per flood;
4. `kaigo audit verify` on the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from bench._harness import ActivitySampler, database, pct, seed, start_api, summary_ms


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    send_lags: list[float] = field(default_factory=list)  # how late the generator itself sent (s)
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (scheduled offset, latency)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    wall: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _request(i: int, case_ids: list[str], tokens: list[str]) -> tuple[str, str, dict | None, str]:
    """Request i is staff member i mod 300's: at 100 req/s each of them reads every 3 s."""
    rng = random.Random(i)
    token = tokens[i % len(tokens)]
    if i % 2:
        return "GET", f"/cases/{rng.choice(case_ids)}", None, token
    return "POST", "/tasks/search", {}, token


async def _send(
    client: httpx.AsyncClient, request: tuple[str, str, dict | None, str], result: LoadResult
) -> bool:
    method, url, body, token = request
    try:
        response = await client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        result.error(type(exc).__name__)
        return False
    if response.status_code != 200:
        result.error(f"HTTP {response.status_code}")
        return False
    return True


def _client(base_url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=300)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)


def sequential(base_url: str, case_ids: list[str], tokens: list[str], count: int) -> LoadResult:
    async def run() -> LoadResult:
        result = LoadResult()
        async with _client(base_url) as client:
            started = time.perf_counter()
            for i in range(count):
                t0 = time.perf_counter()
                if await _send(client, _request(i, case_ids, tokens), result):
                    result.latencies.append(time.perf_counter() - t0)
                result.sent += 1
            result.wall = time.perf_counter() - started
        return result

    return asyncio.run(run())


def open_loop(
    base_url: str, case_ids: list[str], tokens: list[str], rate: float, duration: float
) -> LoadResult:
    """Send request i at t0 + i/rate whatever happened to the earlier ones.

    One HTTP client per staff member (a browser each, up to 6 connections), not one shared pool: httpx's
    pool scans all its connections per request, and with hundreds of them the generator itself becomes
    the bottleneck and would be measured instead of the server.
    """

    async def run() -> LoadResult:
        result = LoadResult()
        limits = httpx.Limits(max_connections=6, max_keepalive_connections=2)
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0)
                )
                for _ in tokens
            ]

            async def one(i: int, scheduled: float) -> None:
                result.send_lags.append(time.perf_counter() - scheduled)
                if await _send(clients[i % len(clients)], _request(i, case_ids, tokens), result):
                    result.latencies.append(time.perf_counter() - scheduled)
                    result.timeline.append((scheduled - start, result.latencies[-1]))

            tasks: list[asyncio.Task[None]] = []
            start = time.perf_counter() + 0.2
            total = int(rate * duration)
            for i in range(total):
                scheduled = start + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, scheduled)))
            result.sent = total
            await asyncio.gather(*tasks)
            result.wall = time.perf_counter() - start
        return result

    # The generator stands for 300 browsers on their own machines: it must not queue behind the server for
    # the CPU (this machine has two cores), or its own delays would be measured as the server's.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    try:
        return asyncio.run(run())
    finally:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)


def flood(base_url: str, kind: str, duration: float, concurrency: int = 4) -> LoadResult:
    """One client (a few connections) sending refusals as fast as the server answers."""

    async def run() -> LoadResult:
        result = LoadResult()
        deadline = time.perf_counter() + duration
        async with _client(base_url) as client:

            async def loop() -> None:
                while time.perf_counter() < deadline:
                    try:
                        if kind == "anonymous":
                            response = await client.get("/cases/certification-" + "0" * 32)
                        else:
                            response = await client.post(
                                "/auth/token",
                                data={"username": "benchint001", "password": "wrong-password-1"},
                            )
                    except httpx.HTTPError as exc:
                        result.error(type(exc).__name__)
                        continue
                    result.sent += 1
                    result.error(f"HTTP {response.status_code}")

            started = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(concurrency)))
            result.wall = time.perf_counter() - started
        return result

    return asyncio.run(run())


def timed_reads(base_url: str, case_ids: list[str], token: str, duration: float) -> LoadResult:
    async def run() -> LoadResult:
        result = LoadResult()
        deadline = time.perf_counter() + duration
        async with _client(base_url) as client:
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                if await _send(client, ("GET", f"/cases/{case_ids[i % len(case_ids)]}", None, token), result):
                    result.latencies.append(time.perf_counter() - t0)
                i += 1
        return result

    return asyncio.run(run())


def _refusal_rows(libpq: str) -> list[tuple[str, str, int, int]]:
    """Rows per (action, outcome) for refusals; an aggregated row carries its request count in detail."""
    with psycopg.connect(libpq) as conn:
        return conn.execute(
            """
            SELECT action, outcome, count(*), sum(coalesce((detail->>'count')::int, 1))
            FROM audit_event WHERE outcome <> 'success' GROUP BY 1, 2 ORDER BY 1, 2
            """
        ).fetchall()


def _errors(result: LoadResult) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(result.errors.items())) or "none"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--logs", type=Path, help="keep the API's log here")
    parser.add_argument("--timeline", type=Path, help="write the open loop's (send time, latency) here")
    args = parser.parse_args()

    from kaigo.security.audit import verify_database

    spawn = multiprocessing.get_context("spawn")
    with database("reads") as db, tempfile.TemporaryDirectory(prefix="kaigo-bench-logs-") as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        seeded = seed(db, cases=args.cases, open_per_case=2, closed_per_case=10)
        print(
            f"seeded {args.cases} cases, {args.cases * 12} tasks, 300 staff "
            f"in {time.perf_counter() - started:.1f} s"
        )
        api = start_api(db, logs)
        tokens = list(seeded.tokens.values())
        try:
            with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
                pool.submit(sequential, api.base_url, seeded.case_ids, tokens, 50).result()  # warm-up
                base = pool.submit(sequential, api.base_url, seeded.case_ids, tokens, 200).result()
                with ActivitySampler(db) as sampler:
                    load = pool.submit(
                        open_loop, api.base_url, seeded.case_ids, tokens, args.rate, args.duration
                    ).result()
                print(
                    f"baseline, 1 client sequential:   {summary_ms(base.latencies)}  errors: {_errors(base)}"
                )
                print(
                    f"open loop {args.rate:.0f} req/s x {args.duration:.0f} s: {summary_ms(load.latencies)}  "
                    f"errors: {_errors(load)}  (sent {load.sent}, done in {load.wall:.1f} s)"
                )
                print(
                    f"  the generator's own lateness in sending: p99 "
                    f"{pct(load.send_lags, 99) * 1000:.1f} ms, max {max(load.send_lags) * 1000:.1f} ms"
                )
                print(f"  during the load: {sampler.report()}")
                if args.timeline:
                    args.timeline.write_text("".join(f"{t:.3f} {lat:.4f}\n" for t, lat in load.timeline))

                reader = seeded.tokens["benchint000"]
                alone = pool.submit(
                    timed_reads, api.base_url, seeded.case_ids, reader, args.flood_seconds
                ).result()
                print(f"reads alone (1 client):          {summary_ms(alone.latencies)}")
                for kind in ("anonymous", "login"):
                    flooding = pool.submit(flood, api.base_url, kind, args.flood_seconds)
                    reads = pool.submit(
                        timed_reads, api.base_url, seeded.case_ids, reader, args.flood_seconds
                    )
                    flooded, read = flooding.result(), reads.result()
                    print(
                        f"reads during a {kind} flood: {summary_ms(read.latencies)}\n"
                        f"  flood: {flooded.sent / max(flooded.wall, 1e-9):.0f} req/s ({_errors(flooded)})"
                    )
        finally:
            api.stop()  # a graceful stop also writes whatever the API still holds in memory
        print("audit rows written for refusals (all phases):")
        for action, outcome, rows, counted in _refusal_rows(db.libpq):
            print(f"  {action:12} {outcome:10} {rows:7} rows covering {counted} requests")
        report = verify_database(db.url)
        print(f"audit verify after the run: {'intact' if report.intact else 'BROKEN'}, {report.rows} rows")


if __name__ == "__main__":
    main()
