"""The kaigo-flow Temporal worker: every workflow and activity on one task queue.

Stateless: run as many as the CPU needs (docker compose `--scale worker=N`); Temporal spreads the work.
SIGTERM/SIGINT stop polling and let running activities finish (graceful_shutdown_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker

from activities.cases import CaseActivities
from activities.notices import NoticeActivities
from activities.registry import RegistryActivities
from kaigo import temporal_client
from kaigo.config import Settings, get_settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.logs import configure_logging
from kaigo.periodic import PERIODIC_WORKFLOWS, ensure_periodic_schedules, periodic_activities
from kaigo.search_attributes import ensure_search_attributes
from workflows.certification import CertificationWorkflow

log = structlog.get_logger("kaigo.worker")

HEARTBEAT_INTERVAL_S = 15.0


def activities_for(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[Callable[..., Any]]:
    registry, cases, notices = (
        RegistryActivities(sessions),
        CaseActivities(sessions),
        NoticeActivities(sessions, settings),
    )
    return [
        registry.get_insured_status,
        cases.open_task,
        cases.close_task,
        cases.record_case_event,
        cases.update_application,
        cases.save_certification,
        cases.allocate_board_meeting,
        cases.record_board_vote,
        notices.issue_notice,
        *periodic_activities(sessions),
    ]


WORKFLOWS = [CertificationWorkflow, *PERIODIC_WORKFLOWS]


def build_worker(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        # Every activity is async; the CPU-heavy one (PDF rendering) hands its work to a thread itself.
        activities=activities_for(settings, sessions),
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run(settings: Settings) -> None:
    client = await temporal_client.connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    await ensure_periodic_schedules(client, settings)
    engine = make_engine(settings.require_database_url(), pool_size=settings.db_pool_size)
    worker = build_worker(client, settings, make_sessionmaker(engine))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    try:
        async with worker:
            log.info("worker_started", task_queue=settings.temporal_task_queue)
            await _heartbeat_until(stop, settings.worker_heartbeat_file)
            log.info("worker_stopping")
    finally:
        await engine.dispose()
    log.info("worker_stopped")


async def _heartbeat_until(stop: asyncio.Event, heartbeat_file: Path | None) -> None:
    """Wait for a stop signal, touching the heartbeat file meanwhile (a stuck loop stops touching it)."""
    while not stop.is_set():
        if heartbeat_file is not None:
            heartbeat_file.touch()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_INTERVAL_S)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
