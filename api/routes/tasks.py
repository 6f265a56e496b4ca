"""Task inbox of every procedure: search, claim, assign, unassign (If-Match / ETag), complete (an update).

Generic: a task's kind (procedures.TASK_KINDS) says who does it, with which permission and payload; the
workflow that opened it says whether a contractor may take it and whether its assignee is fixed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import AuditDep, AuditTrail, Principal, check_subject_access, deny, require
from api.deps import Resources, ResourcesDep, SessionDep
from api.errors import field_errors
from api.task_views import task_view
from api.unit_of_work import transaction
from kaigo.errors import ProblemError
from models.common import utcnow
from models.permissions import ROLE_LABELS, SCOPED_ROLES, Permission, Role
from models.security import Staff
from models.task import Task, TaskPublic, TaskState
from procedures import TASK_KINDS
from services import tasks
from services.workflow_updates import payload_problem

router = APIRouter(tags=["tasks"])

Worker = Annotated[Principal, require(Permission.TASK_WORK)]
Assigner = Annotated[Principal, require(Permission.TASK_ASSIGN)]
TaskIdPath = Annotated[uuid.UUID, Path(description="タスクID")]
IfMatch = Annotated[str | None, Header(description='タスクの版 (GET の ETag、例 "3")')]


def _visibility(principal: Principal) -> tasks.TaskVisibility:
    return tasks.TaskVisibility(
        login_id=principal.login_id,
        sees_all=principal.has(Permission.TASK_ASSIGN),
        claimable_roles=[r for r in principal.roles if r not in SCOPED_ROLES],
    )


def _label(task: Task) -> str:
    return TASK_KINDS[task.kind].label


def _why_not_visible(task: Task) -> str:
    """The real reason a task is not the caller's, in the words of the desk."""
    if task.assignee is not None:
        return f"この{_label(task)}のタスクは {task.assignee} さんの担当です"
    role = ROLE_LABELS.get(Role(task.candidate_role), task.candidate_role)
    if Role(task.candidate_role) in SCOPED_ROLES:
        return f"この{_label(task)}のタスクは{role}に割り当てられてから処理します"
    return f"この{_label(task)}のタスクは{role}が処理します"


async def _visible_task(
    session: AsyncSession, resources: Resources, audit: AuditTrail, principal: Principal, task_id: uuid.UUID
) -> Task:
    task = await tasks.get(session=session, task_id=task_id)
    if not _visibility(principal).allows(task):
        await deny(
            resources,
            audit,
            _why_not_visible(task),
            permission=Permission.TASK_WORK,
            subject=task.subject_atena_no,
            code="not-assigned",
        )
    return task


def _with_etag(response: Response, task: Task, principal: Principal) -> TaskPublic:
    response.headers["ETag"] = f'"{task.version}"'
    return task_view(task, utcnow(), principal)


class TaskQuery(tasks.TaskSearch):
    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        if kind is not None and kind not in TASK_KINDS:
            raise ValueError(f"タスクの種類は次のいずれかです: {', '.join(sorted(TASK_KINDS))}")
        return kind


@router.post("/tasks/search", summary="タスクを検索する (担当・状態・期限・種類・ケース・被保険者番号)")
async def search_tasks(query: TaskQuery, principal: Worker, session: SessionDep) -> tasks.TaskPage:
    found = await tasks.search(session=session, query=query, who=_visibility(principal))
    now = utcnow()
    return tasks.TaskPage(
        items=[task_view(t, now, principal) for t in found.rows],
        total=found.total,
        total_capped=found.total_capped,
        page=query.page,
        size=query.size,
        next_cursor=found.next_cursor,
    )


@router.get("/tasks/{task_id}", summary="タスクを取得する (ETag に版)")
async def get_task(
    task_id: TaskIdPath,
    principal: Worker,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    response: Response,
) -> TaskPublic:
    return _with_etag(response, await _visible_task(session, resources, audit, principal, task_id), principal)


@router.post("/tasks/{task_id}/claim", summary="タスクを自分の担当にする (If-Match 必須)")
async def claim_task(
    task_id: TaskIdPath,
    principal: Worker,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskPublic:
    version = tasks.parse_if_match(if_match)
    task = await _visible_task(session, resources, audit, principal, task_id)
    role = Role(task.candidate_role)
    if role not in principal.roles or role in SCOPED_ROLES:
        reason = (
            f"この{_label(task)}のタスクは割当てを受けて処理します (自分では取得できません)"
            if role in principal.roles
            else _why_not_visible(task)
        )
        await deny(
            resources,
            audit,
            reason,
            permission=Permission.TASK_WORK,
            subject=task.subject_atena_no,
            code="not-claimable",
        )
    if task.assignee not in (None, principal.login_id):
        raise ProblemError(409, "task-assigned", f"このタスクは既に {task.assignee} さんが担当しています")
    await _check_assignee_allowed(session, task, principal.login_id)
    task = await tasks.set_assignee(
        session=session, task_id=task_id, expected_version=version, assignee=principal.login_id
    )
    audit.record("task.claim", subject=task.subject_atena_no, detail={"task_id": str(task_id)})
    return _with_etag(response, task, principal)


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "surveyor"}]})

    assignee: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,31}$", description="担当にする職員のログインID")


