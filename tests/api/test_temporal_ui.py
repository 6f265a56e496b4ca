"""The Temporal UI under /temporal/ and its browser login (/ui/login): a real Temporal dev server's UI,
started with the public path /temporal, behind the real app. The full browser flow is tests/browser/."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.testing import WorkflowEnvironment

from api.deps import Resources
from api.main import create_app
from kaigo import embedded
from kaigo.config import Settings
from kaigo.security.tokens import decode_codec_token
from models.security import AuditEvent, Staff

PASSWORD = "test-password-2026"  # tests/conftest.py demo_password_hash
COOKIE = "kaigo_codec_token"
START = "/temporal/namespaces/default/workflows"
HTML = {"Accept": "text/html,application/xhtml+xml"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
async def ui_upstream() -> AsyncIterator[str]:
    """A Temporal dev server with its UI under /temporal, as `make dev` starts it."""
    ui_port = _free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(embedded.venv_bin("temporal")),
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-public-path", "/temporal", "--ui-codec-endpoint", "/codec"],
        dev_server_log_level="error",
    )
    yield f"http://127.0.0.1:{ui_port}"
    await env.shutdown()


def _app_for(resources: Resources, upstream: str) -> FastAPI:
    settings = resources.settings.model_copy(update={"temporal_ui_upstream": upstream})
    return create_app(resources=dataclasses.replace(resources, settings=settings))


@pytest.fixture
def ui_app(resources: Resources, ui_upstream: str) -> FastAPI:
    return _app_for(resources, ui_upstream)


@pytest.fixture
def browser(ui_app: FastAPI) -> Iterator[Callable[[], httpx.AsyncClient]]:
    """A fresh 'browser' (its own cookie jar) on the app; several per test for several people."""

    def new() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=ui_app, client=("192.0.2.20", 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://kaigo.test")

    yield new


async def _login(
    client: httpx.AsyncClient, login_id: str, password: str = PASSWORD, next: str = START
) -> httpx.Response:
    page = await client.get("/ui/login", params={"next": next})
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"login_id": login_id, "password": password, "csrf_token": csrf.group(1), "next": next}
    return await client.post("/ui/login", data=form)


@pytest.fixture
def new_staff(
    sessions: async_sessionmaker[AsyncSession], demo_password_hash: str
) -> Callable[[str], Awaitable[str]]:
    """An account of its own for a test (the audit trail, and so login throttling, outlives each test)."""

    async def create(role: str) -> str:
        login_id = f"ui-{role[:8]}-{uuid.uuid4().hex[:8]}".replace("_", "-")
        async with sessions() as session, session.begin():
            session.add(
                Staff(
                    login_id=login_id,
                    display_name=login_id,
                    password_hash=demo_password_hash,
                    roles=[role],
                )
            )
        return login_id

    return create


async def _audit(sessions: async_sessionmaker[AsyncSession], actor: str) -> list[AuditEvent]:
    async with sessions() as session:
        query = select(AuditEvent).where(AuditEvent.actor == actor).order_by(col(AuditEvent.id))
        return list((await session.exec(query)).all())


# ------------------------------------------------------------------------------------------ the login


async def test_login_opens_a_codec_session_and_goes_to_the_ui(
    browser: Callable[[], httpx.AsyncClient],
    staff_tokens: dict[str, str],
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    client = browser()
    page = await client.get("/ui/login")
    assert "ログインID" in page.text and "パスワード" in page.text
    assert "script" not in page.text and "frame-ancestors 'none'" in page.headers["content-security-policy"]

    target = f"{START}/certification-{'0' * 32}"
    response = await _login(client, "supervisor", next=target)
    assert response.status_code == 303 and response.headers["location"] == target
    claims = decode_codec_token(client.cookies[COOKIE], secret=settings.secret_key)  # codec-only
    assert claims.login_id == "supervisor" and claims.session_id
    rows = await _audit(sessions, "supervisor")
    assert [(r.action, r.detail.get("via")) for r in rows[-2:]] == [
        ("auth.login", "browser"),  # one browser login for the console and the UI
        ("codec.session", None),
    ]
    assert claims.session_id == rows[-2].detail["session"]  # the codec cookie dies with that login
    # The page now shows the session, with a way out.
    again = await client.get("/ui/login")
    assert "ログイン中" in again.text and "ログアウト" in again.text and "復号" in again.text


async def test_the_form_needs_its_csrf_token(
    browser: Callable[[], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    client = browser()
    await client.get("/ui/login")
    forged = await client.post(
        "/ui/login", data={"login_id": "supervisor", "password": PASSWORD, "csrf_token": "guess"}
    )
    assert forged.status_code == 403 and forged.json()["errors"][0]["field"] == "csrf_token"
    assert COOKIE not in client.cookies
    # A form posted from another site carries no CSRF cookie at all (SameSite=Strict).
    fresh = browser()
    blind = await fresh.post("/ui/login", data={"login_id": "a", "password": "b", "csrf_token": "x"})
    assert blind.status_code == 403


async def test_wrong_passwords_are_throttled_and_audited_like_the_api(
    browser: Callable[[], httpx.AsyncClient],
    new_staff: Callable[[str], Awaitable[str]],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    login_id = await new_staff("restriction")
    client = browser()
    for _ in range(5):
        wrong = await _login(client, login_id, "not-the-password-1")
        assert wrong.status_code == 401 and "ログインIDまたはパスワードが正しくありません" in wrong.text
    throttled = await _login(client, login_id)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "一時的に制限" in throttled.text and COOKIE not in client.cookies
    outcomes = [r.outcome for r in await _audit(sessions, login_id) if r.action == "auth.login"]
    # Failed logins are one row each; throttled attempts are counted and written once a minute.
    assert outcomes == ["failure"] * 5


@pytest.mark.parametrize("role", ["board_member", "surveyor"])
async def test_staff_who_do_not_follow_every_case_get_no_ui_session(
    browser: Callable[[], httpx.AsyncClient],
    new_staff: Callable[[str], Awaitable[str]],
    sessions: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    """They log in to the web console, but the UI stays closed: no codec cookie, a refusal that is audited."""
    login_id = await new_staff(role)
    client = browser()
    refused = await _login(client, login_id)
    assert refused.status_code == 403 and "Temporal UI を利用できません" in refused.text
    assert COOKIE not in client.cookies
    rows = [(r.action, r.detail.get("permission")) for r in await _audit(sessions, login_id)]
    assert ("access.denied", "temporal-ui") in rows and ("auth.login", None) in rows
    ui = await client.get(START, headers=HTML)
    assert ui.status_code == 303 and ui.headers["location"].startswith("/ui/login")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/temporal/", "/auth/me", "/temporal/\\evil", "/console\\x"],
)
async def test_the_login_redirects_only_into_the_ui_or_the_console(
    browser: Callable[[], httpx.AsyncClient], staff_tokens: dict[str, str], target: str
) -> None:
    response = await _login(browser(), "supervisor", next=target)
    assert response.status_code == 303 and response.headers["location"] == "/console/"


async def test_logout_ends_the_session_even_for_a_kept_copy_of_the_cookie(
    browser: Callable[[], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    client = browser()
    await _login(client, "supervisor")
    kept = client.cookies[COOKIE]
    page = await client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    out = await client.post("/ui/logout", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login?logged_out"
    assert COOKIE not in client.cookies
    attacker = browser()
    kept_cookie = {"Cookie": f"{COOKIE}={kept}"}
    replay = await attacker.post("/codec/decode", json={"payloads": []}, headers=kept_cookie)
    assert replay.status_code == 401 and replay.json()["reason"] == "revoked"
    ui = await attacker.get(START, headers={**HTML, **kept_cookie})
    assert ui.status_code == 303 and ui.headers["location"].startswith("/ui/login")


# ----------------------------------------------------------------------------------------- the proxy


async def test_without_a_session_the_ui_sends_you_to_the_login(
    browser: Callable[[], httpx.AsyncClient],
) -> None:
    client = browser()
    page = await client.get(f"{START}/certification-x", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == f"/ui/login?next={START}/certification-x"
    data = await client.get("/temporal/api/v1/namespaces/default/workflows")
    assert data.status_code == 401 and data.headers["content-type"] == "application/problem+json"


async def test_the_ui_decodes_only_for_codec_decode_holders_and_is_read_only(
    browser: Callable[[], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    supervisor, intake = browser(), browser()
    await _login(supervisor, "supervisor")
    await _login(intake, "intake")
    page = await supervisor.get("/temporal/", headers=HTML, follow_redirects=True)
    assert page.status_code == 200 and "/temporal/_app/" in page.text  # the real UI, under the prefix
    for client, endpoint in ((supervisor, "/codec"), (intake, "")):
        ui_settings = (await client.get("/temporal/api/v1/settings")).json()
        assert ui_settings["Codec"]["Endpoint"] == endpoint
        assert ui_settings["DisableWriteActions"] is True and ui_settings["WorkflowTerminateDisabled"] is True
    namespaces = (await supervisor.get("/temporal/api/v1/namespaces")).json()["namespaces"]
    assert "default" in [n["namespaceInfo"]["name"] for n in namespaces]  # the UI's reads pass

    workflow = "/temporal/api/v1/namespaces/default/workflows/certification-x"
    for method, path in [
        ("POST", f"{workflow}/terminate"),
        ("POST", f"{workflow}/signal/complete_task"),
        ("POST", "/temporal/api/v1/namespaces/default/batch-operations/x"),
        ("DELETE", workflow),
    ]:
        refused = await supervisor.request(method, path, json={})
        assert refused.status_code == 403, path
        assert refused.json()["type"] == "urn:kaigo-flow:problem:temporal-ui-read-only"
    # Queries (how the UI reads a workflow's current details) pass through to the UI server.
    query = await supervisor.post(f"{workflow}/query/__temporal_workflow_metadata", json={})
    assert query.json().get("type") != "urn:kaigo-flow:problem:temporal-ui-read-only"


@pytest.mark.parametrize(
    "path",
    [
        "/temporal/%2e%2e/auth/me",
        "/temporal/%2E%2E/%2E%2E/auth/me",
        "/temporal/api/v1/%2e%2e/%2e%2e/%2e%2e/codec/decode",
        "/temporal/.%2e/x",
        "/temporal/%5c%5cevil.example/x",
        "/temporal/..%2f..%2fauth/me",
        "/temporal/api/v1/namespaces/default/workflows/x/query/..%2F..%2Fterminate",
    ],
)
async def test_no_path_leaves_the_ui(
    browser: Callable[[], httpx.AsyncClient], staff_tokens: dict[str, str], path: str
) -> None:
    client = browser()
    await _login(client, "supervisor")
    response = await client.get(path)
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "path"


async def test_the_summary_frame_shows_text_and_runs_nothing(
    browser: Callable[[], httpx.AsyncClient], staff_tokens: dict[str, str]
) -> None:
    anonymous = browser()
    assert (await anonymous.get("/temporal/render", params={"content": "x"}, headers=HTML)).status_code == 303
    client = browser()
    await _login(client, "supervisor")
    content = "<script>alert(1)</script>調査・意見書待ち"
    frame = await client.get("/temporal/render", params={"content": content})
    assert "調査・意見書待ち" in frame.text and "<script>" not in frame.text
    assert "default-src 'none'" in frame.headers["content-security-policy"]


# ------------------------------------------------------ what reaches the UI server (a recording stand-in)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        _Recorder.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "_csrf=abc; Path=/; SameSite=Strict")
        self.send_header("Set-Cookie", f"{COOKIE}=planted; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def recording_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_only_the_uis_own_cookie_travels_and_no_query_is_logged(
    resources: Resources,
    recording_upstream: str,
    staff_tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app_for(resources, recording_upstream)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.30", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://kaigo.test") as client:
        await _login(client, "supervisor")
        session = client.cookies[COOKIE]
        client.cookies.set("_csrf", "from-the-ui", domain="kaigo.test")
        caplog.set_level(logging.DEBUG)
        response = await client.get(
            "/temporal/api/v1/namespaces/default/workflows",
            params={"query": "InsuredNumber='0100000001' タカハシ"},
            headers={"Host": "evil.example", "X-CSRF-Token": "from-the-ui", "Authorization": "Bearer x"},
        )
    assert response.status_code == 200
    [seen] = _Recorder.seen
    assert seen["headers"]["cookie"] == "_csrf=from-the-ui" and session not in json.dumps(seen)
    assert seen["headers"]["x-csrf-token"] == "from-the-ui" and "authorization" not in seen["headers"]
    assert seen["headers"]["host"] == recording_upstream.removeprefix("http://")
    assert "InsuredNumber" in seen["path"]  # the query string is passed on …
    assert all("InsuredNumber" not in r.getMessage() for r in caplog.records)  # … and never logged
    # The UI may set its CSRF cookie through us, but no other cookie.
    set_cookies = response.headers.get_list("set-cookie")
    assert set_cookies == ["_csrf=abc; Path=/; SameSite=Strict"]


async def test_a_ui_server_that_is_down_is_a_clear_502(
    resources: Resources, staff_tokens: dict[str, str]
) -> None:
    app = _app_for(resources, f"http://127.0.0.1:{_free_port()}")
    transport = httpx.ASGITransport(app=app, client=("192.0.2.40", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://kaigo.test") as client:
        await _login(client, "supervisor")
        response = await client.get("/temporal/")
    assert response.status_code == 502
    assert response.json()["detail"].startswith("Temporal UI に接続できません")
