"""開示請求: one person's data and its access history, as JSON or a readable document."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import AfterValidator

from api.auth import AuditDep, Principal, require
from api.deps import ResourcesDep, SessionDep
from api.params import AtenaNoPath
from models.common import utcnow
from models.japanese_text import check_plain_text
from models.permissions import Permission
from services import disclosure

router = APIRouter(tags=["disclosure"])

RequestNo = Annotated[
    str,
    AfterValidator(check_plain_text),
    Query(
        min_length=1,
        max_length=40,
        description="開示請求の受付番号 (保有個人情報開示請求書の受付番号。操作記録に残ります)",
        examples=["令和8年度 開示第12号"],
    ),
]

_templates = Environment(
    loader=FileSystemLoader(FilePath(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


@router.get(
    "/persons/{atena_no}/disclosure",
    summary="開示請求に応じる: 保有情報と利用記録 (JSON または HTML)",
    response_model=disclosure.DisclosureReport,
    responses={200: {"content": {"text/html": {}}}},
)
async def disclosure_report(
    atena_no: AtenaNoPath,
    principal: Annotated[Principal, require(Permission.DISCLOSURE_ISSUE)],
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    request_no: RequestNo,
    format: Annotated[Literal["json", "html"], Query(description="出力形式")] = "json",
) -> disclosure.DisclosureReport | HTMLResponse:
    """The report holds the person's full 個人番号 (a resident's own disclosure must show their data) when
    the staff member also holds mynumber:read; it is issued only against a 開示請求 受付番号, which the
    audit row records with the format and whether the full number was shown."""
    full_my_number = principal.has(Permission.MYNUMBER_READ)
    report = await disclosure.build_report(
        session=session,
        cipher=resources.cipher,
        atena_no=atena_no,
        request_no=request_no,
        full_my_number=full_my_number,
        now=utcnow(),
    )
    audit.record(
        "disclosure.issue",
        subject=atena_no,
        detail={"request_no": request_no, "format": format, "full_my_number": full_my_number},
    )
    if format == "html":
        return HTMLResponse(_templates.get_template("disclosure.html").render(report=report))
    return report