@router.post("/tasks/{task_id}/assignment", summary="タスクを職員に割り当てる (If-Match 必須)")
async def assign_task(
    task_id: TaskIdPath,
    data: Assignment,
    principal: Assigner,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskPublic:
    version = tasks.parse_if_match(if_match)
    task = await tasks.get(session=session, task_id=task_id)
    if TASK_KINDS[task.kind].fixed:
        raise ProblemError(
            409, "task-fixed", f"{_label(task)}のタスクは担当者が決まっています", field="assignee"
        )
    await _check_assignee_allowed(session, task, data.assignee)
    task = await tasks.set_assignee(
        session=session, task_id=task_id, expected_version=version, assignee=data.assignee
    )
    audit.record(
        "task.assign",
        subject=task.subject_atena_no,
        detail={"task_id": str(task_id), "assignee": data.assignee},
    )
    return _with_etag(response, task, principal)


@router.delete("/tasks/{task_id}/assignee", summary="タスクの担当を外す (If-Match 必須)")
async def unassign_task(
    task_id: TaskIdPath,
    principal: Worker,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskPublic:
    version = tasks.parse_if_match(if_match)
    task = await _visible_task(session, resources, audit, principal, task_id)
    if task.assignee != principal.login_id and not principal.has(Permission.TASK_ASSIGN):
        await deny(resources, audit, "他の職員の担当は外せません", permission=Permission.TASK_ASSIGN)
    if TASK_KINDS[task.kind].fixed:
        raise ProblemError(409, "task-fixed", f"{_label(task)}のタスクは担当者が決まっています")
    task = await tasks.set_assignee(session=session, task_id=task_id, expected_version=version, assignee=None)
    audit.record("task.unassign", subject=task.subject_atena_no, detail={"task_id": str(task_id)})
    return _with_etag(response, task, principal)


CompletionPayload = Annotated[
    dict[str, Any],
    Body(embed=True, description="タスクの種類 (kind) ごとの入力内容。種類ごとの形式は下のスキーマを参照"),
]


@router.post("/tasks/{task_id}/completion", summary="タスクを完了する (種類ごとの入力内容を payload に)")
async def complete_task(
    task_id: TaskIdPath,
    principal: Worker,
    resources: ResourcesDep,
    audit: AuditDep,
    payload: CompletionPayload,
) -> TaskPublic:
    """The workflow validates the payload again with the case's state; nothing is written when it refuses.
    The answer comes once the workflow has taken its next step, so it shows the task closed."""
    async with transaction(resources, audit) as session:
        task = await _visible_task(session, resources, audit, principal, task_id)
    spec = TASK_KINDS[task.kind]
    if not principal.has(spec.permission):
        await deny(resources, audit, f"{spec.label}を行う権限がありません", permission=spec.permission)
    if task.state != TaskState.OPEN:
        raise ProblemError(409, "task-closed", "このタスクは既に終了しています")
    if task.assignee != principal.login_id:
        raise ProblemError(409, "claim-first", "先にタスクを取得 (claim) してください")
    try:
        spec.payload.model_validate(payload)
    except ValidationError as error:
        raise payload_problem(
            [(f"payload.{e.field}".rstrip("."), e.message) for e in field_errors(list(error.errors()))]
        ) from None
    await check_subject_access(
        principal=principal,
        permission=Permission.CASE_READ,
        atena_no=task.subject_atena_no,
        resources=resources,
        trail=audit,
    )
    await tasks.complete(temporal=resources.temporal, task=task, actor=principal.login_id, payload=payload)
    async with transaction(resources, audit) as session:
        audit.record(
            "task.complete",
            subject=task.subject_atena_no,
            detail={"task_id": str(task_id), "kind": task.kind},
        )
        return task_view(await tasks.get(session=session, task_id=task_id), utcnow(), principal)


async def _check_assignee_allowed(session: AsyncSession, task: Task, login_id: str) -> None:
    """The assignee holds the task's role and is active; a contractor only takes delegable tasks."""
    staff = await session.get(Staff, login_id)
    if staff is None or not staff.active:
        raise ProblemError(
            422, "assignee-unknown", f"職員 {login_id} は有効なアカウントではありません", field="assignee"
        )
    if task.candidate_role not in staff.roles:
        raise ProblemError(
            422, "assignee-role", f"{login_id} さんは{_label(task)}の担当になれません", field="assignee"
        )
    if staff.organization and not task.delegable:
        basis = TASK_KINDS[task.kind].not_delegable_basis or f"{_label(task)}は委託できません"
        raise ProblemError(
            422, "task-not-delegable", f"{basis}。市の職員を割り当ててください", field="assignee"
        )
