"""Authentication (who is calling), authorisation (may they), and the per-request audit trail.

Every non-public route depends on `require(<permission>)`. An authenticated refusal (403) is audited in a
transaction of its own (the request's own transaction is rolled back); an allowed request's audit entries
are written in the request's transaction, just before it commits (api/deps.py `get_session`). A request
refused for want of a valid token (401) is counted in memory and written as one aggregated row per minute
per client and reason (kaigo/security/refusals.py), so anonymous traffic cannot load the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import col, select

from api.deps import Resources, ResourcesDep
from api.request_context import current_client_addr, current_request_id
from kaigo.errors import ProblemError
from kaigo.security import audit
from kaigo.security.audit import AuditEntry, Outcome
from kaigo.security.refusals import RefusalKey
from kaigo.security.tokens import InvalidToken, TokenClaims, decode_codec_token, decode_token
from models.permissions import ROLE_PERMISSIONS, SCOPED_ROLES, Permission, Role, permissions_for
from models.security import RevokedToken, Staff
from models.task import Task, TaskState

# The Temporal UI's session: a codec-only token (kaigo/security/tokens.py) in this cookie, read only on
# /codec/* (below) and by the UI proxy (api/routes/temporal_ui.py); a staff token is never taken from it.
CODEC_COOKIE = "kaigo_codec_token"
CODEC_COOKIE_PATH = "/"  # the UI under /temporal/, its codec under /codec/, the login page under /ui/

_oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


@dataclass(frozen=True)
class Principal:
    login_id: str
    roles: frozenset[Role]
    token: TokenClaims

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    @property
    def roles_label(self) -> str:
        return ",".join(sorted(self.roles))

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    def scoped_for(self, permission: Permission) -> bool:
        """True when only scoped roles (contracted surveyors) grant `permission`: access is per assignment."""
        return not any(permission in ROLE_PERMISSIONS[r] for r in self.roles if r not in SCOPED_ROLES)


@dataclass
class AuditTrail:
    """Entries recorded while handling one request; written by the session dependency before commit."""

    request: Request
    principal: Principal | None = None
    pending: list[AuditEntry] = field(default_factory=list)

    def record(
        self,
        action: str,
        *,
        subject: str | None = None,
        resource: str | None = None,
        outcome: Outcome = "success",
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.pending.append(
            self.entry(action, subject=subject, resource=resource, outcome=outcome, detail=detail)
        )

    def entry(
        self,
        action: str,
        *,
        subject: str | None = None,
        resource: str | None = None,
        outcome: Outcome = "success",
        detail: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            actor=actor or (self.principal.login_id if self.principal else "anonymous"),
            roles=self.principal.roles_label if self.principal else "",
            action=action,
            outcome=outcome,
            resource=resource or f"{self.request.method} {self.request.url.path}",
            subject_atena_no=subject,
            request_id=current_request_id(),
            client_addr=current_client_addr(),
            detail=detail or {},
        )


async def get_audit(request: Request) -> AuditTrail:
    trail = getattr(request.state, "audit", None)
    if trail is None:
        trail = request.state.audit = AuditTrail(request)
    return trail


AuditDep = Annotated[AuditTrail, Depends(get_audit)]


async def write_now(resources: ResourcesDep, entry: AuditEntry) -> None:
    """Audit in a transaction of its own (for refusals, whose request transaction is rolled back)."""
    async with resources.sessions() as session, session.begin():
        await audit.append(session, [entry])


def count_unauthenticated(
    resources: Resources, trail: AuditTrail, action: str, *, outcome: Outcome, actor: str, reason: str
) -> None:
    """Tally a refusal of an unauthenticated caller (no row now; one row per minute and key later)."""
    key = RefusalKey(action, outcome, actor, current_client_addr(), reason)
    resources.refusals.count(key, f"{trail.request.method} {trail.request.url.path}")


def _unauthenticated(reason: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthenticated",
        "ログインが必要です。再度ログインしてください"
        if reason != "expired"
        else "ログインの有効期限が切れました",
        headers={"WWW-Authenticate": "Bearer"},
        extra={"reason": reason},
    )


async def current_principal(
    request: Request,
    resources: ResourcesDep,
    trail: AuditDep,
    bearer: Annotated[str | None, Depends(_oauth2)],
) -> Principal:
    cookie = same_origin_codec_cookie(request) if request.url.path.startswith("/codec/") else None
    token = bearer or cookie
    reason, claims, staff = "missing", None, None
    if token:
        try:
            decode = decode_token if bearer else decode_codec_token
            claims = decode(token, secret=resources.settings.secret_key)
        except InvalidToken as exc:
            reason = str(exc)
        else:
            staff, reason = await check_account(resources, claims)
    if reason or claims is None or staff is None:
        actor = claims.login_id if claims else "anonymous"
        count_unauthenticated(resources, trail, "auth.token", outcome="denied", actor=actor, reason=reason)
        raise _unauthenticated(reason)
    principal = Principal(staff.login_id, frozenset(Role(r) for r in staff.roles), claims)
    trail.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def check_account(resources: ResourcesDep, claims: TokenClaims) -> tuple[Staff | None, str]:
    """The account behind verified claims, and why it may not act now ("" when it may).

    One query, one round trip, autocommit (no BEGIN/ROLLBACK for a read that needs no transaction): the
    account, and whether this token — or the login a codec token was issued under — was logged out.
    """
    revoked = sa.exists().where(col(RevokedToken.token_id).in_(claims.revocation_ids))
    reader = resources.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with resources.sessions(bind=reader) as session:
        row = (await session.exec(select(Staff, revoked).where(Staff.login_id == claims.login_id))).first()
    staff, is_revoked = (row[0], bool(row[1])) if row else (None, False)
    if staff is None:
        return None, "unknown account"
    if not staff.active:
        return staff, "account disabled"
    if is_revoked or staff.token_version != claims.version:
        return staff, "revoked"
    return staff, ""


def same_origin_codec_cookie(request: Request) -> str | None:
    """The codec cookie, unless the browser says another origin sent the request (Sec-Fetch-Site).

    SameSite=Lax already keeps it off cross-site requests; this also refuses other ports of the same host.
    """
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return None
    return request.cookies.get(CODEC_COOKIE)


async def codec_session_principal(request: Request, resources: ResourcesDep) -> Principal | None:
    """Who holds the request's valid codec cookie (the Temporal UI proxy and login page), else None."""
    token = request.cookies.get(CODEC_COOKIE)
    if not token:
        return None
    try:
        claims = decode_codec_token(token, secret=resources.settings.secret_key)
    except InvalidToken:
        return None
    staff, reason = await check_account(resources, claims)
    if reason or staff is None:
        return None
    return Principal(staff.login_id, frozenset(Role(r) for r in staff.roles), claims)


