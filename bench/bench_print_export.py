"""Bulk print export speed: issue N notices, then export them in batches (stored PDFs merged with pypdf).

    .venv/bin/python bench/bench_print_export.py [--notices 1000] [--batch-size 500]

Uses DATABASE_URL if set (a scratch database, please: it adds persons and notices), else a throw-away
embedded PostgreSQL. Issuing renders every notice (one kind, so the 文書番号 counter serialises them);
the export renders nothing: it reads the stored PDFs, checks their SHA-256, merges and writes the files.
Times are wall-clock; the export is shown with the same progress bar as `kaigo notices export`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo import embedded, migrate
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from models.print_export import NoticeExportCreate
from models.registry import InsuredCreate, PersonCreate
from notices.models.common import Issuer
from services import notices, print_export, registry

KIND = "expiry_reminder"
DATA = {"care_level": "要介護2", "valid_from": "2025-03-01", "valid_to": "2027-02-28", "second_notice": False}
ISSUED_ON = date(2026, 12, 1)

Sessions = async_sessionmaker[AsyncSession]


def _database(tmp: Path) -> tuple[str, Any]:
    """The database URL, and the embedded server we started (None with DATABASE_URL)."""
    server = None
    url = os.environ.get("DATABASE_URL")
    if url:
        url = Settings(database_url=url, _env_file=None).require_database_url()  # type: ignore[call-arg]
    else:
        server = embedded.start_postgres(tmp / "pg")
        url = embedded.socket_url(server, f"bench_{uuid.uuid4().hex[:8]}")
    embedded.ensure_database(url)
    migrate.upgrade_to_head(url)
    return url, server


async def _people(sessions: Sessions, count: int) -> list[str]:
    rng = random.Random(4)  # reproducible spread of postal codes: the export must sort them
    atena_numbers = []
    async with sessions() as session, session.begin():
        for i in range(count):
            atena_no = str(700000000001 + i)
            await registry.create_person(
                session=session,
                data=PersonCreate(
                    atena_no=atena_no,
                    name_kanji="試験 太郎",
                    name_kana="シケン タロウ",
                    birth_date=date(1950, 4, 1),
                    sex="1",
                    postal_code=f"07{rng.randrange(100000):05d}",
                    address="北海道旭川市6条通9丁目",
                ),
            )
            await registry.create_insured(
                session=session,
                data=InsuredCreate(
                    insured_no=f"{9000000000 + i}",
                    atena_no=atena_no,
                    category="1",
                    acquired_on=date(2015, 3, 31),
                    acquisition_reason="age_65",
                ),
            )
            atena_numbers.append(atena_no)
    return atena_numbers


async def _issue(sessions: Sessions, atena_numbers: list[str], progress: Progress) -> tuple[float, int]:
    issuer = Issuer.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    task = progress.add_task("issue", total=len(atena_numbers))
    pages = 0
    start = time.perf_counter()
    for atena_no in atena_numbers:
        async with sessions() as session, session.begin():
            record = await notices.issue(
                session=session,
                idempotency_key=f"bench:{uuid.uuid4().hex}",
                kind=KIND,
                recipient_atena_no=atena_no,
                issued_on=ISSUED_ON,
                data=DATA,
                issuer=issuer,
                issued_by="bench",
            )
            pages += record.pages
        progress.advance(task)
    return time.perf_counter() - start, pages


async def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    engine = make_engine(url, pool_size=2)
    sessions = make_sessionmaker(engine)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        atena_numbers = await _people(sessions, args.notices)
        with Progress(*columns, console=console) as progress:
            issue_seconds, pages = await _issue(sessions, atena_numbers, progress)

        request = NoticeExportCreate(
            kind=KIND, issued_from=ISSUED_ON, issued_to=ISSUED_ON, batch_size=args.batch_size
        )
        out = tmp / "out"
        start = time.perf_counter()
        async with sessions() as session, session.begin():
            job = await print_export.plan(session=session, request=request, requested_by="bench")
        plan_seconds = time.perf_counter() - start
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("export", total=job.notice_count)
            report = await print_export.run_to_directory(
                sessions,
                job_id=job.id,
                out_dir=out,
                actor="bench",
                on_notice=lambda: progress.advance(task),
            )
        export_seconds = time.perf_counter() - start

        first = report.batches[0]
        start = time.perf_counter()
        async with sessions() as session:
            content, _, _ = await print_export.rebuild_file(
                session=session, job_id=job.id, name=first.pdf_name
            )
        rebuild_seconds = time.perf_counter() - start
    finally:
        await engine.dispose()

    n = args.notices
    size = sum((out / b.pdf_name).stat().st_size for b in report.batches)
    print(
        f"issue   {n} notices ({pages} pages), one at a time: {issue_seconds:6.1f} s  "
        f"{1000 * issue_seconds / n:6.1f} ms/notice"
    )
    print(
        f"export  {n} notices in {len(report.batches)} batch(es) of {args.batch_size}: "
        f"{export_seconds:6.1f} s  "
        f"{1000 * export_seconds / n:6.1f} ms/notice  {1000 * export_seconds / pages:6.1f} ms/page"
        f"  (plan {1000 * plan_seconds:.0f} ms; {size / 1e6:.1f} MB of PDF)"
    )
    print(
        f"rebuild one {first.notice_count}-notice batch PDF for download: {rebuild_seconds:5.2f} s "
        f"({len(content) / 1e6:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kaigo-bench-"))
    url, server = _database(tmp)
    try:
        asyncio.run(run(args, url, tmp))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
