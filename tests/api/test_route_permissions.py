"""Every route × every role: the README's route table is what the API enforces.

Unauthenticated → 401; a role without the route's permission → 403 and an audit row; a role with it gets
past authorisation (whatever the handler then says about the empty request).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.routers import CONSOLE_ROUTERS
from api.main import ROUTERS
from api.route_table import LOGGED_IN, PUBLIC, RouteRule, markdown_table, route_rules
from cli.seed import DEMO_STAFF
from models.permissions import ROLE_PERMISSIONS, Permission, Role
from models.security import AuditEvent, Staff

README = Path(__file__).resolve().parents[2] / "README.md"
RULES = route_rules(ROUTERS)
SAMPLE_PATH_VALUES = {
    "atena_no": "100000000001",
    "insured_no": "0100000001",
    "login_id": "intake",
    "application_id": "0" * 32,
    "task_id": "00000000-0000-0000-0000-000000000000",
    "case_id": "certification-" + "0" * 32,
    "notice_id": "0" * 32,
    "export_id": "0" * 32,
    "file_name": "expiry_reminder-00000000-001.pdf",
    "chart_id": "open-cases",
    "day": "2026-12-01",
}


def _url(rule: RouteRule) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], rule.path)


def _role_of(login_id: str) -> Role:
    return next(role for login, _, role, _ in DEMO_STAFF if login == login_id)


def test_readme_route_table_matches_the_routes() -> None:
    text = README.read_text()
    table = text.split("<!-- routes:start -->", 1)[1].split("<!-- routes:end -->", 1)[0].strip()
    assert table == markdown_table(ROUTERS), "regenerate with `.venv/bin/kaigo routes`"


def _readme_role_table() -> dict[str, set[str]]:
    """README "Roles and permissions": role → permissions, with `notice:issue/read` spelled out and the
    prose after a dash or in parentheses dropped."""
    section = README.read_text().split("**Roles and permissions", 1)[1].split("<!-- routes:start -->", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        listed = re.sub(r"\([^)]*\)", "", cells[2].split(" — ", 1)[0])
        permissions: set[str] = set()
        for item in (i.strip() for i in listed.split(",") if i.strip()):
            area, _, actions = item.partition(":")
            permissions |= {f"{area}:{a}" for a in actions.split("/")} if actions else {area}
        table[cells[0].strip("`")] = permissions
    return table


def test_readme_role_table_is_the_permissions_module() -> None:
    expected = {str(role): {str(p) for p in perms} for role, perms in ROLE_PERMISSIONS.items()}
    assert _readme_role_table() == expected, "README Roles and permissions differs from permissions.py"


def test_every_route_declares_its_permission() -> None:
    public = {(r.method, r.path) for r in RULES if r.permission == PUBLIC}
    assert public == {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/auth/token")}


@pytest.mark.parametrize(
    "rule", [r for r in RULES if r.permission != PUBLIC], ids=lambda r: f"{r.method} {r.path}"
)
async def test_unauthenticated_requests_are_refused(api: httpx.AsyncClient, rule: RouteRule) -> None:
    response = await api.request(rule.method, _url(rule))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["title"] == "認証が必要です"


async def test_each_role_reaches_exactly_the_routes_its_permissions_allow(
    as_staff: Callable[[str], httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    for login_id, *_ in DEMO_STAFF:
        role = _role_of(login_id)
        client = as_staff(login_id)
        # Logout revokes the token, so it goes last.
        for rule in sorted(RULES, key=lambda r: r.path == "/auth/logout"):
            if rule.permission == PUBLIC:
                continue
            request_id = f"matrix-{uuid.uuid4().hex}"
            response = await client.request(
                rule.method, _url(rule), json={}, headers={"X-Request-ID": request_id}
            )
            allowed = rule.permission == LOGGED_IN or Permission(rule.permission) in ROLE_PERMISSIONS[role]
            refused_by_role = response.status_code == 403 and response.json()["type"].endswith(":forbidden")
            where = f"{login_id} {rule.method} {rule.path} → {response.status_code} {response.text[:200]}"
            assert response.status_code != 401, where
            assert refused_by_role != allowed, where
            if not allowed:
                async with sessions() as session:
                    rows = (
                        await session.exec(select(AuditEvent).where(AuditEvent.request_id == request_id))
                    ).all()
                assert [(r.actor, r.action, r.outcome) for r in rows] == [
                    (login_id, "access.denied", "denied")
                ]
                assert rows[0].detail["permission"] == rule.permission


async def test_only_the_supervisor_may_import_certifications(
    as_staff: Callable[[str], httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """certification:import (移行) is the supervisor's: the 認定係 registers applications, not decisions."""
    holders = {
        str(role) for role, perms in ROLE_PERMISSIONS.items() if Permission.CERTIFICATION_IMPORT in perms
    }
    assert holders == {"supervisor"}
    body = "被保険者番号,要介護状態区分,有効期間開始日,有効期間終了日,認定日\r\n".encode()
    for login_id, *_ in DEMO_STAFF:
        request_id = f"import-{uuid.uuid4().hex}"
        response = await as_staff(login_id).post(
            "/certification-imports",
            content=body,
            headers={"Content-Type": "text/csv", "X-Request-ID": request_id},
        )
        async with sessions() as session:
            denied = (
                await session.exec(
                    select(AuditEvent).where(
                        AuditEvent.request_id == request_id, AuditEvent.action == "access.denied"
                    )
                )
            ).all()
        if _role_of(login_id) is Role.SUPERVISOR:
            # Past authorisation: the file itself is refused (a header and no lines).
            assert response.status_code == 422 and not denied, response.text
            assert response.json()["issues"][0]["message"] == "明細行がありません"
        else:
            assert response.status_code == 403, f"{login_id}: {response.status_code}"
            assert [d.detail["permission"] for d in denied] == ["certification:import"]


