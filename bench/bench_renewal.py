"""更新案内 at a city's scale (issue #11 item 5): 25,000 certification terms started by the reconciliation on
the dev server, the worker's and the server's memory, and a day's batch of ~500 reminders waking at once —
each beside a bare Temporal baseline measured in the same run.

    .venv/bin/python bench/bench_renewal.py [--terms 25000] [--batch 500]

1. A throw-away embedded PostgreSQL (migrated), seeded in bulk SQL: `--terms` persons, insured and
   certifications. `--batch` of them expire so that their first reminder is due TOMORROW (JST); the rest
   expire 62 days to 48 months ahead (none due yet, so the start phase issues no notices).
2. The whole system as `make dev` runs it (`python -m cli dev` on free ports, that database): the Temporal
   dev server, the worker (`python -m worker`), the notice worker, the API.
3. Baseline: `--terms` bare workflows of one timer (sleep 30 days) started directly with the client,
   START_CONCURRENCY at a time and eagerly (as the reconciliation starts terms), run by an in-process
   worker on that client.
4. Ours: the reconciliation Schedule triggered, as the certification import does. Reported: the time until
   it has started every term (each running in Temporal), and until the worker has run every term's first
   task (no workflow task waits on the queue; a sample of terms is checked for the timer they sleep on);
   the worker's and the dev server's RSS, peak (sampled every 0.5 s) and steady (after the terms sleep).
   PostgreSQL is not counted.
5. The day's batch. The dev server cannot skip a day, so the batch's terms are woken by the signal that
   makes a reminder due today: `policy_changed` with the first notice one day earlier (RENEWAL_POLICY's
   first_notice_offset_days = -1). Each term wakes, replays if it was evicted from the worker's cache,
   issues its 「有効期間終了のお知らせ」 through the notice worker (number, render, PDF stored) and sleeps
   again. Reported: the time from the first signal until every PDF is stored, notices/s. Baseline: bare
   WeasyPrint rendering of as many of the same notice in as many processes as the notice worker renders
   with (bench/bench_notices.py's bare_pdf).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psutil
import psycopg
from _harness import ROOT, database
from bench_e2e import _free_port, stop_stack
from bench_notices import bare_pdf
from temporalio import workflow
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from kaigo import temporal_client
from kaigo.config import Settings
from models.renewal import PolicyChanged, ReconcileResult, RenewalPolicy
from notices import fixtures
from notices.numbering import document_no
from notices.render import render_html
from rules.renewal import first_notice_day
from services.renewal import START_CONCURRENCY, term_case_id
from workflows.renewal import NOTICE_KIND, RECONCILE_SCHEDULE_ID

JST = ZoneInfo("Asia/Tokyo")
# The stack's own daily reconciliation must not fire during the bench (05:30 JST by default).
POLICY = RenewalPolicy(reconcile_cron="0 3 1 1 *")
BATCH_POLICY = POLICY.model_copy(update={"first_notice_offset_days": -1})


# ------------------------------------------------------------------------------------------------ seed


def _expiry_due_tomorrow(today: date) -> date:
    tomorrow = today + timedelta(days=1)
    return next(
        today + timedelta(days=d)
        for d in range(30, 120)
        if first_notice_day(today + timedelta(days=d)) == tomorrow
    )


def seed(libpq: str, terms: int, batch: int, today: date) -> list[str]:
    """Persons, insured and certifications; the batch's certification ids (their first reminder tomorrow)."""
    due = _expiry_due_tomorrow(today)
    spread = 48 * 30 - 62  # the others: 62 days .. ~48 months ahead, none due yet
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        params = {"n": terms, "batch": batch, "today": today, "due": due, "spread": spread}
        conn.execute(
            """
            INSERT INTO person (atena_no, name_kanji, name_kana, kana_key, birth_date, sex, postal_code,
                                address, created_at, updated_at)
            SELECT (400000000000 + i)::text, '試験 花子', 'シケン ハナコ', 'シケンハナコ', date '1940-04-01',
                   '2', '0700031', '北海道旭川市一条通8丁目', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO insured (insured_no, atena_no, category, acquired_on, acquisition_reason,
                                 jusho_tokurei, created_at, updated_at)
            SELECT '7' || lpad(i::text, 9, '0'), (400000000000 + i)::text, '1', date '2005-04-01', 'age_65',
                   false, now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            params,
        )
        conn.execute(
            """
            INSERT INTO certification (id, atena_no, insured_no, level, valid_from, valid_to, service_types,
                                       decided_on, service_use_last_year, source, created_at)
            SELECT md5('renewal-bench' || i), (400000000000 + i)::text, '7' || lpad(i::text, 9, '0'),
                   (ARRAY['要支援1','要支援2','要介護1','要介護2','要介護3','要介護4','要介護5'])[1 + i %% 7],
                   v.valid_to - 365, v.valid_to, '[]'::jsonb, v.valid_to - 395, true, 'imported', now()
            FROM generate_series(1, %(n)s) AS i,
                 LATERAL (SELECT CASE WHEN i <= %(batch)s THEN %(due)s::date
                                      ELSE %(today)s::date + 62 + (i * 7919) %% %(spread)s END AS valid_to) v
            """,
            params,
        )
        conn.execute("ANALYZE")
        rows = conn.execute(
            "SELECT md5('renewal-bench' || i) FROM generate_series(1, %(batch)s) AS i", params
        ).fetchall()
    return [r[0] for r in rows]


def count(libpq: str, sql: str, params: dict[str, object] | None = None) -> int:
    with psycopg.connect(libpq, autocommit=True) as conn:
        row = conn.execute(sql, params or {}).fetchone()
    return int(row[0]) if row else 0


# ------------------------------------------------------------------------------------------------ stack


def start_stack(data_dir: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m cli dev` on free ports with the seeded database (bench_e2e's start_stack lets it
    start its own); the Temporal address once the API is ready."""
    ports = {"API_PORT": _free_port(), "TEMPORAL_PORT": _free_port(), "TEMPORAL_UI_PORT": _free_port()}
    # Bytecode cached, Python's default (the Dockerfile keeps it; this machine's shell disables it): without
    # it the workflow sandbox, which imports the workflow modules afresh for every new workflow, compiles
    # their source each time (a fifth of the worker's CPU while terms start, py-spy).
    env = {k: v for k, v in os.environ.items() if k not in ("TEMPORAL_ADDRESS", "PYTHONDONTWRITEBYTECODE")}
    env.update({k: str(v) for k, v in ports.items()}, DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    env.update(DATABASE_URL=database_url, RENEWAL_POLICY=POLICY.model_dump_json())
    log = (data_dir / "dev.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "dev"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"kaigo dev exited early; see {data_dir / 'dev.log'}")
        try:
            if httpx.get(f"http://localhost:{ports['API_PORT']}/readyz", timeout=2).status_code == 200:
                return process, f"localhost:{ports['TEMPORAL_PORT']}"
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("kaigo dev was not ready in 180 s")


# ----------------------------------------------------------------------------------------------- memory


@dataclass
class Sampler:
    """Peak RSS of the worker and the dev server, sampled every 0.5 s while a phase runs, and the CPU time
    each process (and the bench's own, where the baseline's worker runs) spent in the phase."""

    processes: dict[str, psutil.Process]
    peak: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def rss(self) -> dict[str, int]:
        return {name: p.memory_info().rss for name, p in self.processes.items()}

    def cpu_seconds(self) -> dict[str, float]:
        every = {**self.processes, "bench": psutil.Process()}
        return {name: sum(p.cpu_times()[:2]) for name, p in every.items()}

    def __enter__(self) -> Sampler:
        self.peak = self.rss()
        self._cpu_before = self.cpu_seconds()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for name, value in self.rss().items():
                self.peak[name] = max(self.peak[name], value)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        after = self.cpu_seconds()
        self.cpu = {name: after[name] - before for name, before in self._cpu_before.items()}

    def per(self, name: str, count: int) -> str:
        return f"{self.cpu[name] * 1000 / count:5.1f} ms"


def stack_processes(stack: psutil.Process) -> dict[str, psutil.Process]:
    found: dict[str, psutil.Process] = {}
    for child in stack.children(recursive=True):
        command = " ".join(child.cmdline())
        if command.endswith("-m worker"):
            found["worker"] = child
        elif "start-dev" in command:
            found["temporal dev server"] = child
    assert set(found) == {"worker", "temporal dev server"}, found
    return found


def _mb(value: int) -> str:
    return f"{value / 2**20:6.0f} MB"


# ------------------------------------------------------------------------------------------- baseline

_ran: set[str] = set()


@workflow.defn(sandboxed=False)
class BareTimerWorkflow:
    @workflow.run
    async def run(self) -> None:
        _ran.add(workflow.info().workflow_id)  # the bench counts first runs (not deterministic: a bench)
        await workflow.sleep(timedelta(days=30))


async def bare_timers(address: str, terms: int) -> tuple[float, float, int]:
    """(seconds until all started, until each ran its first task, the bench process's RSS)."""
    client = await Client.connect(address)
    queue = f"bench-timers-{os.getpid()}"
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(n: int) -> None:
        async with gate:
            await client.start_workflow(  # started as the terms are: eagerly, by a client with a worker
                BareTimerWorkflow.run, id=f"{queue}-{n}", task_queue=queue, request_eager_start=True
            )

    async with Worker(client, task_queue=queue, workflows=[BareTimerWorkflow]):
        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(terms)))
        started = time.perf_counter() - began
        while len(_ran) < terms:
            await asyncio.sleep(0.2)
        ran = time.perf_counter() - began
        return started, ran, psutil.Process().memory_info().rss


# ------------------------------------------------------------------------------------------------ ours


async def workflow_backlog(client: Client, task_queue: str) -> int:
    """Workflow tasks waiting on the queue (the server's approximate count)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
        )
    )
    return response.stats.approximate_backlog_count


async def sleeping(client: Client, case_id: str) -> bool:
    """The term ran its first task: its history holds the timer it sleeps on."""
    history = await client.get_workflow_handle(case_id).fetch_history()
    return any(event.HasField("timer_started_event_attributes") for event in history.events)


async def start_terms(address: str, libpq: str, terms: int) -> tuple[float, float, int]:
    """Trigger the reconciliation; (seconds until it has started every term, until the worker has run each
    one's first task, terms started)."""
    settings = Settings(temporal_address=address)  # type: ignore[call-arg]
    client = await temporal_client.connect(settings)
    schedule = client.get_schedule_handle(RECONCILE_SCHEDULE_ID)
    began = time.perf_counter()
    await schedule.trigger()
    while not (actions := (await schedule.describe()).info.recent_actions):
        await asyncio.sleep(0.1)
    run = client.get_workflow_handle(
        actions[-1].action.workflow_id,  # type: ignore[attr-defined]
        result_type=ReconcileResult,
    )
    result = await run.result()
    started = time.perf_counter() - began
    assert result.started_count >= terms, f"the reconciliation started {result.started_count} terms"
    # Each new term's first (and only) task sets its timer: done when no workflow task waits any more.
    while await workflow_backlog(client, settings.temporal_task_queue) > 0:
        await asyncio.sleep(0.5)
    ran = time.perf_counter() - began
    sample = random.Random(7).sample(result.started, min(len(result.started), 50))
    asleep = await asyncio.gather(*(sleeping(client, case_id) for case_id in sample))
    assert all(asleep), f"{asleep.count(False)} of {len(sample)} sampled terms have not set their timer"
    unmarked = count(libpq, "SELECT count(*) FROM certification_term WHERE NOT workflow_started")
    assert unmarked == 0, f"{unmarked} terms not marked started"
    return started, ran, result.started_count


async def wake_batch(address: str, libpq: str, certification_ids: list[str]) -> float:
    """Signal the batch's terms that their first reminder is due today; seconds until every PDF is stored."""
    client = await temporal_client.connect(Settings(temporal_address=address))  # type: ignore[call-arg]
    change = PolicyChanged(policy=BATCH_POLICY)
    gate = asyncio.Semaphore(START_CONCURRENCY)
    case_ids = [term_case_id(c) for c in certification_ids]

    async def one(case_id: str) -> None:
        async with gate:
            await client.get_workflow_handle(case_id).signal("policy_changed", change)

    stored_sql = """
        SELECT count(*) FROM notice n JOIN notice_pdf p ON p.notice_id = n.id
        WHERE n.kind = %(kind)s AND n.idempotency_key LIKE 'renewal-%%'
    """
    began = time.perf_counter()
    await asyncio.gather(*(one(c) for c in case_ids))
    while count(libpq, stored_sql, {"kind": NOTICE_KIND}) < len(case_ids):
        await asyncio.sleep(0.2)
    return time.perf_counter() - began


def bare_rendering(batch: int, processes: int) -> float:
    issuer = fixtures.issuer()
    data = fixtures.load(NOTICE_KIND)
    htmls = [
        render_html(NOTICE_KIND, {**data, "document_no": document_no(NOTICE_KIND, 2026, i)}, issuer)
        for i in range(1, batch + 1)
    ]
    with ProcessPoolExecutor(processes) as executor:
        list(executor.map(bare_pdf, htmls[:processes]))  # start and warm the processes
        began = time.perf_counter()
        list(executor.map(bare_pdf, htmls, chunksize=4))
        return time.perf_counter() - began


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=25_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    today = datetime.now(JST).date()
    processes = os.cpu_count() or 1  # the notice worker's render pool (NOTICE_RENDER_PROCESSES unset)
    rows: list[tuple[str, str]] = []
    with database("renewal") as db, tempfile.TemporaryDirectory(prefix="kaigo-bench-renewal-") as tmp:
        began = time.perf_counter()
        batch_ids = seed(db.libpq, args.terms, args.batch, today)
        rows.append(
            (
                f"seed {args.terms} persons/insured/certifications (bulk SQL)",
                f"{time.perf_counter() - began:6.1f} s",
            )
        )
        process, address = start_stack(Path(tmp), db.url)
        try:
            found = stack_processes(psutil.Process(process.pid))
            sampler = Sampler(found)
            idle = sampler.rss()
            with sampler:
                started, ran, bench_rss = asyncio.run(bare_timers(address, args.terms))
            rows += [
                (f"baseline: {args.terms} one-timer workflows started, {START_CONCURRENCY} at a time",
                 f"{started:6.1f} s  {args.terms / started:6.0f}/s   all ran their first task {ran:6.1f} s"),
                ("  baseline worker (in the bench process) RSS", _mb(bench_rss)),
                ("  CPU per workflow: dev server / bench process (client and worker)",
                 f"{sampler.per('temporal dev server', args.terms)} / {sampler.per('bench', args.terms)}"),
                ("  dev server RSS idle → peak",
                 f"{_mb(idle['temporal dev server'])} → {_mb(sampler.peak['temporal dev server'])}"),
            ]  # fmt: skip
            with sampler:
                started, settled, created = asyncio.run(start_terms(address, db.libpq, args.terms))
            time.sleep(10)
            steady = sampler.rss()
            rows += [
                (f"ours: reconciliation started {created} terms, {START_CONCURRENCY} at a time",
                 f"{started:6.1f} s  {created / started:6.0f}/s"),
                ("  the worker has run every term's first task", f"{settled:6.1f} s"),
                ("  CPU per term: dev server / worker (reconciliation and terms)",
                 f"{sampler.per('temporal dev server', created)} / {sampler.per('worker', created)}"),
                ("  worker RSS idle → peak → steady",
                 f"{_mb(idle['worker'])} → {_mb(sampler.peak['worker'])} → {_mb(steady['worker'])}"),
                ("  dev server RSS peak → steady",
                 f"{_mb(sampler.peak['temporal dev server'])} → {_mb(steady['temporal dev server'])}"),
            ]  # fmt: skip
            with sampler:
                seconds = asyncio.run(wake_batch(address, db.libpq, batch_ids))
            rows += [
                (f"ours: the day's batch, {args.batch} terms woken → PDFs stored",
                 f"{seconds:6.1f} s  {args.batch / seconds:6.1f} notices/s"),
                ("  worker RSS peak", _mb(sampler.peak["worker"])),
            ]  # fmt: skip
        finally:
            stop_stack(process)
    bare = bare_rendering(args.batch, processes)
    rows.append(
        (f"baseline: bare WeasyPrint, {args.batch} notices in {processes} processes",
         f"{bare:6.1f} s  {args.batch / bare:6.1f} notices/s   (ours {seconds / bare:4.2f}× bare)")
    )  # fmt: skip
    width = max(len(label) for label, _ in rows)
    print(f"nproc {os.cpu_count()}; load average {os.getloadavg()[0]:.2f} at the end; {today} JST")
    for label, result in rows:
        print(f"{label:<{width}}  {result}")


if __name__ == "__main__":
    main()
