"""The inbox and the task page: find work, claim it, fill its form (drafts kept on the server), submit it.

Every action goes through the task API's own endpoints (api/routes/tasks.py via api/console/bridge.py): the
same visibility, the same If-Match versions, the same completion path into the workflow's update validator.
A refusal comes back as a message on the page — with the task's fresh state when the caller may still see it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from api.console import bridge
from api.console.auth import Console, CsrfChecked, console_require
from api.console.pages import PAGE_HEADERS, ConsoleRoute, page
from api.console.schema_form import flatten
from api.console.task_forms import form_for
from api.errors import field_errors
from api.routes import cases as case_routes
from api.routes import registry as registry_routes
from api.routes import tasks as task_routes
from api.unit_of_work import transaction
from kaigo.errors import ProblemError
from models.common import JST, utcnow
from models.console import TaskDraft
from models.permissions import SCOPED_ROLES, Permission, Role
from models.security import Staff
from models.task import TaskPublic, TaskState
from procedures import TASK_KINDS

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Worker = Annotated[Console, console_require(Permission.TASK_WORK)]
Assigner = Annotated[Console, console_require(Permission.TASK_ASSIGN)]
TaskId = Annotated[uuid.UUID, Path(description="タスクID")]


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


# ----------------------------------------------------------------------------------------------- inbox


def _filters(
    kind: str | None, due_before: str | None, overdue: str | None, office: str | None, insured_no: str | None
) -> dict[str, Any]:
    return {
        "kind": kind or None,
        "due_before": due_before or None,
        "overdue": True if overdue else None,
        "office": office or None,
        "insured_no": insured_no or None,
    }


def _query(filters: dict[str, Any], **fixed: Any) -> task_routes.TaskQuery:
    due_before = filters["due_before"]
    moment = (
        datetime.combine(datetime.fromisoformat(due_before).date(), time.max, JST) if due_before else None
    )
    return task_routes.TaskQuery.model_validate(
        {**{k: v for k, v in filters.items() if k != "due_before"}, "due_before": moment, "size": 50, **fixed}
    )


@router.get("/inbox", summary="受信箱: 自分の担当と、自分の役割の未着手タスク (絞り込み・期限順)")
async def inbox(
    c: Worker,
    kind: Annotated[str | None, Query(max_length=48)] = None,
    due_before: Annotated[str | None, Query(max_length=10)] = None,
    overdue: Annotated[str | None, Query(max_length=5)] = None,
    office: Annotated[str | None, Query(max_length=32)] = None,
    insured_no: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return await inbox_page(c, _filters(kind, due_before, overdue, office, insured_no))


async def inbox_page(
    c: Console, filters: dict[str, Any], *, banner: str | None = None, status_code: int = 200
) -> Response:
    errors: dict[str, str] = {}
    mine: list[TaskPublic] = []
    open_: list[TaskPublic] = []
    try:
        mine = (await bridge.call(c, task_routes.search_tasks, query=_query(filters, assignee="me"))).items
        open_ = (await bridge.call(c, task_routes.search_tasks, query=_query(filters, unassigned=True))).items
    except (ValidationError, ValueError) as invalid:
        details = invalid.errors() if isinstance(invalid, ValidationError) else []
        errors = {e.field: e.message for e in field_errors(list(details))} or {"due_before": str(invalid)}
    kinds = sorted(((k, s.label) for k, s in TASK_KINDS.items()), key=lambda pair: pair[1])
    return page(
        c,
        "console/inbox.html",
        status_code=status_code,
        title="受信箱",
        mine=mine,
        open_tasks=open_,
        filters=filters,
        errors=errors,
        kinds=kinds,
        offices=c.settings.office_labels,
        banner=banner,
        claimable={t.id for t in open_ if _claimable(c, t)},
        now=utcnow(),
    )


def _claimable(c: Console, task: TaskPublic) -> bool:
    role = Role(task.candidate_role)
    return task.assignee is None and role in c.principal.roles and role not in SCOPED_ROLES


# ------------------------------------------------------------------------------------------- task page


async def _draft(c: Console, task: TaskPublic) -> TaskDraft | None:
    if task.state != TaskState.OPEN or task.assignee != c.login_id:
        return None
    async with c.resources.sessions() as session:
        draft = await session.get(TaskDraft, task.id)
    return draft if draft is not None and draft.saved_by == c.login_id else None


async def _assignable(c: Console, task: TaskPublic) -> list[Staff]:
    """Who the task may be given to (its role, active); the API still checks delegation rules on submit."""
    if not c.may(Permission.TASK_ASSIGN) or TASK_KINDS[task.kind].fixed or task.state != TaskState.OPEN:
        return []
    async with c.resources.sessions() as session:
        rows = await session.exec(
            select(Staff)
            .where(col(Staff.active), col(Staff.roles).contains([task.candidate_role]))
            .order_by(col(Staff.login_id))
        )
        return list(rows.all())


async def task_page(
    c: Console,
    task_id: uuid.UUID,
    *,
    banner: str | None = None,
    banner_kind: str = "error",
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    done: bool = False,
) -> Response:
    task = await bridge.call(c, task_routes.get_task, task_id=task_id)
    form = form_for(task.kind)
    case = None
    person = None
    if c.may(Permission.CASE_READ) and task.state == TaskState.OPEN:
        case = await bridge.call(c, case_routes.get_case, case_id=task.case_id)
        if c.may(Permission.REGISTRY_READ) and case.record and case.record.get("atena_no"):
            person = await bridge.call(c, registry_routes.get_person, atena_no=case.record["atena_no"])
    draft = await _draft(c, task)
    if values is None:
        values = flatten(draft.payload) if draft is not None else {}
    editable = task.state == TaskState.OPEN and task.assignee == c.login_id
    context = await form.context(c, task) if task.state == TaskState.OPEN else {}
    return page(
        c,
        "console/task.html",
        status_code=status_code,
        title=task.label,
        task=task,
        spec=TASK_KINDS[task.kind],
        form=form,
        specs=form.specs(task.kind),
        values=values,
        errors=errors or {},
        case=case,
        person=person,
        draft=draft,
        saved=saved,
        done=done,
        banner=banner,
        banner_kind=banner_kind,
        editable=editable,
        claimable=_claimable(c, task),
        releasable=(
            task.state == TaskState.OPEN
            and not TASK_KINDS[task.kind].fixed
            and task.assignee is not None
            and (task.assignee == c.login_id or c.may(Permission.TASK_ASSIGN))
        ),
        assignable=await _assignable(c, task),
        office_label=c.settings.office_labels.get(task.office or "", task.office or "—"),
        **context,
    )


@router.get("/tasks/{task_id}", summary="タスクの画面 (内容・入力フォーム・下書き)")
async def show_task(
    task_id: TaskId,
    c: Worker,
    saved: Annotated[str | None, Query(max_length=1)] = None,
    done: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    return await task_page(c, task_id, saved=saved is not None, done=done is not None)


async def _refused(c: Console, task_id: uuid.UUID, problem: ProblemError) -> Response:
    """A refused action: the message and the task as it is now, or the inbox if the task is out of view."""
    try:
        return await task_page(c, task_id, banner=problem.detail, status_code=problem.status)
    except ProblemError:
        empty = _filters(None, None, None, None, None)
        return await inbox_page(c, empty, banner=problem.detail, status_code=problem.status)


@router.post("/tasks/{task_id}/claim", summary="タスクを自分の担当にする (画面の版で楽観的排他)")
async def claim(
    task_id: TaskId, c: Worker, _: CsrfChecked, version: Annotated[int, Form(ge=1, le=2**31 - 1)]
) -> Response:
    try:
        await bridge.call(c, task_routes.claim_task, task_id=task_id, if_match=f'"{version}"')
    except ProblemError as problem:
        return await _refused(c, task_id, problem)
    return _see_other(f"/console/tasks/{task_id}")


@router.post("/tasks/{task_id}/release", summary="タスクの担当を外す")
async def release(
    task_id: TaskId, c: Worker, _: CsrfChecked, version: Annotated[int, Form(ge=1, le=2**31 - 1)]
) -> Response:
    try:
        await bridge.call(c, task_routes.unassign_task, task_id=task_id, if_match=f'"{version}"')
    except ProblemError as problem:
        return await _refused(c, task_id, problem)
    return _see_other(f"/console/tasks/{task_id}")


@router.post("/tasks/{task_id}/assignment", summary="タスクを職員に割り当てる")
async def assign(
    task_id: TaskId,
    c: Assigner,
    _: CsrfChecked,
    version: Annotated[int, Form(ge=1, le=2**31 - 1)],
    assignee: Annotated[str, Form(max_length=32)],
) -> Response:
    try:
        data = task_routes.Assignment(assignee=assignee)
        await bridge.call(c, task_routes.assign_task, task_id=task_id, data=data, if_match=f'"{version}"')
    except ValidationError:
        return await _refused(
            c, task_id, ProblemError(422, "assignee", "担当者を選んでください", field="assignee")
        )
    except ProblemError as problem:
        return await _refused(c, task_id, problem)
    return _see_other(f"/console/tasks/{task_id}")


async def _editable_task(c: Console, task_id: uuid.UUID) -> TaskPublic:
    task = await bridge.call(c, task_routes.get_task, task_id=task_id)
    if task.state != TaskState.OPEN:
        raise ProblemError(409, "task-closed", "このタスクは既に終了しています")
    if task.assignee != c.login_id:
        raise ProblemError(409, "claim-first", "先にタスクを自分の担当にしてください (取得)")
    return task


@router.post("/tasks/{task_id}/draft", summary="入力途中の内容を下書きとしてサーバーに保存する (担当者のみ)")
async def save_draft(task_id: TaskId, request: Request, c: Worker, _: CsrfChecked) -> Response:
    task = await _editable_task(c, task_id)
    form = form_for(task.kind)
    if not form.drafts:
        raise ProblemError(409, "no-drafts", "このタスクは下書きを保存できません")
    payload = await form.payload(c, task, await request.form())
    async with transaction(c.resources, c.audit) as session:
        c.audit.record("task.draft", detail={"task_id": str(task.id), "kind": task.kind})
        await session.exec(
            insert(TaskDraft)
            .values(task_id=task.id, payload=payload, saved_by=c.login_id, saved_at=utcnow())
            .on_conflict_do_update(
                index_elements=["task_id"],
                set_={"payload": payload, "saved_by": c.login_id, "saved_at": utcnow()},
            )
        )
    return _see_other(f"/console/tasks/{task_id}?saved=1")


@router.post(
    "/tasks/{task_id}/completion", summary="タスクを完了する (API と同じ完了処理でワークフローが検証)"
)
async def complete(task_id: TaskId, request: Request, c: Worker, _: CsrfChecked) -> Response:
    task = await _editable_task(c, task_id)
    form = form_for(task.kind)
    payload: dict[str, Any] = {}
    try:
        payload = await form.payload(c, task, await request.form())
        await bridge.call(c, task_routes.complete_task, task_id=task_id, payload=payload)
    except ProblemError as problem:
        errors = dict(problem.fields)
        banner = (
            f"入力内容に{len(errors)}件の誤りがあります。各項目の横に理由を表示しています。"
            if problem.status == 422 and len(errors) > 1
            else problem.detail
        )
        return await task_page(
            c, task_id, banner=banner, status_code=problem.status, values=flatten(payload), errors=errors
        )
    async with c.resources.sessions() as session, session.begin():
        draft = await session.get(TaskDraft, task_id)
        if draft is not None:
            await session.delete(draft)  # the record is with the workflow now; the draft's free text goes
    if c.may(Permission.CASE_READ) and not c.principal.scoped_for(Permission.CASE_READ):
        return _see_other(f"/console/cases/{task.case_id}?done={task.kind}")
    # A surveyor reads a case only while a task of it is theirs: their task page says it is done.
    return _see_other(f"/console/tasks/{task_id}?done=1")
