"""Bulk print export speed: issue N notices (as the notice worker does), then export them in batches
(stored PDFs merged with pypdf), against a bare pypdf merge of the same PDFs measured in the same run.

    .venv/bin/python bench/bench_print_export.py [--notices 1000] [--batch-size 500] [--processes N]

Uses DATABASE_URL if set (a scratch database, please: it adds persons and notices), else a throw-away
embedded PostgreSQL. Issuing renders every notice in a process pool, numbers taken in short transactions;
the export renders nothing: it reads the stored PDFs, checks their SHA-256, merges and writes the files.
Times are wall-clock; the export is shown with the same progress bar as `kaigo notices export`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import notice_setup
from pypdf import PdfReader, PdfWriter
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import col, select

from kaigo.db import make_engine, make_sessionmaker
from models.notice import NoticePdf
from models.print_export import NoticeExportCreate
from notices.pool import RenderPool
from services import print_export

KIND, ISSUED_ON = notice_setup.KIND, notice_setup.ISSUED_ON


def bare_merge(pdfs: list[bytes]) -> bytes:
    """pypdf alone: the same PDFs appended and written, no database, no hash checks, no manifest."""
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(PdfReader(io.BytesIO(pdf)), import_outline=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    engine = make_engine(url, pool_size=2 * args.processes)
    sessions = make_sessionmaker(engine)
    pool = RenderPool(args.processes, log_level="WARNING")
    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        atena_numbers = await notice_setup.people(sessions, args.notices)
        await pool.warm_up()
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("issue", total=len(atena_numbers))
            issue_seconds, pages, _ = await notice_setup.issue_all(
                sessions,
                atena_numbers,
                pool.render,
                concurrency=2 * args.processes,
                on_issued=lambda: progress.advance(task),
            )

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

        async with sessions() as session:
            stored = list(
                (await session.exec(select(NoticePdf.pdf).order_by(col(NoticePdf.notice_id)))).all()
            )
        start = time.perf_counter()
        for first_notice in range(0, len(stored), args.batch_size):
            bare_merge(stored[first_notice : first_notice + args.batch_size])
        bare_seconds = time.perf_counter() - start
    finally:
        pool.close()
        await engine.dispose()

    n = args.notices
    size = sum((out / b.pdf_name).stat().st_size for b in report.batches)
    print(
        f"issue   {n} notices ({pages} pages), {args.processes} render processes: {issue_seconds:6.1f} s  "
        f"{1000 * issue_seconds / n:6.1f} ms/notice"
    )
    print(
        f"export  {n} notices in {len(report.batches)} batch(es) of {args.batch_size}: "
        f"{export_seconds:6.1f} s  "
        f"{1000 * export_seconds / n:6.1f} ms/notice  {1000 * export_seconds / pages:6.1f} ms/page"
        f"  (plan {1000 * plan_seconds:.0f} ms; {size / 1e6:.1f} MB of PDF)"
    )
    print(
        f"bare pypdf merge of the same PDFs in batches of {args.batch_size}: {bare_seconds:6.1f} s  "
        f"{1000 * bare_seconds / n:6.1f} ms/notice  (export = {export_seconds / bare_seconds:4.2f}× bare)"
    )
    print(
        f"rebuild one {first.notice_count}-notice batch PDF for download: {rebuild_seconds:5.2f} s "
        f"({len(content) / 1e6:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="render processes")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kaigo-bench-"))
    url, server = notice_setup.database(tmp)
    try:
        asyncio.run(run(args, url, tmp))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
