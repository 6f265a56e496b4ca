"""The kaigo-flow Temporal worker: every procedure workflow and its activities (notices: notice_worker.py).

Stateless: run as many as the CPU needs (docker compose `--scale worker=N`); Temporal spreads the work.
SIGTERM/SIGINT stop polling and let running activities finish (graceful_shutdown_timeout).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.registry import RegistryActivities
from activities.steps import StepActivities
from kaigo import temporal_client
from kaigo.config import Settings, get_settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.heartbeat import heartbeat_until
from kaigo.logs import configure_logging
from kaigo.search_attributes import ensure_search_attributes
from periodic import PERIODIC_WORKFLOWS, ensure_periodic_schedules, periodic_activities
from procedures import PROCEDURES, ensure_schedules

log = structlog.get_logger("kaigo.worker")


def activities_for(sessions: async_sessionmaker[AsyncSession]) -> list[Callable[..., Any]]:
    """The procedures' queue: every step's write, each procedure's own activities, registry look-ups."""
    steps = StepActivities(sessions, {case_type: p.read_model for case_type, p in PROCEDURES.items()})
    return [
        steps.apply_step,
        RegistryActivities(sessions).get_insured_status,
        *(activity for p in PROCEDURES.values() for activity in p.activities(sessions)),
        *periodic_activities(sessions),
    ]


WORKFLOWS = [w for p in PROCEDURES.values() for w in (p.workflow, *p.periodic_workflows)] + PERIODIC_WORKFLOWS


# Modules the sandbox does not import again for every new workflow (imported once, shared):
# - the procedure kernel: no state of its own (constants and classes; time and randomness come from the
#   workflow API) — a third of the worker's CPU when thousands of renewal terms start;
# - the renewal term, the procedure with tens of thousands of executions: importing it afresh (and applying
#   @workflow.defn to its class) was a third of the worker's CPU per new term, even with the kernel shared
#   (py-spy, docs/benchmarks.md "Renewal"). Its module holds only constants and pure functions.
# The sandbox's checks (no I/O, no clock) no longer run inside these modules here; they still do in CI: the
# replay test replays every recorded history under the default sandbox, without passthrough.
KERNEL_MODULES = ("workflows.procedure", "workflows.task_book", "workflows.calendar", "workflows.errors")
HIGH_VOLUME_WORKFLOWS = ("workflows.renewal",)
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*KERNEL_MODULES, *HIGH_VOLUME_WORKFLOWS)
)


def build_worker(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(sessions),
        graceful_shutdown_timeout=timedelta(seconds=30),
        workflow_runner=SANDBOX,
    )


async def run(settings: Settings) -> None:
    client = await temporal_client.connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    await ensure_periodic_schedules(client, settings)
    await ensure_schedules(client, settings)
    engine = make_engine(settings.require_database_url(), pool_size=settings.db_pool_size)
    sessions = make_sessionmaker(engine)
    worker = build_worker(client, settings, sessions)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    try:
        async with worker:
            log.info("worker_started", task_queue=settings.temporal_task_queue)
            await heartbeat_until(stop, settings.worker_heartbeat_file)
            log.info("worker_stopping")
    finally:
        await engine.dispose()
    log.info("worker_stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
