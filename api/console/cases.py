"""Case pages for every procedure: stage, legal clocks as days left, timeline, tasks, notices (HTML preview
and PDF), the person with the 個人番号 masked (a reveal asks for the reason and is audited), and a link to the
case in the Temporal UI. All reads go through the API's endpoints, which check the permission and audit
them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import Response
from pydantic import ValidationError

from api.console import bridge
from api.console.auth import Console, CsrfChecked, console_require
from api.console.case_panels import panel_for
from api.console.pages import ConsoleRoute, page
from api.deps import PageParams
from api.routes import cases as case_routes
from api.routes import notices as notice_routes
from api.routes import registry as registry_routes
from api.routes.temporal_ui import PREFIX as TEMPORAL_PREFIX
from api.routes.temporal_ui import may_view
from kaigo.errors import ProblemError
from models.case import CASE_ID_PATTERN, CaseType
from models.permissions import Permission
from models.registry import MyNumberReveal, PersonPublic
from procedures import TASK_KINDS
from services import cases as case_service

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

CaseReader = Annotated[Console, console_require(Permission.CASE_READ)]
NoticeReader = Annotated[Console, console_require(Permission.NOTICE_READ)]
MyNumberReader = Annotated[Console, console_require(Permission.MYNUMBER_READ)]
CaseIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="ケースID")]
NoticeIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="通知書ID")]


async def case_page(
    c: Console,
    case_id: str,
    *,
    banner: str | None = None,
    banner_kind: str = "ok",
    status_code: int = 200,
    revealed: str | None = None,
    reveal_error: str | None = None,
) -> Response:
    detail = await bridge.call(c, case_routes.get_case, case_id=case_id)
    person: PersonPublic | None = None
    if c.may(Permission.REGISTRY_READ):
        async with c.resources.sessions() as session:
            header = await case_service.get(session=session, case_id=case_id)
        person = await bridge.call(c, registry_routes.get_person, atena_no=header.subject_atena_no)
    notices = []
    if c.may(Permission.NOTICE_READ):
        found = await bridge.call(
            c, notice_routes.search_notices, case_id=case_id, paging=PageParams(page=1, size=50)
        )
        notices = found.items
    panel = panel_for(CaseType(detail.case.case_type))
    namespace = c.settings.temporal_namespace
    return page(
        c,
        "console/case.html",
        status_code=status_code,
        title=f"ケース {detail.stage_label}",
        d=detail,
        record=detail.record or {},
        person=person,
        notices=notices,
        clocks=panel.clocks(detail),
        panel=panel,
        temporal_url=(
            f"{TEMPORAL_PREFIX}/namespaces/{namespace}/workflows/{case_id}" if may_view(c.principal) else None
        ),
        kinds=TASK_KINDS,
        steps=STEP_LABELS,
        detail_labels=DETAIL_LABELS,
        office_label=c.settings.office_labels.get(detail.case.office, detail.case.office),
        banner=banner,
        banner_kind=banner_kind,
        revealed=revealed,
        reveal_error=reveal_error,
        **(await panel.extra(c, detail)),
    )


_DONE = {kind: f"{spec.label}を完了しました。" for kind, spec in TASK_KINDS.items()} | {
    "received": "申請を受け付けました。ワークフローが調査と意見書のタスクを作成します。"
}
# Timeline steps in the desk's words; "<kind>.completed" steps are named after the task kind.
STEP_LABELS: dict[str, str] = {
    "application.received": "申請を受付",
    "board.allocated": "審査会に割当",
    "board.tallied": "審査会で集計",
    "certification.decided": "認定を決定",
    "case.ended": "ケースを終了",
    "deadline.deemed_rejection": "却下とみなすことができる日を記録 (27条12項)",
    "delay_notice.omitted": "延期通知を省略 (本人の同意あり)",
    "notice.failed": "通知書を発行できず (修正待ち)",
    "notice.issued": "通知書を発行",
} | {f"{kind}.completed": f"{spec.label}を完了" for kind, spec in TASK_KINDS.items()}
DETAIL_LABELS = {
    "level": "区分",
    "held_on": "開催日",
    "agenda_no": "番号",
    "outcome": "結果",
    "reason": "理由",
}


@router.get("/cases/{case_id}", summary="ケースの画面 (段階・法定期限・経過・タスク・通知書・対象者)")
async def show_case(
    case_id: CaseIdPath, c: CaseReader, done: Annotated[str | None, Query(max_length=48)] = None
) -> Response:
    return await case_page(c, case_id, banner=_DONE.get(done or ""))


@router.post("/cases/{case_id}/my-number", summary="個人番号を全桁表示する (理由を入力; 操作記録に残る)")
async def reveal_my_number(
    case_id: CaseIdPath, c: MyNumberReader, _: CsrfChecked, reason: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    async with c.resources.sessions() as session:
        header = await case_service.get(session=session, case_id=case_id)
    try:
        data = MyNumberReveal(reason=reason)
    except ValidationError:
        return await case_page(
            c, case_id, status_code=422, reveal_error="表示する理由を2文字以上で入力してください"
        )
    try:
        revealed = await bridge.call(
            c, registry_routes.reveal_my_number, atena_no=header.subject_atena_no, data=data
        )
    except ProblemError as problem:
        return await case_page(c, case_id, status_code=problem.status, reveal_error=problem.detail)
    return await case_page(
        c,
        case_id,
        revealed=revealed.my_number,
        banner="個人番号を表示しました。表示と理由は操作記録に残ります。",
    )


@router.get("/notices/{notice_id}/html", summary="通知書の HTML プレビュー (正本は PDF)")
async def notice_html(notice_id: NoticeIdPath, c: NoticeReader) -> Any:
    return await bridge.call(c, notice_routes.notice_html, notice_id=notice_id)


@router.get("/notices/{notice_id}/pdf", summary="通知書の PDF (発行時と同一)")
async def notice_pdf(notice_id: NoticeIdPath, c: NoticeReader) -> Any:
    return await bridge.call(c, notice_routes.notice_pdf, notice_id=notice_id)
