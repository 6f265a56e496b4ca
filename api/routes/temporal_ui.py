"""The Temporal UI, served by the API under /temporal/ so that the UI's codec calls (/codec/*) are same-origin
and carry the browser's codec session cookie by default: no per-browser setting, no CORS.

- Only the configured upstream (TEMPORAL_UI_UPSTREAM) is ever contacted, never a host from the request, and
  dot segments are refused, so this is no open proxy.
- Everyone needs a Temporal UI session (the codec cookie from /ui/login, api/routes/ui_session.py); a page
  without one is redirected to the login, anything else gets 401.
- The UI is read-only here: pages, reads (GET/HEAD) and workflow queries (POST …/query/…, how the UI reads a
  workflow's current details) pass; terminate, signal, reset, start and batch actions get 403, because staff
  act through the API's tasks, which validate and audit.
- The UI's settings are rewritten per session: the codec is this origin's /codec for staff with codec:decode
  and none for the others (they see ciphertext, and no refused decode floods the audit trail).
- Our session cookie never reaches the upstream; only the UI's own CSRF cookie and header pass.
"""

from __future__ import annotations

import html
import json
import logging
import re
from typing import Annotated
from urllib.parse import quote, unquote

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from api.auth import Principal, codec_session_principal
from kaigo.errors import ProblemError
from models.permissions import Permission

PREFIX = "/temporal"
LOGIN_PATH = "/ui/login"
UI_START = f"{PREFIX}/namespaces/default/workflows"

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_QUERY_PATH = re.compile(rf"^{PREFIX}/api/v1/namespaces/[^/]+/workflows/[^/]+/query/[^/]+$")
_SETTINGS_PATH = f"{PREFIX}/api/v1/settings"
_UI_CSRF_COOKIE = "_csrf"  # the UI server's double-submit cookie (it checks it against X-CSRF-Token)
_REQUEST_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "if-modified-since",
    "if-none-match",
    "x-csrf-token",
    "x-namespace",
)
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade")
)
_MAX_BODY_BYTES = 1 << 20
_RENDER_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

# httpx logs each request's full URL at INFO; the UI's query strings can hold search text (kana names).
logging.getLogger("httpx").setLevel(logging.WARNING)

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal | None, Depends(codec_session_principal)]  # None: no valid session


def may_view(principal: Principal) -> bool:
    """Who may follow cases in the UI: decoders, and staff who read every case (not per assignment)."""
    return principal.has(Permission.CODEC_DECODE) or (
        principal.has(Permission.CASE_READ) and not principal.scoped_for(Permission.CASE_READ)
    )


def _client(request: Request) -> httpx.AsyncClient:
    """One pooled client per app, for the one fixed upstream (closed by the app's lifespan)."""
    client: httpx.AsyncClient | None = getattr(request.app.state, "temporal_ui_client", None)
    if client is None:
        upstream = request.app.state.resources.settings.temporal_ui_upstream_url
        client = httpx.AsyncClient(base_url=upstream, timeout=_TIMEOUT, follow_redirects=False)
        request.app.state.temporal_ui_client = client
    return client


def _upstream_target(request: Request) -> bytes:
    """The request's path and query as sent (percent-encoding kept), refusing what could leave /temporal/."""
    path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    segments = [unquote(s.decode("latin-1")) for s in path.split(b"/")]
    # A segment is never a path: no dot segments, and no slash or backslash hidden in percent-encoding.
    if not path.startswith(f"{PREFIX}/".encode()) or any(
        s in (".", "..") or "/" in s or "\\" in s for s in segments
    ):
        raise ProblemError(400, "temporal-ui-path", "このパスは使用できません", field="path")
    query: bytes = request.scope.get("query_string", b"")
    return path + (b"?" + query if query else b"")


def _refuse_unauthenticated(request: Request) -> Response:
    if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", ""):
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"{LOGIN_PATH}?next={target}", status_code=303)
    raise ProblemError(
        401,
        "unauthenticated",
        "Temporal UI を使うにはログインしてください (/ui/login)",
        headers={"WWW-Authenticate": "Cookie"},
    )


def _settings_for(body: bytes, principal: Principal) -> bytes:
    settings = json.loads(body)
    decodes = principal.has(Permission.CODEC_DECODE)
    settings["Codec"] = {
        **(settings.get("Codec") or {}),
        "Endpoint": "/codec" if decodes else "",
        "PassAccessToken": False,
        "IncludeCredentials": False,  # same origin: the cookie goes along anyway
    }
    settings["DisableWriteActions"] = True
    for key in settings:
        if key.endswith("Disabled") and key != "RefreshWorkflowCountsDisabled":
            settings[key] = True
    return json.dumps(settings).encode()


