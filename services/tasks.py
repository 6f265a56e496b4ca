"""Human tasks in the read model: search, claim/assign/unassign with optimistic versions, and completion
through the owning workflow's `complete_task` update (DESIGN.md, human-task protocol)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from kaigo.errors import ProblemError
from kaigo.security.permissions import Role
from models.case import CASE_ID_EXAMPLE, CaseId
from models.common import utcnow
from models.procedure import CompleteTask, TaskCompleted
from models.registry import InsuredNo
from models.task import Task, TaskState
from services import workflow_updates
from workflows.procedure import ProcedureWorkflow


class TaskSort(StrEnum):
    DUE = "due"
    CREATED = "created"
    PRIORITY = "priority"


class TaskSearch(BaseModel):
    """POST /tasks/search: every filter optional; results are limited to what the caller may see."""

    model_config = ConfigDict(extra="forbid")

    candidate_role: Role | None = None
    assignee: Annotated[str, Field(max_length=32)] | None = Field(default=None, description="'me' は自分")
    unassigned: bool | None = None
    state: TaskState | None = TaskState.OPEN
    kind: Annotated[str, Field(pattern=r"^[a-z_]{1,48}$")] | None = Field(
        default=None, description="タスクの種類 (survey など)"
    )
    due_before: datetime | None = None
    due_after: datetime | None = None
    case_id: CaseId | None = Field(
        default=None, description=f"ケースID (= ワークフローID、例 {CASE_ID_EXAMPLE})"
    )
    insured_no: InsuredNo | None = Field(default=None, description="被保険者番号 (全角数字も可)")
    overdue: bool | None = None
    sort: TaskSort = TaskSort.DUE
    order: Literal["asc", "desc"] = "asc"
    page: int = Field(default=1, ge=1, le=10_000)
    size: int = Field(default=20, ge=1, le=100)


class TaskVisibility(BaseModel):
    login_id: str
    sees_all: bool  # task:assign holders (supervisors) see every task
    claimable_roles: list[str]  # roles whose unassigned tasks the caller may see and claim

    def allows(self, task: Task) -> bool:
        """The same rule as `_visible`, for one task already loaded."""
        return (
            self.sees_all
            or task.assignee == self.login_id
            or (task.assignee is None and task.candidate_role in self.claimable_roles)
        )


def _visible(who: TaskVisibility) -> sa.ColumnElement[bool]:
    if who.sees_all:
        return sa.true()
    return sa.or_(
        col(Task.assignee) == who.login_id,
        sa.and_(col(Task.assignee).is_(None), col(Task.candidate_role).in_(who.claimable_roles)),
    )


async def search(*, session: AsyncSession, query: TaskSearch, who: TaskVisibility) -> tuple[list[Task], int]:
    now = utcnow()
    conditions: list[sa.ColumnElement[bool]] = [_visible(who)]
    if query.candidate_role:
        conditions.append(col(Task.candidate_role) == query.candidate_role)
    if query.assignee:
        conditions.append(col(Task.assignee) == (who.login_id if query.assignee == "me" else query.assignee))
    if query.unassigned is not None:
        conditions.append(
            col(Task.assignee).is_(None) if query.unassigned else col(Task.assignee).is_not(None)
        )
    if query.state:
        conditions.append(col(Task.state) == query.state)
    if query.kind:
        conditions.append(col(Task.kind) == query.kind)
    if query.due_before:
        conditions.append(col(Task.due_at) < query.due_before)
    if query.due_after:
        conditions.append(col(Task.due_at) >= query.due_after)
    if query.case_id:
        conditions.append(col(Task.case_id) == query.case_id)
    if query.insured_no:
        conditions.append(col(Task.insured_no) == query.insured_no)
    if query.overdue is not None:
        late = sa.and_(col(Task.state) == TaskState.OPEN, col(Task.due_at) < now)
        conditions.append(late if query.overdue else sa.not_(late))
    sort_column = {
        TaskSort.DUE: col(Task.due_at),
        TaskSort.CREATED: col(Task.created_at),
        TaskSort.PRIORITY: col(Task.priority),
    }[query.sort]
    ordering = sort_column.asc().nulls_last() if query.order == "asc" else sort_column.desc().nulls_last()
    total = (await session.exec(select(sa.func.count()).select_from(Task).where(*conditions))).one()
    rows = await session.exec(
        select(Task)
        .where(*conditions)
        .order_by(ordering, col(Task.created_at), col(Task.id))
        .offset((query.page - 1) * query.size)
        .limit(query.size)
    )
    return list(rows.all()), total


def task_not_found(task_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, "task-not-found", f"タスク {task_id} はありません", field="task_id")


async def get(*, session: AsyncSession, task_id: uuid.UUID) -> Task:
    task = await session.get(Task, task_id)
    if task is None:
        raise task_not_found(task_id)
    return task


def parse_if_match(if_match: str | None) -> int:
    if if_match is None:
        raise ProblemError(428, "if-match-required", "If-Match ヘッダにタスクの版 (ETag) を指定してください")
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise ProblemError(400, "if-match-invalid", "If-Match の値が正しくありません") from None


async def set_assignee(
    *, session: AsyncSession, task_id: uuid.UUID, expected_version: int, assignee: str | None
) -> Task:
    """Compare-and-set on (state open, version): 412 when someone changed the task first."""
    result = await session.exec(
        sa.update(Task)
        .where(
            col(Task.id) == task_id,
            col(Task.version) == expected_version,
            col(Task.state) == TaskState.OPEN,
        )
        .values(assignee=assignee, version=Task.version + 1)
        .returning(Task.id)
    )
    if result.first() is None:
        current = await get(session=session, task_id=task_id)
        if current.state != TaskState.OPEN:
            raise ProblemError(409, "task-closed", "このタスクは既に終了しています")
        raise ProblemError(
            412,
            "task-version",
            f"他の職員が先にこのタスクを更新しました (現在の版 {current.version})。再読込してください",
            extra={"current_version": current.version},
        )
    session.expire_all()
    return await get(session=session, task_id=task_id)


async def complete(*, temporal: Client, task: Task, actor: str, payload: dict[str, Any]) -> TaskCompleted:
    """Send the completion to the workflow; its validator rejects before anything reaches history. It returns
    once the step the completion started is written, so a re-read shows the task closed and the next ones."""
    request = CompleteTask(task_id=str(task.id), actor=actor, payload=payload)
    return await workflow_updates.execute(
        temporal, task.workflow_id, ProcedureWorkflow.complete_task, request
    )


async def of_case(*, session: AsyncSession, case_id: str) -> list[Task]:
    rows = await session.exec(select(Task).where(Task.case_id == case_id).order_by(col(Task.created_at)))
    return list(rows.all())


async def open_of_kind(*, session: AsyncSession, case_id: str, kind: str) -> Task | None:
    rows = await session.exec(
        select(Task).where(Task.case_id == case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN)
    )
    return rows.first()
