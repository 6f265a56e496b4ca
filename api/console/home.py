"""The console's front door: /console/ leads each staff member to the page of their work."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from api.console.auth import SignedIn
from api.console.pages import PAGE_HEADERS, ConsoleRoute
from api.routes.temporal_ui import UI_START, may_view
from models.permissions import Permission

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@router.get("/", summary="最初の画面 (役割に応じて受信箱・審査会・ダッシュボードへ)")
async def home(c: SignedIn) -> Response:
    if c.may(Permission.BOARD_DECIDE):
        target = "/console/board"
    elif c.may(Permission.TASK_WORK):
        target = "/console/inbox"
    elif c.may(Permission.DASHBOARD_READ):
        target = "/console/dashboard"
    elif may_view(c.principal):
        target = UI_START
    else:
        target = "/ui/login"
    return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
