"""Staff login, tokens, logout and revocation — including hostile input."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Resources
from api.main import create_app
from kaigo.security import refusals
from kaigo.security.tokens import issue_token
from models.security import AuditEvent

PASSWORD = "test-password-2026"  # tests/conftest.py demo_password_hash


async def _login(client: httpx.AsyncClient, login_id: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": login_id, "password": password})


async def _audit_rows(sessions: async_sessionmaker[AsyncSession], **where: str) -> list[AuditEvent]:
    async with sessions() as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list((await session.exec(query)).all())


async def test_login_issues_a_token_that_opens_the_api(
    api: httpx.AsyncClient, staff_tokens: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await _login(api, "intake", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 30 * 60
    me = await api.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["role_labels"] == ["認定係"]
    assert "mynumber:read" in me.json()["permissions"]
    logins = await _audit_rows(sessions, actor="intake", action="auth.login")
    assert [r.outcome for r in logins][-1] == "success"
    assert logins[-1].client_addr == "192.0.2.10"


async def test_wrong_password_and_unknown_account_look_the_same(
    api: httpx.AsyncClient, staff_tokens: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    wrong = await _login(api, "restriction", "not-the-password-1")
    unknown = await _login(api, "nobody-here", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert wrong.json()["detail"] == "ログインIDまたはパスワードが正しくありません"
    for actor in ("restriction", "nobody-here"):
        rows = await _audit_rows(sessions, actor=actor, action="auth.login")
        assert rows[-1].outcome == "failure"


async def test_repeated_failures_throttle_the_account_even_with_the_right_password(
    api: httpx.AsyncClient,
    staff_tokens: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
    resources: Resources,
) -> None:
    for _ in range(5):
        assert (await _login(api, "board", "guessing-1234")).status_code == 401
    throttled = await _login(api, "board", PASSWORD)
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    assert "一時的に制限" in throttled.json()["detail"]
    assert (await _login(api, "board", PASSWORD)).status_code == 429
    # Throttled attempts are counted, then written as one row per client and minute (not one each).
    assert (await _audit_rows(sessions, actor="board", action="auth.login"))[-1].outcome == "failure"
    await refusals.flush(resources.refusals, resources.sessions)
    last = (await _audit_rows(sessions, actor="board", action="auth.login"))[-1]
    assert (last.outcome, last.client_addr, last.detail["count"]) == ("throttled", "192.0.2.10", 2)
    # Other accounts are not locked out by someone guessing at this one.
    assert (await _login(api, "admin", PASSWORD)).status_code == 200


async def test_repeated_failures_throttle_the_client_address(
    resources: Resources, staff_tokens: dict[str, str]
) -> None:
    strict = resources.settings.model_copy(update={"login_max_failures_per_client": 3})
    app = create_app(resources=dataclasses.replace(resources, settings=strict))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://kaigo.test") as client:
        for login_id in ("intake", "surveyor", "contractor"):  # spraying across accounts
            assert (await _login(client, login_id, "spray-password-1")).status_code == 401
        assert (await _login(client, "supervisor", PASSWORD)).status_code == 429


async def test_logout_revokes_the_token(api: httpx.AsyncClient, staff_tokens: dict[str, str]) -> None:
    token = (await _login(api, "supervisor", PASSWORD)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.post("/auth/logout", headers=headers)).status_code == 204
    after = await api.get("/auth/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["reason"] == "revoked"


async def test_admin_revokes_every_token_and_deactivation_applies_at_once(
    as_staff: Callable[[str], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    admin, intake = as_staff("admin"), as_staff("intake")
    assert (await intake.get("/auth/me")).status_code == 200
    assert (await admin.post("/staff/intake/revoke-tokens")).status_code == 200
    assert (await intake.get("/auth/me")).json()["reason"] == "revoked"

    surveyor = as_staff("surveyor")
    assert (await admin.patch("/staff/surveyor", json={"active": False})).status_code == 200
    assert (await surveyor.get("/auth/me")).json()["reason"] == "account disabled"


async def test_role_change_takes_effect_on_the_next_request(
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    admin, restriction = as_staff("admin"), as_staff("restriction")
    assert (await restriction.get("/audit-events")).status_code == 403
    await admin.patch("/staff/restriction", json={"roles": ["restriction", "supervisor"]})
    assert (await restriction.get("/audit-events")).status_code == 200


def _forged(payload: dict[str, object], secret: str = "another-secret-of-sufficient-length-0000") -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("garbage", "not-a-token"),
        ("three dots", "a.b.c"),
        ("alg none", _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"sub": "admin", "ver": 0}) + "."),
        (
            "wrong key",
            _forged({"sub": "admin", "jti": "x", "ver": 0, "aud": "kaigo-flow", "iat": 1, "exp": 2**40}),
        ),
        ("sql-ish", "' OR 1=1 --"),
        ("huge", "a" * 20000),
    ],
)
async def test_hostile_tokens_are_refused_and_audited(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    resources: Resources,
    name: str,
    token: str,
) -> None:
    before = len(await _audit_rows(sessions, action="auth.token"))
    for _ in range(3):
        response = await api.get("/persons/100000000001", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
    assert len(await _audit_rows(sessions, action="auth.token")) == before  # counted in memory …
    await refusals.flush(resources.refusals, resources.sessions)  # … one row per minute, client and reason
    rows = (await _audit_rows(sessions, action="auth.token"))[before:]
    assert [(r.outcome, r.actor, r.client_addr, r.detail["count"]) for r in rows] == [
        ("denied", "anonymous", "192.0.2.10", 3)
    ]
    assert rows[0].detail["reason"] and rows[0].detail["sample_paths"] == ["GET /persons/100000000001"]


async def test_expired_and_incomplete_tokens_are_refused(
    api: httpx.AsyncClient, staff_tokens: dict[str, str], resources: Resources
) -> None:
    secret = resources.settings.secret_key
    expired, _ = issue_token(secret=secret, login_id="intake", version=0, lifetime=timedelta(seconds=-1))
    response = await api.get("/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert (response.status_code, response.json()["reason"]) == (401, "expired")
    assert response.json()["detail"] == "ログインの有効期限が切れました"

    no_jti = jwt.encode(
        {"sub": "intake", "ver": 0, "aud": "kaigo-flow", "iat": 1, "exp": 2**40}, secret, "HS256"
    )
    assert (await api.get("/auth/me", headers={"Authorization": f"Bearer {no_jti}"})).status_code == 401

    ghost, _ = issue_token(secret=secret, login_id="ghost", version=0, lifetime=timedelta(minutes=5))
    response = await api.get("/auth/me", headers={"Authorization": f"Bearer {ghost}"})
    assert (response.status_code, response.json()["reason"]) == (401, "unknown account")


@pytest.mark.parametrize("login_id", ["' OR '1'='1", "admin'--", "x" * 5000, "管理者", ""])
async def test_hostile_login_ids_fail_cleanly(api: httpx.AsyncClient, login_id: str) -> None:
    response = await _login(api, login_id, "whatever-password-1")
    assert response.status_code in (401, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_staff_creation_validates_password_and_login_id(
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    admin = as_staff("admin")
    weak = await admin.post(
        "/staff",
        json={"login_id": "newbie", "display_name": "新人", "password": "short", "roles": ["intake"]},
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "password"
    bad_id = await admin.post(
        "/staff",
        json={
            "login_id": "Bad Id!",
            "display_name": "x",
            "password": "long-enough-pw-1",
            "roles": ["intake"],
        },
    )
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "login_id"
    created = await admin.post(
        "/staff",
        json={
            "login_id": "newbie",
            "display_name": "新人",
            "password": "long-enough-pw-1",
            "roles": ["surveyor"],
        },
    )
    assert created.status_code == 201
    assert "password" not in created.text and "hash" not in created.text
