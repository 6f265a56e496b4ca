"""開示請求: one person's data and its access history, as JSON or a readable document."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import AuditDep, Principal, require
from api.deps import ResourcesDep, SessionDep
from api.params import AtenaNoPath
from kaigo.security.permissions import Permission
from models.common import utcnow
from services import disclosure

router = APIRouter(tags=["disclosure"])

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
    format: Annotated[Literal["json", "html"], Query(description="出力形式")] = "json",
) -> disclosure.DisclosureReport | HTMLResponse:
    report = await disclosure.build_report(
        session=session,
        cipher=resources.cipher,
        atena_no=atena_no,
        full_my_number=principal.has(Permission.MYNUMBER_READ),
        now=utcnow(),
    )
    audit.record("disclosure.issue", subject=atena_no, detail={"format": format})
    if format == "html":
        return HTMLResponse(_templates.get_template("disclosure.html").render(report=report))
    return report
