"""The harness of the workflow modules that run the production workers on the time-skipping test server
(test_certification, test_restriction, test_renewal_paths, test_renewal_reconciliation).

Each such module states what is its own: its task queue (`queue_settings`, via `own_task_queue`), the prefix
of the histories it records (`record_history`, via `history_recorder`) and, where its workflows sleep for
months, a test server of its own (`time_skipping_env`, via `time_skipping_server` in tests/conftest.py).
The fixtures that are the same for all of them (`worker`, `server_clock`, `opened`) are in
tests/workflows/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from kaigo.config import Settings
from workflows.calendar import JST

HISTORIES = Path(__file__).resolve().parent.parent / "histories"

RecordHistory = Callable[[Client, str, str], Awaitable[None]]

_clock: WorkflowEnvironment | None = None


@contextlib.contextmanager
def clock(env: WorkflowEnvironment) -> Iterator[None]:
    """`today()` reads `env`'s clock inside (the `server_clock` fixture: the running test's server)."""
    global _clock
    _clock = env
    yield
    _clock = None


async def today() -> date:
    """The business date on the test server's clock (time skipping moves it; the wall clock does not)."""
    assert _clock is not None
    return (await _clock.get_current_time()).astimezone(JST).date()


async def sleep_to(env: WorkflowEnvironment, day: date, hour: int = 10) -> None:
    """Skip the shared clock to `day` at `hour` JST."""
    now = await env.get_current_time()
    target = (now.astimezone(JST).replace(hour=hour, minute=0, second=0, microsecond=0)) + timedelta(
        days=(day - now.astimezone(JST).date()).days
    )
    if target > now:
        await env.sleep(target - now)


def own_task_queue(settings: Settings, prefix: str) -> Settings:
    """The settings on a task queue of the module's own (`prefix`-pid-…): its workers poll only its cases."""
    return settings.model_copy(update={"temporal_task_queue": f"{prefix}-{os.getpid()}-{id(settings)}"})


def history_recorder(prefix: str) -> RecordHistory:
    """`record(client, workflow_id, name)`: with RECORD_HISTORIES=1, the workflow's history is written to
    tests/histories/<prefix>_<name>.json, which test_replay.py replays."""

    async def record(client: Client, workflow_id: str, name: str) -> None:
        if os.environ.get("RECORD_HISTORIES") != "1":
            return
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{prefix}_{name}.json").write_text(history.to_json())

    return record