@router.get(PREFIX)
async def ui_root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get(f"{PREFIX}/render")
async def render_metadata(
    request: Request,
    principal: Viewer,
    content: Annotated[str, Query(max_length=20_000)] = "",
    theme: str = "light",
) -> Response:
    """The frame in which the UI shows a workflow's summary and details, already decoded by the browser.

    The UI's own /render page fails under a public path (UI 2.54: "Not found: /temporal/render"), so this
    one answers instead: the text, escaped, with no script at all. The decoded text stays on this server.
    """
    if principal is None:
        return _refuse_unauthenticated(request)
    if not may_view(principal):
        raise ProblemError(403, "forbidden", "Temporal UI を利用する権限がありません")
    color = "#f8fafc" if theme == "dark" else "#141414"
    body = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8"><style>'
        f"body{{margin:0;padding:.75rem 1.5rem;color:{color};background:transparent;"
        "font:14px/1.5 system-ui,sans-serif;white-space:pre-wrap;overflow-wrap:anywhere}"
        f"</style></head><body>{html.escape(content)}</body></html>"
    )
    return HTMLResponse(body, headers=_RENDER_HEADERS)


@router.api_route(f"{PREFIX}/{{path:path}}", methods=_METHODS)
async def temporal_ui(request: Request, principal: Viewer) -> Response:
    target = _upstream_target(request)
    if principal is None:
        return _refuse_unauthenticated(request)
    if not may_view(principal):
        raise ProblemError(403, "forbidden", "Temporal UI を利用する権限がありません")
    if request.method not in ("GET", "HEAD"):
        writes = not (request.method == "POST" and _QUERY_PATH.match(request.url.path))
        if writes or request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
            raise ProblemError(
                403,
                "temporal-ui-read-only",
                "Temporal UI は参照専用です。手続の操作は kaigo-flow の API (タスク) で行ってください",
            )
    body = await _body(request)
    upstream = await _send(request, target, body)
    headers, cookies = _response_headers(upstream, request)
    if request.url.path == _SETTINGS_PATH and upstream.status_code == 200:
        content = _settings_for(await _read_all(upstream), principal)
        headers = {k: v for k, v in headers.items() if k not in ("content-length", "content-encoding")}
        response: Response = Response(content, headers=headers, media_type="application/json")
    else:
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            headers=headers,
            background=BackgroundTask(upstream.aclose),
        )
    for cookie in cookies:
        response.headers.append("set-cookie", cookie)
    return response


async def _body(request: Request) -> bytes:
    if request.method in ("GET", "HEAD"):
        return b""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY_BYTES:
            raise ProblemError(413, "temporal-ui-body", "リクエストが大きすぎます", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


async def _send(request: Request, target: bytes, body: bytes) -> httpx.Response:
    headers = {name: value for name in _REQUEST_HEADERS if (value := request.headers.get(name)) is not None}
    headers.setdefault("accept-encoding", "identity")  # bytes pass through raw: only codings the caller takes
    csrf = request.cookies.get(_UI_CSRF_COOKIE)
    if csrf is not None:
        headers["cookie"] = f"{_UI_CSRF_COOKIE}={csrf}"  # never our own session cookie
    client = _client(request)
    try:
        url = client.base_url.copy_with(raw_path=target)  # the fixed upstream, never a host from the request
        return await client.send(
            client.build_request(request.method, url, headers=headers, content=body or None), stream=True
        )
    except httpx.HTTPError as exc:
        raise ProblemError(
            502, "temporal-ui-unavailable", "Temporal UI に接続できません。しばらくしてから再度お試しください"
        ) from exc


async def _read_all(upstream: httpx.Response) -> bytes:
    try:
        return await upstream.aread()
    finally:
        await upstream.aclose()


def _response_headers(upstream: httpx.Response, request: Request) -> tuple[dict[str, str], list[str]]:
    """Upstream headers to pass on, and the UI's own CSRF cookie (no other cookie may be set through us)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    base = request.app.state.resources.settings.temporal_ui_upstream_url
    for name, value in upstream.headers.multi_items():
        lowered = name.lower()
        if lowered == "set-cookie":
            if value.startswith(f"{_UI_CSRF_COOKIE}=") and value not in cookies:
                cookies.append(value)
        elif lowered == "location" and value.startswith(base):
            headers[lowered] = value[len(base) :] or "/"
        elif lowered not in _HOP_BY_HOP:
            headers[lowered] = value
    return headers, cookies
