"""The notice worker: issues notices (通知書) on a task queue of its own, rendering in processes of its own.

    kaigo notice-worker            (or: python -m notice_worker)

Rendering a PDF is CPU work in Python. In the workflow worker it competed with workflow tasks for the GIL;
here the activity only takes the number and stores the PDF (short transactions), and the rendering runs
in a pool of processes, one per core unless NOTICE_RENDER_PROCESSES says otherwise. Only
NoticeActivities.issue_notice is registered, on Settings.notice_task_queue. SIGTERM/SIGINT stop polling
and let running activities finish.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.worker import Worker

from activities.notices import NoticeActivities
from kaigo import temporal_client
from kaigo.config import Settings, get_settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.heartbeat import heartbeat_until
from kaigo.logs import configure_logging
from notices.pool import RenderPool

log = structlog.get_logger("kaigo.notice_worker")


def build_worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], pool: RenderPool
) -> Worker:
    notices = NoticeActivities(sessions, settings, render=pool.render)
    return Worker(
        client,
        task_queue=settings.notice_task_queue,
        activities=[notices.issue_notice],
        # Two per process: while one notice renders, the next one takes its number or stores its PDF.
        max_concurrent_activities=2 * pool.processes,
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


def build_thread_worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Worker:
    """The same worker rendering in a thread of this process: for tests and the time-skipping server."""
    return Worker(
        client,
        task_queue=settings.notice_task_queue,
        activities=[NoticeActivities(sessions, settings).issue_notice],
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run(settings: Settings) -> None:
    pool = RenderPool(
        settings.notice_render_processes or None, log_level=settings.log_level, log_format=settings.log_format
    )
    engine = make_engine(settings.require_database_url(), pool_size=2 * pool.processes)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await pool.warm_up()
        client = await temporal_client.connect(settings)
        worker = build_worker(client, settings, make_sessionmaker(engine), pool)
        async with worker:
            log.info("notice_worker_started", task_queue=settings.notice_task_queue, processes=pool.processes)
            await heartbeat_until(stop, settings.worker_heartbeat_file)
            log.info("notice_worker_stopping")
    finally:
        pool.close()
        await engine.dispose()
    log.info("notice_worker_stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
