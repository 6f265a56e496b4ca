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
Reported: wall time, starts/s, the server's and this process's (client + worker) CPU per workflow. The rate
falls as the server's database grows (1,000 delayed starts ran at 223/s, 25,000 at 167/s): for a city's
figure run it with `--workflows 25000` (about 8 minutes).
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
from typing import Any

import psutil
from bench_e2e import _free_port
from temporalio import workflow
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.renewal import START_CONCURRENCY

SLEEP = timedelta(days=60)


@workflow.defn
class OneTimerWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(SLEEP)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


async def _ready(client: Client) -> None:
    """The dev server registers its namespace just after its port opens."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
            return
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _start_all(client: Client, mode: str, count: int) -> float:
    queue = f"floor-{mode}"
    how: dict[str, Any] = {"request_eager_start": True} if mode == "eager" else {"start_delay": SLEEP}
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(n: int) -> None:
        async with gate:
            await client.start_workflow(OneTimerWorkflow.run, id=f"{queue}-{n}", task_queue=queue, **how)

    # Unsandboxed: the floor is the server's, not the sandbox's (bench_renewal.py measures ours).
    async with Worker(
        client, task_queue=queue, workflows=[OneTimerWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return time.perf_counter() - began


async def measure(mode: str, count: int) -> None:
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
            client = await Client.connect(f"localhost:{port}")
            await _ready(client)
            processes += processes[0].children(recursive=True)
            me = psutil.Process()
            server_before, me_before = _cpu_seconds(processes), _cpu_seconds([me])
            wall = await _start_all(client, mode, count)
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
        f"server {server_ms:5.1f} ms, client+worker {me_ms:4.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=2000)
    args = parser.parse_args()
    print(f"{psutil.cpu_count()} cores; {args.workflows} workflows per mode, each mode on a fresh dev server")
    for mode in ("eager", "delayed"):
        asyncio.run(measure(mode, args.workflows))


if __name__ == "__main__":
    main()
