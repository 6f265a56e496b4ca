"""Importing a city's certifications: 30,000 rows (CP932, as city systems export), then the same file again.

    .venv/bin/python bench/bench_certification_import.py [rows]

Runs `kaigo import certifications`' job (kaigo/certification_import_job.py) on a throw-away embedded
PostgreSQL with that many 第1号 insured persons; Temporal is unreachable (the import succeeds and says the
terms start at the next daily reconciliation). Prints wall time, rows per second and the process's peak RSS.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from cli.certification_import_job import run
from kaigo import embedded, migrate
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from models.certification_import import COLUMNS
from models.common import utcnow
from models.registry import Insured, Person
from rules.calendar import add_months, month_end

LEVELS = ["要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5"]


def _insured_no(n: int) -> str:
    return f"07{n:08d}"


async def _seed(url: str, rows: int) -> None:
    engine = make_engine(url, pool_size=1)
    now = utcnow()
    async with make_sessionmaker(engine)() as session, session.begin():
        connection = await session.connection()
        for start in range(0, rows, 5_000):
            numbers = range(start, min(rows, start + 5_000))
            persons = [
                {
                    "atena_no": f"5{n:011d}",
                    "name_kanji": "試験 太郎",
                    "name_kana": "シケン タロウ",
                    "kana_key": "シケンタロウ",
                    "birth_date": date(1940, 4, 2),
                    "sex": "1",
                    "postal_code": "0700031",
                    "address": "北海道旭川市一条通9丁目",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in numbers
            ]
            insured = [
                {
                    "insured_no": _insured_no(n),
                    "atena_no": f"5{n:011d}",
                    "category": "1",
                    "acquired_on": date(2005, 4, 1),
                    "acquisition_reason": "age_65",
                    "jusho_tokurei": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in numbers
            ]
            await connection.execute(sa.insert(Person), persons)
            await connection.execute(sa.insert(Insured), insured)
    await engine.dispose()


def _write_csv(path: Path, rows: int) -> None:
    """Certifications starting on the 1st of the last 12 months, 12–36 months long: expiries spread out."""
    with path.open("w", encoding="cp932", newline="") as out:
        out.write(",".join(COLUMNS) + "\r\n")
        for n in range(rows):
            year, month = add_months(2026, 1, n % 12)
            start = date(year, month, 1)
            end_year, end_month = add_months(year, month, 12 + 12 * (n % 3) - 1)
            end = month_end(date(end_year, end_month, 1))
            decided = start
            use = "有" if n % 4 else "無"
            out.write(f"{_insured_no(n)},{LEVELS[n % 7]},{start},{end},{decided},{use}\r\n")


async def main(rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kaigo-bench-import-") as tmp:
        server = embedded.start_postgres(Path(tmp) / "pg")
        url = embedded.socket_url(server, "bench")
        embedded.ensure_database(url)
        migrate.upgrade_to_head(url)
        await _seed(url, rows)
        file = Path(tmp) / "certifications.csv"
        _write_csv(file, rows)
        settings = Settings(
            _env_file=None, kaigo_env="test", database_url=url, temporal_address="127.0.0.1:1"
        )  # type: ignore[call-arg]
        print(f"{rows} rows, {file.stat().st_size / 1e6:.1f} MB (CP932)")
        for label in ("first import", "re-import (nothing new)"):
            started = time.perf_counter()
            result = await run(settings, url, file, encoding=None, progress=False)
            took = time.perf_counter() - started
            print(
                f"{label:26s} {took:6.2f} s  {rows / took:8.0f} rows/s  "
                f"added {result.added}, already {result.already}"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MB (PostgreSQL runs in its own processes)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000))
