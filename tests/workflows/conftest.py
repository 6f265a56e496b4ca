"""Fixtures of the modules that drive the production workers on the time-skipping test server.

They need what each such module defines for itself (tests/workflows/time_skipping.py): `queue_settings`, and
`time_skipping_env` where the module has a server of its own (otherwise the session's, tests/conftest.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from kaigo.config import Settings
from notice_worker import build_thread_worker as build_notice_worker
from tests.workflows import time_skipping
from worker import build_worker


@pytest.fixture
async def worker(
    time_skipping_env: WorkflowEnvironment,
    queue_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Client]:
    """The production workers (procedures and notices) on the test server, polling the module's queue."""
    client = time_skipping_env.client
    async with (
        build_worker(client, queue_settings, sessions),
        build_notice_worker(client, queue_settings, sessions),
    ):
        yield client


@pytest.fixture
def server_clock(time_skipping_env: WorkflowEnvironment) -> Iterator[None]:
    """`time_skipping.today()` reads the test server this test runs on. Modules that use `today()` request it
    for every test: `pytestmark = pytest.mark.usefixtures("server_clock")`."""
    with time_skipping.clock(time_skipping_env):
        yield


@pytest.fixture
async def opened(worker: Client) -> AsyncIterator[list[str]]:
    """Workflow ids (cases, terms) the test started: terminated at the end (a running one would hold the
    shared clock)."""
    started: list[str] = []
    yield started
    for workflow_id in started:
        with contextlib.suppress(RPCError):
            await worker.get_workflow_handle(workflow_id).terminate("test finished")
