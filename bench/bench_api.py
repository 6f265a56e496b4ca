"""API latency with the security controls on: login (argon2), an audited read, and audited reads under
concurrency (audit rows are inserted by the requests and chained afterwards by one chainer).

    .venv/bin/python bench/bench_api.py

Runs the real app in-process (ASGI) on a throw-away embedded PostgreSQL; Temporal is not needed for these
routes (a lazy client that is never called).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from temporalio.client import Client

from api.deps import Resources
from api.main import create_app
from cli.seed import demo_password, seed_demo_residents, seed_demo_staff
from kaigo import embedded, migrate, temporal_client
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.logs import configure_logging
from kaigo.security.audit import verify_database
from kaigo.security.audit_chain import chain_once
from kaigo.security.field_crypto import FieldCipher


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"median {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   (n={len(ordered)})"
    )


async def main() -> None:
    configure_logging("WARNING")  # one line per request would drown the numbers
    with tempfile.TemporaryDirectory(prefix="kaigo-bench-api-") as tmp:
        server = embedded.start_postgres(Path(tmp) / "pg")
        url = embedded.socket_url(server, "bench")
        embedded.ensure_database(url)
        migrate.upgrade_to_head(url)
        settings = Settings(
            _env_file=None, kaigo_env="test", database_url=url, temporal_address="127.0.0.1:1"
        )  # type: ignore[call-arg]
        engine = make_engine(url, pool_size=10)
        sessions = make_sessionmaker(engine)
        await seed_demo_residents(sessions)
        await seed_demo_staff(sessions)
        temporal = await Client.connect(
            "127.0.0.1:1", lazy=True, data_converter=temporal_client.data_converter(settings)
        )
        app = create_app(
            resources=Resources(settings, engine, sessions, temporal, FieldCipher.from_settings(settings))
        )
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            logins = []
            for _ in range(20):
                started = time.perf_counter()
                response = await client.post(
                    "/auth/token", data={"username": "intake", "password": demo_password("intake")}
                )
                logins.append(time.perf_counter() - started)
                assert response.status_code == 200
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

            reads = []
            for _ in range(200):
                started = time.perf_counter()
                assert (await client.get("/persons/100000000001", headers=headers)).status_code == 200
                reads.append(time.perf_counter() - started)

            async def timed_read() -> float:
                started = time.perf_counter()
                assert (await client.get("/insured/0100000002", headers=headers)).status_code == 200
                return time.perf_counter() - started

            wall = time.perf_counter()
            concurrent = await asyncio.gather(*(timed_read() for _ in range(400)))
            wall = time.perf_counter() - wall

        await engine.dispose()
        started = time.perf_counter()
        chained = await chain_once(url)  # what the API's background chainer does continuously
        chaining = time.perf_counter() - started
        report = verify_database(url)
        server.cleanup()
    print(f"login (argon2 verify)              {_ms(logins)}")
    print(f"GET /persons/{{id}} (1 audit row)   {_ms(reads)}")
    print(f"400 concurrent GET /insured/{{no}}   {_ms(list(concurrent))}   {400 / wall:6.0f} req/s")
    print(f"chaining the run's rows afterwards: {chained} rows in {chaining * 1000:.0f} ms")
    print(f"audit chain after the run: {'intact' if report.intact else 'BROKEN'}, {report.rows} rows")


if __name__ == "__main__":
    asyncio.run(main())