# ------------------------------------------------------------------------------------------- web console

CONSOLE_RULES = route_rules(CONSOLE_ROUTERS)


def test_readme_console_route_table_matches_the_routes() -> None:
    text = README.read_text()
    table = (
        text.split("<!-- console-routes:start -->", 1)[1].split("<!-- console-routes:end -->", 1)[0].strip()
    )
    assert table == markdown_table(CONSOLE_ROUTERS), "regenerate with `.venv/bin/kaigo routes --write-readme`"


def test_every_console_route_needs_a_session() -> None:
    assert {r.permission for r in CONSOLE_RULES} - {LOGGED_IN} <= {str(p) for p in Permission}
    assert all(r.permission != PUBLIC for r in CONSOLE_RULES)


async def _console_session(app: FastAPI, login_id: str) -> tuple[httpx.AsyncClient, str]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("192.0.2.50", 50000)), base_url="http://kaigo.test"
    )
    page = await client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"login_id": login_id, "password": "test-password-2026", "csrf_token": token.group(1)}
    assert (await client.post("/ui/login", data=form)).status_code == 303
    page = await client.get("/ui/login")  # the session's own token
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client, token.group(1)


@pytest.mark.parametrize("rule", CONSOLE_RULES, ids=lambda r: f"{r.method} {r.path}")
async def test_console_routes_without_a_session_lead_to_the_login(
    api: httpx.AsyncClient, rule: RouteRule
) -> None:
    response = await api.request(rule.method, _url(rule), data={} if rule.method == "POST" else None)
    if rule.method == "GET":
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/ui/login?next=/console/"
        )
    else:
        assert response.status_code == 401 and response.headers["content-type"].startswith("text/html")


async def test_each_role_reaches_exactly_the_console_routes_its_permissions_allow(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], demo_password_hash: str
) -> None:
    for role in Role:
        # An account of its own per run: the audit trail, and so login throttling, outlives each test.
        login_id = f"m-{role.value[:8]}-{uuid.uuid4().hex[:8]}".replace("_", "-")
        async with sessions() as session, session.begin():
            session.add(
                Staff(
                    login_id=login_id, display_name=login_id, password_hash=demo_password_hash, roles=[role]
                )
            )
        client, csrf = await _console_session(app, login_id)
        try:
            for rule in CONSOLE_RULES:
                request_id = f"console-{uuid.uuid4().hex}"
                response = await client.request(
                    rule.method,
                    _url(rule),
                    data={"csrf_token": csrf} if rule.method == "POST" else None,
                    headers={"X-Request-ID": request_id},
                )
                allowed = (
                    rule.permission == LOGGED_IN or Permission(rule.permission) in ROLE_PERMISSIONS[role]
                )
                async with sessions() as session:
                    rows = (
                        await session.exec(select(AuditEvent).where(AuditEvent.request_id == request_id))
                    ).all()
                refused = [
                    r
                    for r in rows
                    if r.action == "access.denied" and r.detail["permission"] == rule.permission
                ]
                where = f"{login_id} {rule.method} {rule.path} → {response.status_code}"
                assert response.status_code not in (401, 500), where
                if allowed:
                    assert not refused, where
                else:
                    assert response.status_code == 403 and "権限がありません" in response.text, where
                    assert [(r.actor, r.outcome) for r in refused] == [(login_id, "denied")], where
        finally:
            await client.aclose()
