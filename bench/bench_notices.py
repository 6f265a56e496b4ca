"""Notice speed: one notice (ours vs bare WeasyPrint, same font, same HTML), and 1,000 notices issued end to
end (through services.notices and PostgreSQL, rendering in a process pool) vs bare WeasyPrint rendering as
many in as many processes.

    .venv/bin/python bench/bench_notices.py [--rounds 3] [--issue 1000] [--processes N]

"Bare WeasyPrint" is HTML(string=…).write_pdf() with the wheel's font file loaded by an @font-face file://
URL: what one writes first. Ours renders the same HTML with the font cut to the document's characters by
HarfBuzz first (notices.fonts). Single-notice times are medians over every kind, interleaved so that load
from other processes falls on both alike. Uses DATABASE_URL if set (a scratch database: it adds persons
and notices), else a throw-away embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import notice_setup
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from kaigo.db import make_engine, make_sessionmaker
from notices import fixtures, fonts
from notices.catalogue import kind_codes
from notices.numbering import document_no
from notices.pool import RenderPool, render_in_thread
from notices.render import render_html, render_notice, render_pdf

_FILE_FONT = f'@font-face {{ font-family: "{fonts.FAMILY}"; src: url("{fonts.font_path().as_uri()}"); }}'


def bare_pdf(html: str) -> bytes:
    font_config = FontConfiguration()
    css = CSS(string=_FILE_FONT, font_config=font_config)
    return HTML(string=html).write_pdf(stylesheets=[css], font_config=font_config)


def _timed(render: Callable[[], bytes]) -> tuple[float, int]:
    start = time.perf_counter()
    pdf = render()
    return time.perf_counter() - start, len(pdf)


def single(rounds: int) -> list[tuple[str, str]]:
    issuer = fixtures.issuer()
    kinds = kind_codes()
    htmls = [render_html(k, fixtures.load(k), issuer) for k in kinds]
    start = time.perf_counter()
    render_pdf(htmls[0])
    cold = time.perf_counter() - start  # the imports and the font's first mapping, once per process
    bare_pdf(htmls[0])  # warm WeasyPrint's own caches too, so neither side pays them below
    ours, bare, full = [], [], []
    for _ in range(rounds):
        for kind, html in zip(kinds, htmls, strict=True):
            bare.append(_timed(lambda h=html: bare_pdf(h)))
            ours.append(_timed(lambda h=html: render_pdf(h)))
            full.append(_timed(lambda k=kind: render_notice(k, fixtures.load(k), issuer).pdf))

    def median_ms(runs: list[tuple[float, int]]) -> float:
        return 1000 * statistics.median(r[0] for r in runs)

    def size_kb(runs: list[tuple[float, int]]) -> float:
        return statistics.mean(r[1] for r in runs) / 1000

    n = len(ours)
    return [
        ("first render in this process (ours)", f"{1000 * cold:7.0f} ms"),
        (
            f"one notice, bare WeasyPrint ({n}×)",
            f"{median_ms(bare):7.0f} ms median   PDF {size_kb(bare):5.0f} kB",
        ),
        (
            f"one notice, ours, same HTML ({n}×)",
            f"{median_ms(ours):7.0f} ms median   PDF {size_kb(ours):5.0f} kB   "
            f"= {median_ms(ours) / median_ms(bare):4.2f}× bare",
        ),
        (f"one notice, ours, data → HTML → PDF ({n}×)", f"{median_ms(full):7.0f} ms median"),
    ]


def _cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (pools are joined before reading)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _htmls(count: int) -> list[str]:
    """The bench's notices as HTML, numbered as issued, for the bare baseline."""
    issuer = fixtures.issuer()
    data = fixtures.load(notice_setup.KIND)
    return [
        render_html(
            notice_setup.KIND, {**data, "document_no": document_no(notice_setup.KIND, 2026, i)}, issuer
        )
        for i in range(1, count + 1)
    ]


async def _people(url: str, count: int) -> list[str]:
    engine = make_engine(url, pool_size=1)
    try:
        return await notice_setup.people(make_sessionmaker(engine), count)
    finally:
        await engine.dispose()


