"""The supervisors' browser login for the Temporal UI: /ui/login opens a session, /ui/logout ends it.

The login is checked, throttled and audited like POST /auth/token. It creates a login of its own (a jti that
no bearer token carries) and puts only a codec-only token for it in the cookie (kaigo/security/tokens.py):
that opens the UI under /temporal/ and, with codec:decode, the decoding of payloads. Logging out revokes the
login, so the cookie is dead even if a copy survives. The forms carry a CSRF token (double submit: a random
value in a SameSite=Strict cookie and in the form).
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import (
    CODEC_COOKIE,
    CODEC_COOKIE_PATH,
    AuditDep,
    Principal,
    codec_session_principal,
    write_now,
)
from api.deps import ResourcesDep, SessionDep
from api.routes.auth import authenticate, issue_codec_token_for, set_codec_cookie
from api.routes.temporal_ui import UI_START, may_view
from kaigo.errors import ProblemError
from kaigo.security.permissions import ROLE_LABELS, Permission, Role
from kaigo.security.tokens import TokenClaims
from models.common import JST
from models.security import RevokedToken
from services import staff as staff_service

router = APIRouter(prefix="/ui", include_in_schema=False)

_CSRF_COOKIE = "kaigo_ui_csrf"
_NEXT = re.compile(r"^/temporal/[^\\\s]*$")
_HEADERS = {
    # Our own page only: no scripts at all, inline styles, forms posting back here, never framed.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

SessionPrincipal = Annotated[Principal | None, Depends(codec_session_principal)]


def _safe_next(target: str | None) -> str:
    """Only a page of the Temporal UI on this origin (never another host: no open redirect)."""
    return target if target and _NEXT.fullmatch(target) else UI_START


def _page(
    request: Request, *, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    csrf = request.cookies.get(_CSRF_COOKIE) or secrets.token_urlsafe(32)
    html = _templates.get_template("ui_login.html").render(csrf=csrf, **context)
    response = HTMLResponse(html, status_code=status_code, headers={**_HEADERS, **(headers or {})})
    response.set_cookie(
        _CSRF_COOKIE, csrf, path="/ui", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


def _session_view(principal: Principal) -> dict[str, Any]:
    return {
        "login_id": principal.login_id,
        "roles": "・".join(ROLE_LABELS[Role(r)] for r in sorted(principal.roles)),
        "decodes": principal.has(Permission.CODEC_DECODE),
        "expires": principal.token.expires_at.astimezone(JST).strftime("%H:%M"),
    }


def _check_csrf(request: Request, token: str) -> None:
    expected = request.cookies.get(_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected.encode(), token.encode()):
        raise ProblemError(
            403, "csrf", "画面の有効期限が切れました。ログイン画面を開き直してください", field="csrf_token"
        )


@router.get("/login")
async def login_page(request: Request, principal: SessionPrincipal, next: str | None = None) -> Response:
    if principal is not None:
        return _page(request, session=_session_view(principal), next=_safe_next(next))
    return _page(request, next=_safe_next(next), logged_out="logged_out" in request.query_params)


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
    _check_csrf(request, csrf_token)
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
            next=target,
        )
    lifetime = timedelta(minutes=resources.settings.access_token_minutes)
    login_claims = TokenClaims(
        login_id=staff.login_id,
        token_id=uuid.uuid4().hex,
        version=staff.token_version,
        expires_at=datetime.now(UTC) + lifetime,
    )
    principal = Principal(staff.login_id, frozenset(Role(r) for r in staff.roles), login_claims)
    audit.principal = principal
    if not may_view(principal):
        await write_now(
            resources,
            audit.entry(
                "access.denied", outcome="denied", detail={"permission": "temporal-ui", "code": "forbidden"}
            ),
        )
        return _page(
            request,
            status_code=status.HTTP_403_FORBIDDEN,
            error="この職員のアカウントでは Temporal UI を利用できません",
            next=target,
        )
    token, claims = issue_codec_token_for(login_claims, resources)
    audit.record(staff_service.LOGIN_ACTION, detail={"via": "temporal-ui", "session": login_claims.token_id})
    audit.record("codec.session", detail={"session": login_claims.token_id})
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER, headers=_HEADERS)
    set_codec_cookie(response, token, claims, resources)
    return response


@router.post("/logout")
async def logout(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=100)],
    principal: SessionPrincipal,
    session: SessionDep,
    audit: AuditDep,
) -> Response:
    _check_csrf(request, csrf_token)
    if principal is not None and principal.token.session_id is not None:
        audit.principal = principal
        session.add(
            RevokedToken(
                token_id=principal.token.session_id,  # the login: every codec token of it dies
                login_id=principal.login_id,
                expires_at=principal.token.expires_at,
            )
        )
        audit.record("auth.logout", detail={"via": "temporal-ui", "session": principal.token.session_id})
    response = RedirectResponse(
        "/ui/login?logged_out", status_code=status.HTTP_303_SEE_OTHER, headers=_HEADERS
    )
    response.delete_cookie(CODEC_COOKIE, path=CODEC_COOKIE_PATH)
    return response
