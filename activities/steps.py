"""`apply_step`: the one activity that ends every workflow step (workflows/procedure.py).

It writes, in one transaction, everything the step changed: tasks closed and opened, timeline events, the
case header, and the procedure's own read-model patch (through that procedure's `ReadModel`). Idempotent, so a
retry after a crash changes nothing twice: inserts are keyed and skip existing keys, task closes only touch
open tasks, and patches set values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from models.case import CaseEvent, CaseRecord, CaseState, CaseType
from models.common import utcnow
from models.procedure import CaseUpdate, StepWrite
from models.task import Task, TaskState


class ReadModel(Protocol):
    """A procedure's own tables, patched by its workflow's steps."""

    async def apply(self, session: AsyncSession, case_id: str, patch: dict[str, Any]) -> None: ...


class StepActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], read_models: Mapping[CaseType, ReadModel]
    ) -> None:
        self._sessions = sessions
        self._read_models = read_models

    @activity.defn
    async def apply_step(self, step: StepWrite) -> None:
        now = utcnow()
        async with self._sessions() as session, session.begin():
            if step.opened:
                # A task belongs to its case's handling office (the inbox filters on it).
                office = (
                    await session.exec(select(CaseRecord.office).where(col(CaseRecord.id) == step.case_id))
                ).first()
                await session.exec(
                    insert(Task)
                    .values([_task_row(step, task.model_dump(), now, office) for task in step.opened])
                    .on_conflict_do_nothing(index_elements=["id"])
                )
            # After the inserts: a task opened and cancelled in one step (a case ended at once) closes too.
            for close in step.closed:
                await session.exec(
                    sa.update(Task)
                    .where(col(Task.id) == uuid.UUID(close.task_id), col(Task.state) == TaskState.OPEN)
                    .values(state=close.state, closed_at=now, closed_by=close.actor, version=Task.version + 1)
                )
            if step.events:
                await session.exec(
                    insert(CaseEvent)
                    .values(
                        [
                            {
                                **event.model_dump(),
                                "case_id": step.case_id,
                                "subject_atena_no": step.subject_atena_no,
                                "at": now,
                            }
                            for event in step.events
                        ]
                    )
                    .on_conflict_do_nothing(constraint="uq_case_event_once")
                )
            if step.case is not None:
                await session.exec(
                    sa.update(CaseRecord)
                    .where(col(CaseRecord.id) == step.case_id)
                    .values(**_case_values(step.case), updated_at=now)
                )
            if step.record:
                await self._read_models[step.case_type].apply(session, step.case_id, step.record)


def _task_row(step: StepWrite, task: dict[str, Any], now: Any, office: str | None) -> dict[str, Any]:
    return {
        **{k: v for k, v in task.items() if k != "task_id"},
        "id": uuid.UUID(task["task_id"]),
        "case_id": step.case_id,
        "workflow_id": step.case_id,
        "subject_atena_no": step.subject_atena_no,
        "insured_no": step.insured_no,
        "office": office,
        "state": TaskState.OPEN,
        "version": 1,
        "created_at": now,
    }


def _case_values(update: CaseUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if update.stage is not None:
        values["stage"] = update.stage
    if update.details is not None:
        values["details"] = update.details
    if update.due_on is not None:
        values["due_on"] = update.due_on
    elif update.clear_due:
        values["due_on"] = None
    if update.closed_outcome is not None:
        # Closing frees the "one open case per insured" slot; a later case of the kind may open.
        values |= {
            "state": CaseState.CLOSED,
            "outcome": update.closed_outcome,
            "closed_at": utcnow(),
            "exclusive_key": None,
        }
    return values
