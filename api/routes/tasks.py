"""Task inbox: search, claim, assign, unassign (If-Match / ETag), complete (workflow update)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import select

from api.auth import AuditDep, Principal, check_subject_access, deny, require
from api.deps import ResourcesDep, SessionDep
from api.errors import field_errors
from kaigo.config import Settings
from kaigo.errors import ProblemError
from kaigo.security.permissions import SCOPED_ROLES, Permission, Role
from models.certification import CertificationApplication
from models.common import utcnow
from models.security import Staff
from models.task import Task, TaskState
from models.task_kinds import TASK_KINDS, TaskKind, parse_payload
from rules.certification import ApplicationKind
from services import tasks

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


def _with_etag(response: Response, task: Task) -> tasks.TaskPublic:
    response.headers["ETag"] = f'"{task.version}"'
    return tasks.TaskPublic.of(task, utcnow())


async def _visible_task(
    session: SessionDep, resources: ResourcesDep, audit: AuditDep, principal: Principal, task_id: uuid.UUID
) -> Task:
    task = await tasks.get(session=session, task_id=task_id)
    if not _visibility(principal).allows(task):
        await deny(
            resources,
            audit,
            "このタスクを参照する権限がありません",
            permission=Permission.TASK_WORK,
            subject=task.subject_atena_no,
            code="not-assigned",
        )
    return task


@router.post("/tasks/search", summary="タスクを検索する (担当・状態・期限・種類・ケース・被保険者番号)")
async def search_tasks(query: tasks.TaskSearch, principal: Worker, session: SessionDep) -> tasks.TaskPage:
    found = await tasks.search(session=session, query=query, who=_visibility(principal))
    now = utcnow()
    return tasks.TaskPage(
        items=[tasks.TaskPublic.of(t, now) for t in found.rows],
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
) -> tasks.TaskPublic:
    return _with_etag(response, await _visible_task(session, resources, audit, principal, task_id))


@router.post("/tasks/{task_id}/claim", summary="タスクを自分の担当にする (If-Match 必須)")
async def claim_task(
    task_id: TaskIdPath,
    principal: Worker,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> tasks.TaskPublic:
    version = tasks.parse_if_match(if_match)
    task = await _visible_task(session, resources, audit, principal, task_id)
    if Role(task.candidate_role) not in principal.roles or Role(task.candidate_role) in SCOPED_ROLES:
        raise ProblemError(
            403, "not-claimable", "このタスクは割当てを受けて処理します (自分では取得できません)"
        )
    if task.assignee not in (None, principal.login_id):
        raise ProblemError(409, "task-assigned", f"このタスクは既に {task.assignee} さんが担当しています")
    await _check_assignee_allowed(session, task, principal.login_id)
    task = await tasks.set_assignee(
        session=session, task_id=task_id, expected_version=version, assignee=principal.login_id
    )
    audit.record("task.claim", subject=task.subject_atena_no, detail={"task_id": str(task_id)})
    return _with_etag(response, task)


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,31}$", description="担当にする職員のログインID")


@router.post("/tasks/{task_id}/assignment", summary="タスクを職員に割り当てる (If-Match 必須)")
async def assign_task(
    task_id: TaskIdPath,
    data: Assignment,
    _: Assigner,
    session: SessionDep,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> tasks.TaskPublic:
    version = tasks.parse_if_match(if_match)
    task = await tasks.get(session=session, task_id=task_id)
    await _check_assignee_allowed(session, task, data.assignee)
    task = await tasks.set_assignee(
        session=session, task_id=task_id, expected_version=version, assignee=data.assignee
    )
    audit.record(
        "task.assign",
        subject=task.subject_atena_no,
        detail={"task_id": str(task_id), "assignee": data.assignee},
    )
    return _with_etag(response, task)


@router.delete("/tasks/{task_id}/assignee", summary="タスクの担当を外す (If-Match 必須)")
async def unassign_task(
    task_id: TaskIdPath,
    principal: Worker,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    response: Response,
    if_match: IfMatch = None,
) -> tasks.TaskPublic:
    version = tasks.parse_if_match(if_match)
    task = await _visible_task(session, resources, audit, principal, task_id)
    if task.assignee != principal.login_id and not principal.has(Permission.TASK_ASSIGN):
        await deny(resources, audit, "他の職員の担当は外せません", permission=Permission.TASK_ASSIGN)
    if TaskKind(task.kind) in (TaskKind.BOARD_VOTE, TaskKind.BOARD_CLOSE):
        raise ProblemError(409, "task-fixed", "審査会のタスクは委員に固定されています")
    task = await tasks.set_assignee(session=session, task_id=task_id, expected_version=version, assignee=None)
    audit.record("task.unassign", subject=task.subject_atena_no, detail={"task_id": str(task_id)})
    return _with_etag(response, task)


@router.post("/tasks/{task_id}/completion", summary="タスクを完了する (種類ごとの入力内容を payload に)")
async def complete_task(
    task_id: TaskIdPath,
    principal: Worker,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    payload: Annotated[dict[str, Any], Body(embed=True, description="タスクの種類ごとの入力内容")],
) -> tasks.TaskPublic:
    task = await _visible_task(session, resources, audit, principal, task_id)
    kind = TaskKind(task.kind)
    spec = TASK_KINDS[kind]
    if not principal.has(spec.permission):
        await deny(resources, audit, f"{spec.label}を行う権限がありません", permission=spec.permission)
    if task.state != TaskState.OPEN:
        raise ProblemError(409, "task-closed", "このタスクは既に終了しています")
    if task.assignee != principal.login_id:
        raise ProblemError(409, "claim-first", "先にタスクを取得 (claim) してください")
    if kind is TaskKind.OPINION_REQUEST and "due_on" not in payload and "requested_on" in payload:
        payload = {**payload, "due_on": _opinion_due(payload["requested_on"], resources.settings)}
    try:
        parse_payload(kind, payload)
    except ValidationError as error:
        errors = [
            e.model_copy(update={"field": f"payload.{e.field}"}) for e in field_errors(list(error.errors()))
        ]
        raise ProblemError(
            422,
            "invalid-payload",
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            field=errors[0].field,
            extra={"problems": [e.model_dump() for e in errors]},
        ) from None
    await check_subject_access(
        principal=principal,
        permission=Permission.CASE_READ,
        atena_no=task.subject_atena_no,
        resources=resources,
        trail=audit,
    )
    await tasks.complete(temporal=resources.temporal, task=task, actor=principal.login_id, payload=payload)
    audit.record(
        "task.complete", subject=task.subject_atena_no, detail={"task_id": str(task_id), "kind": kind}
    )
    session.expire_all()
    return tasks.TaskPublic.of(await tasks.get(session=session, task_id=task_id), utcnow())


async def _check_assignee_allowed(session: SessionDep, task: Task, login_id: str) -> None:
    """The assignee holds the task's role and is active; a 新規 survey is not for contractors (28条5項)."""
    staff = await session.get(Staff, login_id)
    if staff is None or not staff.active:
        raise ProblemError(
            422, "assignee-unknown", f"職員 {login_id} は有効なアカウントではありません", field="assignee"
        )
    if task.candidate_role not in staff.roles:
        label = TASK_KINDS[TaskKind(task.kind)].label
        raise ProblemError(
            422, "assignee-role", f"{login_id} さんは{label}の担当になれません", field="assignee"
        )
    if TaskKind(task.kind) is TaskKind.SURVEY and staff.organization:
        kind = (
            await session.exec(
                select(CertificationApplication.kind).where(
                    CertificationApplication.workflow_id == task.workflow_id
                )
            )
        ).first()
        if kind == ApplicationKind.NEW:
            raise ProblemError(
                422,
                "survey-not-delegable",
                "新規申請の認定調査は委託できません (介護保険法28条5項)。市の調査員を割り当ててください",
                field="assignee",
            )


def _opinion_due(requested_on: object, settings: Settings) -> str | None:
    """The city's default due date for a 主治医意見書 (CERTIFICATION_POLICY; the law sets none)."""
    try:
        requested = date.fromisoformat(str(requested_on))
    except ValueError:
        return None  # the payload validation names the bad date
    return (requested + timedelta(days=settings.certification_policy.opinion_due_days)).isoformat()
