"""The one browser login (console and Temporal UI): a server-checked session in an HttpOnly, SameSite=Strict
cookie; logout, an administrator's revocation and a role change apply on the next request; every form needs
the session's CSRF token and must come from this origin; the JSON API never takes the cookie."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.console import ConsoleSession
from models.security import AuditEvent, Staff
from tests.api.console_client import ConsoleClient, csrf_of, text_of

COOKIE = "kaigo_session"
Browser = Callable[[], ConsoleClient]


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    clients: list[httpx.AsyncClient] = []

    def new() -> ConsoleClient:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.30", 50000))
        client = httpx.AsyncClient(transport=transport, base_url="http://kaigo.test")
        clients.append(client)
        return ConsoleClient(client)

    yield new
    for client in clients:
        await client.aclose()


@pytest.fixture
def new_staff(
    sessions: async_sessionmaker[AsyncSession], demo_password_hash: str
) -> Callable[[str], Awaitable[str]]:
    async def create(role: str) -> str:
        login_id = f"c-{role[:8]}-{uuid.uuid4().hex[:8]}".replace("_", "-")
        async with sessions() as session, session.begin():
            session.add(
                Staff(
                    login_id=login_id, display_name=login_id, password_hash=demo_password_hash, roles=[role]
                )
            )
        return login_id

    return create


async def _audit(sessions: async_sessionmaker[AsyncSession], actor: str) -> list[AuditEvent]:
    async with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.actor == actor).order_by(col(AuditEvent.id))
        return list((await session.exec(query)).all())


async def test_one_login_opens_the_console_with_a_strict_httponly_session(
    browser: Browser, new_staff: Callable[[str], Awaitable[str]], sessions: async_sessionmaker[AsyncSession]
) -> None:
    login_id = await new_staff("intake")
    me = browser()
    response = await me.login(login_id)
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "kaigo_codec_token=" in " ".join(response.headers.get_list("set-cookie"))  # intake follows cases
    inbox = await me.get("/console/inbox")
    assert inbox.status_code == 200 and "受信箱" in inbox.text
    assert "script" not in inbox.headers["content-security-policy"]
    assert "default-src 'none'" in inbox.headers["content-security-policy"]
    # The table keeps only a hash of the cookie's secret.
    secret = me.client.cookies[COOKIE]
    async with sessions() as session:
        rows = (await session.exec(select(ConsoleSession).where(ConsoleSession.login_id == login_id))).all()
    assert len(rows) == 1 and rows[0].id != secret and secret not in rows[0].id
    # The JSON API does not take the browser's cookie: it keeps bearer tokens.
    assert (await me.client.get("/auth/me")).status_code == 401
    assert (await me.client.get("/auth/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 401
    assert [r.detail.get("via") for r in await _audit(sessions, login_id) if r.action == "auth.login"] == [
        "browser"
    ]


async def test_a_new_login_never_keeps_a_session_id_the_browser_already_had(
    browser: Browser, new_staff: Callable[[str], Awaitable[str]]
) -> None:
    login_id = await new_staff("intake")
    me = browser()
    me.client.cookies.set(COOKIE, "planted-by-someone-else", domain="kaigo.test")  # session fixation
    await me.login(login_id)
    assert me.client.cookies[COOKIE] != "planted-by-someone-else"
    assert (await me.get("/console/inbox")).status_code == 200
    attacker = browser()
    attacker.client.cookies.set(COOKIE, "planted-by-someone-else", domain="kaigo.test")
    assert (await attacker.get("/console/inbox")).status_code == 303  # the planted id opens nothing


async def test_logout_revocation_and_role_changes_apply_on_the_next_request(
    browser: Browser,
    new_staff: Callable[[str], Awaitable[str]],
    as_staff: Callable[[str], httpx.AsyncClient],
    staff_tokens: dict[str, str],
) -> None:
    login_id = await new_staff("intake")
    me = browser()
    await me.login(login_id)
    assert (await me.get("/console/applications/new")).status_code == 200
    admin = as_staff("admin")

    # A role change: the next request already has the new roles.
    assert (await admin.patch(f"/staff/{login_id}", json={"roles": ["restriction"]})).status_code == 200
    refused = await me.get("/console/applications/new")
    assert refused.status_code == 403 and "権限がありません" in text_of(refused.text)
    assert (await admin.patch(f"/staff/{login_id}", json={"roles": ["intake"]})).status_code == 200

    # An administrator's revocation: every session of the account ends, kept copies too.
    kept = me.client.cookies[COOKIE]
    assert (await admin.post(f"/staff/{login_id}/revoke-tokens")).status_code == 200
    gone = await me.get("/console/inbox")
    assert gone.status_code == 303 and gone.headers["location"] == "/ui/login?next=/console/inbox"

    # Logout: the session is dead for a copy of the cookie as well.
    await me.login(login_id)
    kept = me.client.cookies[COOKIE]
    page = await me.get("/ui/login")
    out = await me.post("/ui/logout", {"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login?logged_out"
    thief = browser()
    thief.client.cookies.set(COOKIE, kept, domain="kaigo.test")
    assert (await thief.get("/console/inbox")).status_code == 303
    form = await thief.client.post(
        "/console/tasks/00000000-0000-0000-0000-000000000000/claim", data={"version": "1"}
    )
    assert form.status_code == 401 and "ログイン" in text_of(form.text)


async def test_a_form_without_the_sessions_token_or_from_another_origin_is_refused_politely(
    browser: Browser, new_staff: Callable[[str], Awaitable[str]], sessions: async_sessionmaker[AsyncSession]
) -> None:
    login_id = await new_staff("intake")
    me = browser()
    await me.login(login_id)
    target = "/console/tasks/00000000-0000-0000-0000-000000000000/claim"
    forged = await me.client.post(target, data={"version": "1", "csrf_token": "guessed"})
    assert forged.status_code == 403
    assert "画面の有効期限が切れたか、別の画面から送信されました" in text_of(forged.text)
    assert forged.headers["content-type"].startswith("text/html")
    # Another port of the same host is "same-site": the Strict cookie goes along, so the token and the origin
    # are what refuse it.
    other = await me.client.post(
        target,
        data={"version": "1", "csrf_token": me.csrf},
        headers={"Origin": "http://kaigo.test:9999", "Sec-Fetch-Site": "same-site"},
    )
    assert other.status_code == 403 and "別の画面から送信" in text_of(other.text)
    denied = [r for r in await _audit(sessions, login_id) if r.action == "access.denied"]
    assert [r.detail["code"] for r in denied] == ["csrf", "csrf"]


@pytest.mark.parametrize("role", ["board_member", "surveyor"])
async def test_staff_who_may_not_follow_every_case_use_the_console_but_not_the_temporal_ui(
    browser: Browser, new_staff: Callable[[str], Awaitable[str]], role: str
) -> None:
    login_id = await new_staff(role)
    me = browser()
    response = await me.login(login_id, next="/temporal/namespaces/default/workflows")
    assert response.status_code == 403 and "Temporal UI を利用できません" in text_of(response.text)
    assert "kaigo_codec_token" not in me.client.cookies and COOKIE in me.client.cookies
    home = await me.get("/console/")
    assert home.status_code == 303
    assert home.headers["location"] == ("/console/board" if role == "board_member" else "/console/inbox")


async def test_the_temporal_ui_cookie_is_renewed_from_a_live_session_without_a_password(
    browser: Browser, new_staff: Callable[[str], Awaitable[str]]
) -> None:
    login_id = await new_staff("supervisor")
    me = browser()
    await me.login(login_id)
    me.client.cookies.delete("kaigo_codec_token")  # it lives ACCESS_TOKEN_MINUTES at most
    target = "/temporal/namespaces/default/workflows"
    again = await me.get("/ui/login", params={"next": target})
    assert again.status_code == 303 and again.headers["location"] == target
    assert "kaigo_codec_token" in me.client.cookies
    assert re.search(r"kaigo_codec_token=[^;]+;", again.headers["set-cookie"])
