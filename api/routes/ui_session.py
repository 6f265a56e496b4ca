"""The one browser login of kaigo-flow — for the web console (/console/) and the Temporal UI (/temporal/).

/ui/login checks the password like POST /auth/token (same throttling, same `auth.login` audit rows) and opens
a browser session (api/console/auth.py: a server-checked, revocable session in an HttpOnly, SameSite=Strict
cookie). Staff who may follow cases in the Temporal UI also get its codec-only cookie (kaigo/security/
tokens.py), tied to this login by its `sid`; when that short-lived cookie runs out, opening the UI again
renews it from the live session, without a password. /ui/logout ends the session and, with it, every codec
token of the login. The login form carries a double-submit CSRF token (a random value in a SameSite=Strict
cookie and in the form); once logged in, forms carry the session's own token.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import (
    CODEC_COOKIE,
    CODEC_COOKIE_PATH,
    AuditDep,
    AuditTrail,
    Principal,
    codec_session_principal,
    write_now,
)
from api.console.auth import (
    SESSION_COOKIE,
    end_session,
    load_session,
    open_session,
    same_origin,
    session_expiry,
    set_session_cookie,
)
from api.deps import Resources, ResourcesDep, SessionDep
from api.routes.auth import authenticate, issue_codec_token_for, set_codec_cookie
from api.routes.temporal_ui import UI_START, may_view
from kaigo.errors import ProblemError
from kaigo.security.tokens import TokenClaims
from models.common import JST
from models.console import ConsoleSession
from models.permissions import ROLE_LABELS, Permission, Role
from models.security import RevokedToken
from services import staff as staff_service

router = APIRouter(prefix="/ui", include_in_schema=False)

CONSOLE_START = "/console/"
_CSRF_COOKIE = "kaigo_ui_csrf"
# Where a login may lead: a page of the console or of the Temporal UI on this origin (no open redirect).
_NEXT = re.compile(r"^/(temporal|console)/[^\\\s]*$")
_HEADERS = {
    # Our own page only: no scripts at all, inline styles, forms posting back here, never framed.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}
_NO_TEMPORAL_UI = "この職員のアカウントでは Temporal UI を利用できません"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _safe_next(target: str | None) -> str | None:
    return target if target and _NEXT.fullmatch(target) else None


def _is_temporal(target: str | None) -> bool:
    return bool(target and target.startswith("/temporal/"))


def _page(
    request: Request,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    session_csrf: str | None = None,
    **context: Any,
) -> HTMLResponse:
    # Before the login: a double-submit token. Once logged in: the session's own token.
    csrf = session_csrf or request.cookies.get(_CSRF_COOKIE) or secrets.token_urlsafe(32)
    html = _templates.get_template("ui_login.html").render(csrf=csrf, **context)
    response = HTMLResponse(html, status_code=status_code, headers={**_HEADERS, **(headers or {})})
    if session_csrf is None:
        response.set_cookie(
            _CSRF_COOKIE,
            csrf,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def _session_view(principal: Principal, row: ConsoleSession, resources: Resources) -> dict[str, Any]:
    return {
        "login_id": principal.login_id,
        "roles": "・".join(ROLE_LABELS[Role(r)] for r in sorted(principal.roles)),
        "temporal_ui": may_view(principal),
        "decodes": principal.has(Permission.CODEC_DECODE),
        "expires": session_expiry(row, resources.settings).astimezone(JST).strftime("%H:%M"),
    }


def _check_login_csrf(request: Request, token: str) -> None:
    expected = request.cookies.get(_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected.encode(), token.encode()):
        raise ProblemError(
            403, "csrf", "画面の有効期限が切れました。ログイン画面を開き直してください", field="csrf_token"
        )


def _codec_cookie_for(
    response: Response, row: ConsoleSession, resources: Resources, audit: AuditTrail
) -> None:
    """The Temporal UI's codec-only cookie for this login: it dies with the session's login (`sid`)."""
    login = TokenClaims(
        login_id=row.login_id, token_id=row.login_jti, version=row.token_version, expires_at=row.expires_at
    )
    token, claims = issue_codec_token_for(login, resources)
    audit.record("codec.session", detail={"session": row.login_jti})
    set_codec_cookie(response, token, claims, resources)


async def _refuse_temporal_ui(
    request: Request, resources: Resources, audit: AuditTrail, **context: Any
) -> Response:
    await write_now(
        resources,
        audit.entry(
            "access.denied", outcome="denied", detail={"permission": "temporal-ui", "code": "forbidden"}
        ),
    )
    return _page(request, status_code=status.HTTP_403_FORBIDDEN, error=_NO_TEMPORAL_UI, **context)


@router.get("/login")
async def login_page(
    request: Request,
    resources: ResourcesDep,
    audit: AuditDep,
    session: SessionDep,  # noqa: ARG001  (its transaction writes the audit entries)
    next: str | None = None,
) -> Response:
    target = _safe_next(next)
    found = await load_session(request, resources)
    if isinstance(found, str):
        return _page(request, next=target or "", logged_out="logged_out" in request.query_params)
    principal, row = found
    audit.principal = principal
    view = _session_view(principal, row, resources)
    if _is_temporal(target):
        if not may_view(principal):
            return await _refuse_temporal_ui(
                request, resources, audit, session=view, session_csrf=row.csrf_token
            )
        # The UI's codec cookie ran out while the session lives: renew it from the session (no password).
        response = RedirectResponse(
            target or UI_START, status_code=status.HTTP_303_SEE_OTHER, headers=_HEADERS
        )
        _codec_cookie_for(response, row, resources, audit)
        return response
    if target is not None:
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER, headers=_HEADERS)
    return _page(request, session=view, session_csrf=row.csrf_token)


@router.post("/login")
async def login(
    request: Request,
    login_id: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=128)],
    csrf_token: Annotated[str, Form(max_length=100)],
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    _check_login_csrf(request, csrf_token)
    target = _safe_next(next)
    try:
        staff = await authenticate(
            login_id=login_id, password=password, session=session, resources=resources, audit=audit
        )
    except ProblemError as refused:
        return _page(
            request,
            status_code=refused.status,
            headers=refused.headers,
            error=refused.detail,
            login_id=login_id.strip()[:64],
            next=target or "",
        )
    previous = await load_session(request, resources)
    if not isinstance(previous, str):  # a session this browser still had: it ends, the new one replaces it
        await end_session(resources, previous[1])
    secret, row = await open_session(resources, staff)
    principal = Principal(
        staff.login_id,
        frozenset(Role(r) for r in staff.roles),
        TokenClaims(staff.login_id, row.login_jti, row.token_version, row.expires_at),
    )
    audit.principal = principal
    audit.record(staff_service.LOGIN_ACTION, detail={"via": "browser", "session": row.login_jti})
    if _is_temporal(target) and not may_view(principal):
        response: Response = await _refuse_temporal_ui(
            request,
            resources,
            audit,
            session=_session_view(principal, row, resources),
            session_csrf=row.csrf_token,
        )
    else:
        response = RedirectResponse(
            target or CONSOLE_START, status_code=status.HTTP_303_SEE_OTHER, headers=_HEADERS
        )
        if may_view(principal):
            _codec_cookie_for(response, row, resources, audit)
    set_session_cookie(response, secret, resources.settings)
    response.delete_cookie(_CSRF_COOKIE, path="/ui")
    return response


@router.post("/logout")
async def logout(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=100)],
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> Response:
    found = await load_session(request, resources)
    if isinstance(found, str):
        _check_login_csrf(request, csrf_token)  # no session: the login page's own token
    else:
        principal, row = found
        if not same_origin(request) or not secrets.compare_digest(
            row.csrf_token.encode(), csrf_token.encode()
        ):
            raise ProblemError(
                403,
                "csrf",
                "画面の有効期限が切れました。ログイン画面を開き直してください",
                field="csrf_token",
            )
        audit.principal = principal
        await end_session(resources, row)
        audit.record("auth.logout", detail={"via": "browser", "session": row.login_jti})
    codec = await codec_session_principal(request, resources)  # None once its login ended above
    if codec is not None and codec.token.session_id is not None:
        # A codec cookie of another login (an API client's /auth/codec-session): its login ends too.
        audit.principal = audit.principal or codec
        session.add(
            RevokedToken(
                token_id=codec.token.session_id, login_id=codec.login_id, expires_at=codec.token.expires_at
            )
        )
        audit.record("auth.logout", detail={"via": "temporal-ui", "session": codec.token.session_id})
    response = RedirectResponse(
        "/ui/login?logged_out", status_code=status.HTTP_303_SEE_OTHER, headers=_HEADERS
    )
    response.delete_cookie(CODEC_COOKIE, path=CODEC_COOKIE_PATH)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
