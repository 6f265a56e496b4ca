"""The browser session of the web console and the Temporal UI: one login (/ui/login), checked each request.

- The cookie `kaigo_session` holds a random secret (HttpOnly, SameSite=Strict, Secure outside development);
  the table `console_session` keeps only its SHA-256. It is accepted only by /console/* and /ui/* — never by
  the JSON API, which keeps bearer tokens (so the API cannot be driven by a cookie from another page).
- Every request checks the session row and the account: logout, an administrator's revocation (token version),
  a deactivation end it; roles are read per request, so a role change applies on the next request.
- It ends after ACCESS_TOKEN_MINUTES without a request, CONSOLE_SESSION_HOURS after the login at the latest.
- Forms carry the session's synchronizer token (`csrf_token`); a state change also needs the browser to say
  the request came from this origin (Sec-Fetch-Site / Origin) — a page on another port of the same host is
  "same-site" and would get a SameSite=Strict cookie sent along.

Console routes declare their permission with `console_require(...)` (a `Require`, so the README's route table
and tests/api/test_route_permissions.py see it like the API's).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Form, Request
from sqlmodel import col

from api.auth import AuditDep, AuditTrail, Principal, Require, check_account, deny, write_now
from api.deps import Resources, ResourcesDep
from kaigo.config import Settings
from kaigo.errors import ProblemError
from kaigo.security.tokens import TokenClaims
from models.common import utcnow
from models.console import ConsoleSession
from models.permissions import Permission, Role
from models.security import RevokedToken, Staff

SESSION_COOKIE = "kaigo_session"
_TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session


class LoginRequired(Exception):
    """No valid browser session: pages send the browser to the login, other requests get 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Console:
    """One console request: who, their session (its CSRF token), the app's resources and the audit trail."""

    request: Request
    principal: Principal
    session: ConsoleSession
    resources: Resources
    audit: AuditTrail

    @property
    def login_id(self) -> str:
        return self.principal.login_id

    def may(self, permission: Permission) -> bool:
        return self.principal.has(permission)

    @property
    def settings(self) -> Settings:
        return self.resources.settings


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _idle(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.access_token_minutes)


async def open_session(resources: Resources, staff: Staff) -> tuple[str, ConsoleSession]:
    """A new session for a login that was just checked: (the cookie's secret, its row). Always a new secret,
    so a session id planted before the login (fixation) is never the one that gets logged in."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = ConsoleSession(
        id=_digest(secret),
        login_id=staff.login_id,
        login_jti=uuid.uuid4().hex,
        token_version=staff.token_version,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=resources.settings.console_session_hours),
    )
    async with resources.sessions() as session, session.begin():
        session.add(row)
    return secret, row


async def end_session(resources: Resources, row: ConsoleSession) -> None:
    """Logout: the session and every codec token of its login (their `sid`) die now."""
    async with resources.sessions() as session, session.begin():
        await session.exec(
            sa.update(ConsoleSession).where(col(ConsoleSession.id) == row.id).values(revoked_at=utcnow())
        )
        session.add(RevokedToken(token_id=row.login_jti, login_id=row.login_id, expires_at=row.expires_at))


def set_session_cookie(response: Any, secret: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        path="/",  # /console/ and /ui/; the JSON API never reads it
        httponly=True,
        samesite="strict",
        secure=not settings.is_dev and settings.kaigo_env != "test",
    )


def session_expiry(row: ConsoleSession, settings: Settings) -> datetime:
    """When the session ends if nothing happens: idle timeout or the absolute end, whichever is first."""
    return min(row.expires_at, row.last_seen_at + _idle(settings))


async def load_session(request: Request, resources: Resources) -> tuple[Principal, ConsoleSession] | str:
    """The request's session and its principal, or why there is none ("missing", "expired", "revoked", …)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret or len(secret) > 100:
        return "missing"
    now = utcnow()
    async with resources.sessions() as session:
        row = await session.get(ConsoleSession, _digest(secret))
    if row is None:
        return "unknown"
    if row.revoked_at is not None:
        return "revoked"
    if now >= session_expiry(row, resources.settings):
        return "expired"
    claims = TokenClaims(
        login_id=row.login_id, token_id=row.login_jti, version=row.token_version, expires_at=row.expires_at
    )
    staff, reason = await check_account(resources, claims)
    if reason or staff is None:
        return reason or "unknown account"
    if now - row.last_seen_at >= _TOUCH_EVERY:
        async with resources.sessions() as session, session.begin():
            await session.exec(
                sa.update(ConsoleSession).where(col(ConsoleSession.id) == row.id).values(last_seen_at=now)
            )
        row.last_seen_at = now
    principal = Principal(staff.login_id, frozenset(Role(r) for r in staff.roles), claims)
    return principal, row


async def current_console(request: Request, resources: ResourcesDep, trail: AuditDep) -> Console:
    """The request's console context (cached per request by FastAPI); LoginRequired without a session."""
    found = await load_session(request, resources)
    if isinstance(found, str):
        raise LoginRequired(found)
    principal, row = found
    trail.principal = principal
    console = Console(request, principal, row, resources, trail)
    request.state.console = console
    return console


CurrentConsole = Annotated[Console, Depends(current_console)]


class ConsoleRequire(Require):
    """Console route dependency: a valid browser session whose staff member holds `permission`."""

    async def __call__(  # type: ignore[override]
        self, console: CurrentConsole, resources: ResourcesDep, trail: AuditDep
    ) -> Console:
        if not console.may(self.permission):
            await deny(resources, trail, f"権限がありません ({self.permission})", permission=self.permission)
        return console


def console_require(permission: Permission) -> Any:
    return Depends(ConsoleRequire(permission))


SignedIn = CurrentConsole  # any staff member with a session (pages every role may open)


def same_origin(request: Request) -> bool:
    """The browser says this request comes from a page of this origin (absent headers: not a browser)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        return origin == own
    return origin is None


def csrf_refusal() -> ProblemError:
    return ProblemError(
        403,
        "csrf",
        "画面の有効期限が切れたか、別の画面から送信されました。画面を開き直してからもう一度操作してください",
        field="csrf_token",
    )


async def check_csrf(
    request: Request, console: CurrentConsole, csrf_token: Annotated[str, Form(max_length=100)] = ""
) -> None:
    """Every state-changing console form: the session's token, sent from this origin."""
    expected = console.session.csrf_token.encode()
    if not same_origin(request) or not secrets.compare_digest(expected, csrf_token.encode()):
        await _audit_csrf(console)
        raise csrf_refusal()


async def _audit_csrf(console: Console) -> None:
    await write_now(
        console.resources,
        console.audit.entry("access.denied", outcome="denied", detail={"permission": "csrf", "code": "csrf"}),
    )


CsrfChecked = Annotated[None, Depends(check_csrf)]
