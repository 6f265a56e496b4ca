"""Temporal Schedules for periodic work, created or updated idempotently when a worker starts.

`ensure_schedule` makes the schedule `schedule_id` start `workflow` (with `arg`) every `every` or on `cron`,
with an overlap policy (default SKIP: a run still going when the next is due means the next is skipped).
Any number of workers may call it at once: one creates the schedule, the others find it already there and
update it to the same definition, so there is always exactly one schedule per id, and its definition is the
newest code's. Workflow ids of the runs are `<workflow_id>-<scheduled time>` (Temporal appends the time).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

Workflow = Callable[..., Awaitable[Any]] | str


def schedule_definition(
    workflow: Workflow,
    arg: Any = None,
    *,
    workflow_id: str,
    task_queue: str,
    every: timedelta | None = None,
    cron: str | None = None,
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
    execution_timeout: timedelta | None = None,
    time_zone: str = "Asia/Tokyo",
) -> Schedule:
    """The schedule as data (cron expressions are read in `time_zone`, the city's)."""
    if (every is None) == (cron is None):
        raise ValueError("give exactly one of `every` and `cron`")
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow,
            args=[] if arg is None else [arg],
            id=workflow_id,
            task_queue=task_queue,
            execution_timeout=execution_timeout,
        ),
        spec=ScheduleSpec(
            intervals=[] if every is None else [ScheduleIntervalSpec(every=every)],
            cron_expressions=[] if cron is None else [cron],
            time_zone_name=time_zone,
        ),
        policy=SchedulePolicy(overlap=overlap),
    )


async def ensure_schedule(
    client: Client,
    schedule_id: str,
    workflow: Workflow,
    arg: Any = None,
    *,
    task_queue: str,
    every: timedelta | None = None,
    cron: str | None = None,
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP,
    workflow_id: str | None = None,
    execution_timeout: timedelta | None = None,
    time_zone: str = "Asia/Tokyo",
) -> ScheduleHandle:
    """Create the schedule, or bring an existing one with this id to this definition (paused state kept)."""
    desired = schedule_definition(
        workflow,
        arg,
        workflow_id=workflow_id or schedule_id,
        task_queue=task_queue,
        every=every,
        cron=cron,
        overlap=overlap,
        execution_timeout=execution_timeout,
        time_zone=time_zone,
    )
    try:
        return await client.create_schedule(schedule_id, desired)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            desired.state = current.description.schedule.state  # an operator's pause survives a restart
            return ScheduleUpdate(schedule=desired)

        await handle.update(replace)
        return handle
