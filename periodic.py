"""Periodic work: what the worker registers and the Temporal Schedules it ensures at start.

One list per kind, so the next periodic procedures (daily arrears scan, renewal reconciliation) are one
entry each here; worker.py imports these three names and nothing else of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.audit import AuditActivities
from kaigo.config import Settings
from kaigo.schedules import ensure_schedule
from workflows.audit_anchor import AuditAnchorWorkflow, anchor_schedule_id

PERIODIC_WORKFLOWS: list[type] = [AuditAnchorWorkflow]


def periodic_activities(sessions: async_sessionmaker[AsyncSession]) -> list[Callable[..., Any]]:
    return [AuditActivities(sessions).read_chain_head]


async def ensure_periodic_schedules(client: Client, settings: Settings) -> None:
    await ensure_schedule(
        client,
        anchor_schedule_id(settings.temporal_task_queue),
        AuditAnchorWorkflow.run,
        task_queue=settings.temporal_task_queue,
        every=timedelta(minutes=settings.audit_anchor_minutes),
        execution_timeout=timedelta(minutes=5),
    )
