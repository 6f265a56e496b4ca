"""Human tasks in the read model: search, claim/assign/unassign with optimistic versions, and completion
through the owning workflow's `complete_task` update (DESIGN.md, human-task protocol)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from kaigo.errors import ProblemError
from models.case import CASE_ID_EXAMPLE, CaseId
from models.common import utcnow
from models.permissions import Role
from models.procedure import CompleteTask, TaskCompleted
from models.registry import InsuredNo
from models.task import Task, TaskPublic, TaskState
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
    office: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] | None = Field(
        default=None, description="担当事務所 (OFFICES のコード)"
    )
    overdue: bool | None = None
    sort: TaskSort = TaskSort.DUE
    order: Literal["asc", "desc"] = "asc"
    page: int = Field(default=1, ge=1, le=10_000, description="ページ番号 (cursor を使わないとき)")
    size: int = Field(default=20, ge=1, le=100)
    cursor: Annotated[str, Field(max_length=300)] | None = Field(
        default=None,
        description="前の結果の next_cursor: その続きを返す (page より速く、途中の追加でずれない)",
    )


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


TOTAL_CAP = 1_000  # counting stops here: the total reads "1,000+" (total_capped) instead of scanning on


class TaskPage(BaseModel):
    """POST /tasks/search's answer: a page, a capped total and the cursor of the next page."""

    items: list[TaskPublic]
    total: int = Field(description=f"条件に合う件数 ({TOTAL_CAP:,}件で打ち切り)")
    total_capped: bool = Field(description=f"true なら {TOTAL_CAP:,}件以上 (total は {TOTAL_CAP:,})")
    page: int = Field(description="ページ番号 (cursor 指定時は 1 から数えない)")
    size: int = Field(description="1ページの件数")
    next_cursor: str | None = Field(description="続きがあれば、次の検索の cursor に渡す値")


@dataclass(frozen=True)
class SearchResult:
    rows: list[Task]
    total: int
    total_capped: bool
    next_cursor: str | None


def _sort_column(sort: TaskSort) -> sa.ColumnElement[Any]:
    return {
        TaskSort.DUE: col(Task.due_at),
        TaskSort.CREATED: col(Task.created_at),
        TaskSort.PRIORITY: col(Task.priority),
    }[sort]


def _bad_cursor() -> ProblemError:
    return ProblemError(
        422,
        "invalid-cursor",
        "cursor が正しくありません。最初のページから検索し直してください",
        field="cursor",
    )


def _encode_cursor(query: TaskSearch, task: Task) -> str:
    value = getattr(
        task,
        {TaskSort.DUE: "due_at", TaskSort.CREATED: "created_at", TaskSort.PRIORITY: "priority"}[query.sort],
    )
    position = [
        query.sort,
        query.order,
        value.isoformat() if isinstance(value, datetime) else value,
        task.created_at.isoformat(),
        str(task.id),
    ]
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(query: TaskSearch) -> tuple[Any, datetime, uuid.UUID]:
    """The last row's (sort value, created_at, id); the cursor must come from the same sort and order."""
    assert query.cursor is not None
    try:
        raw = base64.urlsafe_b64decode(query.cursor + "=" * (-len(query.cursor) % 4))
        sort, order, value, created, task_id = json.loads(raw)
        if (sort, order) != (query.sort, query.order):
            raise ValueError("another sort")
        if value is not None:
            value = _priority(value) if query.sort is TaskSort.PRIORITY else _instant(value)
        return value, _instant(created), uuid.UUID(task_id)
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise _bad_cursor() from error


def _priority(value: object) -> int:
    if not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError("not a task priority")
    return value


def _instant(value: object) -> datetime:
    moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


