"""Request ids and the per-request log line.

A pure ASGI middleware (no BaseHTTPMiddleware) so streaming responses and background tasks keep working.
The id comes from X-Request-ID when the caller (a proxy) sends a sane one, else it is generated; it is
echoed in the response, bound to every log line and stored on audit rows.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("kaigo.request")

_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_CLIENT_ADDR: ContextVar[str | None] = ContextVar("client_addr", default=None)
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


def current_client_addr() -> str | None:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies into scope["client"])."""
    return _CLIENT_ADDR.get()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = _REQUEST_ID.set(request_id)
        client = scope.get("client")
        client_token = _CLIENT_ADDR.set(client[0] if client else None)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # The path only: query strings can carry search terms such as kana names.
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            _REQUEST_ID.reset(token)
            _CLIENT_ADDR.reset(client_token)
