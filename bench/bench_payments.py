"""Payment posting by the collection system: one payment at a time, and a day's 消込 file.

    .venv/bin/python bench/bench_payments.py

Runs the real app in-process (ASGI) on a throw-away embedded PostgreSQL with 1,000 第1号 insured persons,
two 調定 each. No restriction case is open, so no Temporal call is made (a lazy client never called).
Every posting writes its payment and its audit row.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy.dialects.postgresql import insert
from temporalio.client import Client

from api.deps import Resources
from api.main import create_app
from cli.seed import demo_password, seed_demo_staff
from kaigo import embedded, migrate, temporal_client
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.logs import configure_logging
from kaigo.security.field_crypto import FieldCipher
from models.premium_csv import COLUMNS
from models.registry import Insured, Person
from models.restriction import PremiumAssessment

PEOPLE = 1_000


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"median {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   (n={len(ordered)})"
    )


def _insured_no(n: int) -> str:
    return f"06{n:08d}"


async def main() -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="kaigo-bench-payments-") as tmp:
        server = embedded.start_postgres(Path(tmp) / "pg")
        url = embedded.socket_url(server, "bench")
        embedded.ensure_database(url)
        migrate.upgrade_to_head(url)
        settings = Settings(
            _env_file=None, kaigo_env="test", database_url=url, temporal_address="127.0.0.1:1"
        )  # type: ignore[call-arg]
        engine = make_engine(url, pool_size=10)
        sessions = make_sessionmaker(engine)
        await seed_demo_staff(sessions)
        async with sessions() as session, session.begin():
            await session.exec(
                insert(Person).values(
                    [
                        {
                            "atena_no": f"6{n:011d}", "name_kanji": "試験 花子", "name_kana": "シケン ハナコ",
                            "kana_key": "シケンハナコ", "birth_date": date(1945, 6, 1), "sex": "2",
                            "postal_code": "0700031", "address": "北海道旭川市一条通9丁目",
                        }
                        for n in range(PEOPLE)
                    ]
                )
            )  # fmt: skip
            await session.exec(
                insert(Insured).values(
                    [
                        {
                            "insured_no": _insured_no(n), "atena_no": f"6{n:011d}", "category": "1",
                            "acquired_on": date(2010, 6, 1), "acquisition_reason": "age_65",
                        }
                        for n in range(PEOPLE)
                    ]
                )
            )  # fmt: skip
            await session.exec(
                insert(PremiumAssessment).values(
                    [
                        {
                            "insured_no": _insured_no(n), "atena_no": f"6{n:011d}", "fiscal_year": 2025,
                            "period": period, "due_on": date(2025, 6 + period, 28), "amount": 6_200,
                            "created_by": "bench",
                        }
                        for n in range(PEOPLE)
                        for period in (1, 2)
                    ]
                )
            )  # fmt: skip
        temporal = await Client.connect(
            "127.0.0.1:1", lazy=True, data_converter=temporal_client.data_converter(settings)
        )
        app = create_app(
            resources=Resources(settings, engine, sessions, temporal, FieldCipher.from_settings(settings))
        )
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            token = await client.post(
                "/auth/token", data={"username": "collection", "password": demo_password("collection")}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            single = []
            for n in range(200):
                body = {
                    "receipt_no": f"S-{n}", "insured_no": _insured_no(n), "fiscal_year": 2025, "period": 1,
                    "amount": 6_200, "paid_on": "2025-08-01",
                }  # fmt: skip
                started = time.perf_counter()
                response = await client.post("/premium-payments", json=body, headers=headers)
                single.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
            lines = [",".join(COLUMNS)] + [
                f"F-{n},{_insured_no(n)},2025,2,6200,20250901" for n in range(PEOPLE)
            ]
            csv = ("\r\n".join(lines) + "\r\n").encode()
            csv_headers = headers | {"Content-Type": "text/csv"}
            started = time.perf_counter()
            first = await client.post("/premium-payments/import", content=csv, headers=csv_headers)
            imported = time.perf_counter() - started
            assert first.status_code == 201 and first.json()["posted"] == PEOPLE, first.text
            started = time.perf_counter()
            again = await client.post("/premium-payments/import", content=csv, headers=csv_headers)
            reimported = time.perf_counter() - started
            assert again.json()["already_posted"] == PEOPLE
        await engine.dispose()
        server.cleanup()
    print(f"POST /premium-payments (1 payment + 1 audit row)   {_ms(single)}")
    per_line = imported / PEOPLE * 1000
    print(f"消込 file of {PEOPLE} lines, first import             {imported:6.2f} s ({per_line:.2f} ms/line)")
    print(f"the same file again (all already posted)          {reimported:6.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