def _after(query: TaskSearch, value: Any, created: datetime, task_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """Rows after (value, created, id) in ORDER BY sort {order} NULLS LAST, created_at, id, among those
    whose sort value is null exactly when `value` is (rows without a due date come last: see `search`).

    Ascending is one row comparison, which PostgreSQL turns into an index range (ix_task_open_due): a later
    page costs what the first does, unlike OFFSET.
    """
    sort_col = _sort_column(query.sort)
    tie = sa.tuple_(col(Task.created_at), col(Task.id)) > sa.tuple_(created, task_id)
    if value is None:
        return sa.and_(sort_col.is_(None), tie)
    if query.order == "asc":
        return sa.tuple_(sort_col, col(Task.created_at), col(Task.id)) > sa.tuple_(value, created, task_id)
    return sa.or_(sort_col < value, sa.and_(sort_col == value, tie))


async def search(*, session: AsyncSession, query: TaskSearch, who: TaskVisibility) -> SearchResult:
    """One page of the tasks the caller may see; keyset-paged by `cursor` (or `page`), total capped."""
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
    if query.office:
        conditions.append(col(Task.office) == query.office)
    if query.overdue is not None:
        late = sa.and_(col(Task.state) == TaskState.OPEN, col(Task.due_at) < now)
        conditions.append(late if query.overdue else sa.not_(late))
    sort_col = _sort_column(query.sort)
    ordering = sort_col.asc().nulls_last() if query.order == "asc" else sort_col.desc().nulls_last()
    in_order = (ordering, col(Task.created_at), col(Task.id))
    # The capped total rides along with the page as a scalar subquery: one round trip for both. It is
    # counted in the page's order, so the planner walks the same index as the page (for the inbox,
    # ix_task_open_due) rather than a sequential scan, which beside concurrent scans of a big table starts
    # wherever another one is (synchronized scans) and may read past a million closed tasks.
    capped = (
        select(sa.literal(1)).select_from(Task).where(*conditions).order_by(*in_order).limit(TOTAL_CAP + 1)
    )
    total_column = select(sa.func.count()).select_from(capped.subquery()).scalar_subquery().label("total")
    page = select(Task, total_column).where(*conditions).order_by(*in_order)
    wanted = query.size + 1  # one more than a page: is there a next page?
    if not query.cursor:
        found = list((await session.exec(page.offset((query.page - 1) * query.size).limit(wanted))).all())
    else:
        value, created, task_id = _decode_cursor(query)
        found = list(
            (await session.exec(page.where(_after(query, value, created, task_id)).limit(wanted))).all()
        )
        if len(found) < wanted and value is not None and query.sort is TaskSort.DUE:
            # The dated rows ran out: the page goes on with the undated ones (NULLS LAST), from the first.
            undated = page.where(col(Task.due_at).is_(None)).limit(wanted - len(found))
            found += list((await session.exec(undated)).all())
    rows = [task for task, _ in found]
    if found:
        total = found[0][1]
    else:  # past the last page (or nothing matches): the total still counts the whole result
        total = (await session.exec(select(sa.func.count()).select_from(capped.subquery()))).one()
    more = len(rows) > query.size
    rows = rows[: query.size]
    return SearchResult(
        rows=rows,
        total=min(total, TOTAL_CAP),
        total_capped=total > TOTAL_CAP,
        next_cursor=_encode_cursor(query, rows[-1]) if more else None,
    )


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
    # The same completion sent again (a retry after a timeout whose first attempt did reach the workflow)
    # gets that attempt's result; any other one, by another person or with other data, is judged on its
    # own (and refused: the task is closed). A digest, not the payload, goes into the id (history).
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return await workflow_updates.execute(
        temporal,
        task.workflow_id,
        ProcedureWorkflow.complete_task,
        request,
        update_id=f"complete-task:{task.id}:{actor}:{digest}",
    )


async def of_case(*, session: AsyncSession, case_id: str) -> list[Task]:
    rows = await session.exec(select(Task).where(Task.case_id == case_id).order_by(col(Task.created_at)))
    return list(rows.all())


async def open_of_kind(*, session: AsyncSession, case_id: str, kind: str) -> Task | None:
    rows = await session.exec(
        select(Task).where(Task.case_id == case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN)
    )
    return rows.first()
