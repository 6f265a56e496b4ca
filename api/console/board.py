"""The board screen (審査会): a member's agenda, meeting by meeting — each case by its number on the agenda,
never by name — with the way to each vote, the chair's close, and a declared recusal."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import ValidationError

from api.console import bridge
from api.console.auth import Console, CsrfChecked, console_require
from api.console.pages import ConsoleRoute, page
from api.routes import board as board_routes
from api.routes import tasks as task_routes
from kaigo.errors import ProblemError
from models.board import RecusalCreate
from models.certification_tasks import CertificationTask as T
from models.permissions import Permission
from models.task import TaskPublic

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Member = Annotated[Console, console_require(Permission.BOARD_DECIDE)]


async def board_page(
    c: Console, *, banner: str | None = None, kind: str = "ok", status_code: int = 200
) -> Response:
    tasks: list[TaskPublic] = []
    for task_kind in (T.BOARD_CLOSE, T.BOARD_VOTE):
        query = task_routes.TaskQuery(assignee="me", kind=task_kind, size=100)
        tasks += (await bridge.call(c, task_routes.search_tasks, query=query)).items
    meetings: dict[str, list[TaskPublic]] = defaultdict(list)
    for task in sorted(
        tasks, key=lambda t: (t.due_at is None, t.due_at, t.reference or "", t.kind != T.BOARD_VOTE)
    ):
        meetings[(task.reference or "").rsplit(" ", 1)[0] or "審査会"].append(task)
    return page(
        c,
        "console/board.html",
        status_code=status_code,
        title="審査会",
        meetings=dict(meetings),
        banner=banner,
        banner_kind=kind,
    )


@router.get("/board", summary="審査会: 自分の担当する審査案件 (開催日ごと・匿名の番号)")
async def board(c: Member) -> Response:
    return await board_page(c)


@router.post("/board/recusals", summary="審査会委員が回避を申し出る")
async def recuse(
    c: Member,
    _: CsrfChecked,
    task_id: Annotated[str, Form(max_length=36)],
    reason: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        task = await bridge.call(c, task_routes.get_task, task_id=task_id)
        data = RecusalCreate(application_id=task.case_id.removeprefix("certification-"), reason=reason)
        await bridge.call(c, board_routes.declare_recusal, data=data)
    except ValidationError:
        return await board_page(c, banner="回避の理由を入力してください", kind="error", status_code=422)
    except ProblemError as problem:
        return await board_page(c, banner=problem.detail, kind="error", status_code=problem.status)
    return await board_page(c, banner="回避を記録しました。この案件の判定タスクは取り消されます。")
