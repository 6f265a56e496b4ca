"""The floor under bench_renewal.py: how fast the Temporal dev server on this machine starts workflows at all,
whatever the workflow does. Issue #11 item 5 asks for 25,000 terms started in 2 minutes; this shows what the
server alone allows.

    .venv/bin/python bench/bench_start_floor.py [--workflows 2000]

Each mode gets a fresh dev server (the command `make dev` runs, its own SQLite file) and starts
`--workflows` workflows START_CONCURRENCY at a time from one client:
- eager: a one-timer workflow started with request_eager_start, run by an in-process worker (what a term's
  start costs at the least: one workflow task that sets a timer);
- delayed: the same workflow started with start_delay (no workflow task at all until the delay ends; the
  cheapest start Temporal has).
Reported: wall time, starts/s, the server's and this process's (client + worker) CPU per workflow, and the
time 25,000 would take at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil
from bench_e2e import _free_port
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.renewal import START_CONCURRENCY

CITY = 25_000
SLEEP = timedelta(days=60)


@workflow.defn
class OneTimerWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(SLEEP)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


async def _start_all(address: str, mode: str, count: int) -> float:
    client = await Client.connect(address)
    queue = f"floor-{mode}"
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(n: int) -> None:
        async with gate:
            if mode == "eager":
                await client.start_workflow(
                    OneTimerWorkflow.run, id=f"{queue}-{n}", task_queue=queue, request_eager_start=True
                )
            else:
                await client.start_workflow(
                    OneTimerWorkflow.run, id=f"{queue}-{n}", task_queue=queue, start_delay=SLEEP
                )

    # Unsandboxed: the floor is the server's, not the sandbox's (bench_renewal.py measures ours).
    async with Worker(
        client, task_queue=queue, workflows=[OneTimerWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return time.perf_counter() - began


def measure(mode: str, count: int) -> None:
    from kaigo import embedded

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="kaigo-floor-") as scratch:
        command = embedded.temporal_dev_server_command(
            db_file=Path(scratch) / "temporal.db", port=port, ui_port=_free_port()
        )
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes = [psutil.Process(server.pid)]
        try:
            embedded.wait_for_port("127.0.0.1", port)
            time.sleep(2)  # the namespace and search attributes are registered just after the port opens
            processes += processes[0].children(recursive=True)
            me = psutil.Process()
            server_before, me_before = _cpu_seconds(processes), _cpu_seconds([me])
            wall = asyncio.run(_start_all(f"localhost:{port}", mode, count))
            server_ms = (_cpu_seconds(processes) - server_before) / count * 1000
            me_ms = (_cpu_seconds([me]) - me_before) / count * 1000
        finally:
            for process in reversed(processes):
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.terminate()
            server.wait(timeout=30)
    rate = count / wall
    print(
        f"{mode:8} {count} started in {wall:6.1f} s ({rate:5.0f}/s); CPU per workflow: "
        f"server {server_ms:5.1f} ms, client+worker {me_ms:4.1f} ms; "
        f"{CITY:,} at this rate: {CITY / rate:5.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=2000)
    args = parser.parse_args()
    print(f"{psutil.cpu_count()} cores; {args.workflows} workflows per mode, each mode on a fresh dev server")
    for mode in ("eager", "delayed"):
        measure(mode, args.workflows)


if __name__ == "__main__":
    main()
