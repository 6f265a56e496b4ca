"""Staff login (OAuth2 password flow), logout, and the current account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import (
    CODEC_COOKIE,
    CODEC_COOKIE_PATH,
    AuditDep,
    AuditTrail,
    Principal,
    PrincipalDep,
    count_unauthenticated,
    require,
    write_now,
)
from api.deps import Resources, ResourcesDep, SessionDep
from api.request_context import current_client_addr
from kaigo.errors import ProblemError
from kaigo.security.tokens import TokenClaims, issue_codec_token, issue_token
from models.permissions import ROLE_LABELS, Permission
from models.security import RevokedToken, Staff, StaffPublic, TokenResponse
from services import staff as staff_service

router = APIRouter(tags=["auth"])

_BAD_LOGIN = "ログインIDまたはパスワードが正しくありません"


async def authenticate(
    *, login_id: str, password: str, session: AsyncSession, resources: Resources, audit: AuditTrail
) -> Staff:
    """Check a password, throttled and audited (also the Temporal UI's browser login)."""
    settings = resources.settings
    login_id = login_id.strip()[:64]
    retry_after = await staff_service.login_retry_after(
        session=session,
        login_id=login_id,
        client_addr=current_client_addr(),
        window=timedelta(minutes=settings.login_failure_window_minutes),
        max_per_account=settings.login_max_failures_per_account,
        max_per_client=settings.login_max_failures_per_client,
    )
    if retry_after is not None:
        # Counted, not a row each: a client hammering a throttled login must not load the audit trail.
        count_unauthenticated(
            resources,
            audit,
            staff_service.LOGIN_ACTION,
            outcome="throttled",
            actor=login_id,
            reason="throttled",
        )
        raise ProblemError(
            429,
            "login-throttled",
            f"ログインの失敗が続いたため一時的に制限しています。{retry_after}秒後に再度お試しください",
            headers={"Retry-After": str(retry_after)},
        )
    staff = await staff_service.check_password(session=session, login_id=login_id, password=password)
    if staff is None:
        await write_now(resources, audit.entry(staff_service.LOGIN_ACTION, outcome="failure", actor=login_id))
        raise ProblemError(401, "bad-credentials", _BAD_LOGIN, headers={"WWW-Authenticate": "Bearer"})
    return staff


@router.post("/auth/token", summary="ログインしてアクセストークンを得る (OAuth2 password flow)")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> TokenResponse:
    staff = await authenticate(
        login_id=form.username, password=form.password, session=session, resources=resources, audit=audit
    )
    lifetime = timedelta(minutes=resources.settings.access_token_minutes)
    token, _ = issue_token(
        secret=resources.settings.secret_key,
        login_id=staff.login_id,
        version=staff.token_version,
        lifetime=lifetime,
    )
    audit.pending.append(audit.entry(staff_service.LOGIN_ACTION, actor=staff.login_id))
    return TokenResponse(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.post(
    "/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="ログアウトする (トークンを失効)"
)
async def logout(principal: PrincipalDep, session: SessionDep, audit: AuditDep) -> Response:
    session.add(
        RevokedToken(
            token_id=principal.token.token_id,
            login_id=principal.login_id,
            expires_at=principal.token.expires_at,
        )
    )
    audit.record("auth.logout")
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(CODEC_COOKIE, path=CODEC_COOKIE_PATH)  # its codec token is revoked with it anyway
    return response


class Me(StaffPublic):
    role_labels: list[str]
    permissions: list[Permission]


@router.get("/auth/me", summary="ログイン中の職員と権限")
async def me(principal: PrincipalDep, session: SessionDep) -> Me:
    staff = await staff_service.get_staff(session=session, login_id=principal.login_id)
    return Me(
        **StaffPublic.model_validate(staff).model_dump(),
        role_labels=[ROLE_LABELS[r] for r in sorted(principal.roles)],
        permissions=sorted(principal.permissions),
    )


@router.post(
    "/auth/codec-session",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Temporal UI の復号用 Cookie を設定する (復号専用の短期トークン)",
)
async def codec_session(
    principal: Annotated[Principal, require(Permission.CODEC_DECODE)],
    resources: ResourcesDep,
    audit: AuditDep,
    session: SessionDep,  # noqa: ARG001  (its transaction writes the audit entry)
) -> Response:
    """For API clients: a codec-only cookie tied to this login (never a copy of the staff token)."""
    token, claims = issue_codec_token_for(principal.token, resources)
    audit.record("codec.session", detail={"session": principal.token.token_id})
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    set_codec_cookie(response, token, claims, resources)
    return response


def issue_codec_token_for(login: TokenClaims, resources: Resources) -> tuple[str, TokenClaims]:
    """A codec-only token living at most ACCESS_TOKEN_MINUTES that dies with `login` (its jti, its expiry)."""
    return issue_codec_token(
        secret=resources.settings.secret_key,
        login_id=login.login_id,
        version=login.version,
        session_id=login.token_id,
        lifetime=timedelta(minutes=resources.settings.access_token_minutes),
        not_after=login.expires_at,
    )


def set_codec_cookie(response: Response, token: str, claims: TokenClaims, resources: Resources) -> None:
    settings = resources.settings
    response.set_cookie(
        CODEC_COOKIE,
        token,
        max_age=max(1, int((claims.expires_at - datetime.now(UTC)).total_seconds())),
        path=CODEC_COOKIE_PATH,
        httponly=True,
        samesite="lax",  # top-level links into the UI keep working; cross-site POSTs never carry it
        secure=not settings.is_dev and settings.kaigo_env != "test",
    )