class Require:
    """Route dependency: the caller holds `permission`. Introspected to build the README route table."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, principal: PrincipalDep, resources: ResourcesDep, trail: AuditDep) -> Principal:
        if not principal.has(self.permission):
            await deny(resources, trail, f"権限がありません ({self.permission})", permission=self.permission)
        return principal


async def deny(
    resources: ResourcesDep,
    trail: AuditTrail,
    detail: str,
    *,
    permission: Permission,
    subject: str | None = None,
    code: str = "forbidden",
) -> None:
    """Audit a refusal in its own transaction, then raise 403 (`code` tells a role from a scope refusal)."""
    entry = trail.entry(
        "access.denied",
        outcome="denied",
        subject=subject,
        detail={"permission": str(permission), "code": code},
    )
    await write_now(resources, entry)
    raise ProblemError(403, code, detail, extra={"permission": str(permission)})


def require(permission: Permission) -> Any:
    return Depends(Require(permission))


async def check_subject_access(
    *,
    principal: Principal,
    permission: Permission,
    atena_no: str,
    resources: ResourcesDep,
    trail: AuditTrail,
) -> None:
    """Record-level check: scoped roles see only persons on a case assigned to them (open task)."""
    if not principal.scoped_for(permission):
        return
    async with resources.sessions() as session:
        assigned = (
            await session.exec(
                select(Task.id).where(
                    Task.subject_atena_no == atena_no,
                    Task.assignee == principal.login_id,
                    Task.state == TaskState.OPEN,
                )
            )
        ).first()
    if assigned is None:
        await deny(
            resources,
            trail,
            "担当していないケースの情報は参照できません",
            permission=permission,
            subject=atena_no,
            code="not-assigned",
        )