def _issue_with_pool(url: str, atena_numbers: list[str], processes: int) -> tuple[float, int, list[int]]:
    """The notice worker's design: one process takes numbers and stores PDFs, a pool renders."""

    async def run() -> tuple[float, int, list[int]]:
        engine = make_engine(url, pool_size=2 * processes)
        pool = RenderPool(processes, log_level="WARNING")
        try:
            await pool.warm_up()
            return await notice_setup.issue_all(
                make_sessionmaker(engine), atena_numbers, pool.render, concurrency=2 * processes
            )
        finally:
            pool.close()
            await engine.dispose()

    return asyncio.run(run())


def _warm() -> None:
    render_notice(notice_setup.KIND, fixtures.load(notice_setup.KIND), fixtures.issuer())


def _issue_in_threads(url: str, atena_numbers: list[str]) -> tuple[float, int, list[int]]:
    """The alternative: a whole worker per core, each rendering in a thread of its own process."""

    async def run() -> tuple[float, int, list[int]]:
        engine = make_engine(url, pool_size=2)
        try:
            return await notice_setup.issue_all(
                make_sessionmaker(engine), atena_numbers, render_in_thread, concurrency=2
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _issue_with_workers(url: str, atena_numbers: list[str], processes: int) -> tuple[float, int, list[int]]:
    slices = [atena_numbers[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as executor:
        for future in [executor.submit(_warm) for _ in range(processes)]:
            future.result()
        start = time.perf_counter()
        results = list(executor.map(_issue_in_threads, [url] * processes, slices))
        seconds = time.perf_counter() - start
    return seconds, sum(r[1] for r in results), [n for r in results for n in r[2]]


def issued_end_to_end(count: int, processes: int, url: str) -> list[tuple[str, str]]:
    # Wall time depends on what else runs on the machine; CPU time per notice much less. Divided by the
    # cores it is the wall time an otherwise idle machine would need (PostgreSQL's own CPU not counted).
    cores = os.cpu_count() or 1

    def row(label: str, seconds: float, cpu: float, extra: str = "") -> tuple[str, str]:
        return (
            label,
            f"{seconds:7.1f} s  {1000 * seconds / count:6.1f} ms/notice   CPU {1000 * cpu / count:5.1f} "
            f"ms/notice → {cpu / cores:5.1f} s on {cores} idle cores{extra}",
        )

    htmls = _htmls(count)
    cpu = _cpu_seconds()
    with ProcessPoolExecutor(processes) as executor:
        list(executor.map(bare_pdf, htmls[:processes]))  # start and warm the processes
        start = time.perf_counter()
        list(executor.map(bare_pdf, htmls, chunksize=4))
        bare_seconds = time.perf_counter() - start
    rows = [
        row(
            f"{count} notices, bare WeasyPrint, {processes} processes, no database",
            bare_seconds,
            _cpu_seconds() - cpu,
        )
    ]

    atena_numbers = asyncio.run(_people(url, 2 * count))
    expected = list(range(1, count + 1))
    designs = (
        (f"{count} issued end to end, 1 worker + {processes} render processes", _issue_with_pool),
        (f"{count} issued end to end, {processes} workers rendering in a thread", _issue_with_workers),
    )
    for turn, (label, issue) in enumerate(designs):
        cpu = _cpu_seconds()
        seconds, pages, numbers = issue(url, atena_numbers[turn * count : (turn + 1) * count], processes)
        gapless = sorted(numbers) == expected
        extra = (
            f"   = {seconds / bare_seconds:4.2f}× bare   ({pages} pages; "
            f"numbers {expected[0]}..{expected[-1]} {'gapless and unique' if gapless else 'NOT GAPLESS'})"
        )
        rows.append(row(label, seconds, _cpu_seconds() - cpu, extra))
        expected = [n + count for n in expected]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every kind (0: skip)")
    parser.add_argument("--issue", type=int, default=1000, help="notices issued end to end (0: skip)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="render processes")
    args = parser.parse_args()

    rows = single(args.rounds) if args.rounds else []
    if args.issue:
        tmp = Path(tempfile.mkdtemp(prefix="kaigo-bench-"))
        url, server = notice_setup.database(tmp)
        try:
            rows += issued_end_to_end(args.issue, args.processes, url)
        finally:
            if server is not None:
                server.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
    width = max(len(label) for label, _ in rows)
    print(f"nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.2f} at the end")
    for label, result in rows:
        print(f"{label:<{width}}  {result}")


if __name__ == "__main__":
    main()
