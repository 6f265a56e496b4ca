"""Rendering console pages: the Jinja environment (autoescaped, Japanese dates), the page headers (a CSP that
allows no script at all), and the route class that turns refusals into pages instead of problem+json."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from api.console.auth import Console, LoginRequired
from api.errors import field_errors, unavailable_problem
from kaigo.errors import ProblemError
from models.common import JST
from models.permissions import ROLE_LABELS, Permission, Role
from rules.wareki import to_wareki

log = structlog.get_logger(__name__)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOGIN_PATH = "/ui/login"

# No script of any kind (inline, external, eval): a name or free text that smuggles markup runs nothing.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


def wareki(value: date | datetime | None, with_time: bool = False) -> Markup:
    """令和8年12月1日 with the 西暦 beside it; datetimes in Japan time."""
    if value is None:
        return Markup("—")
    if isinstance(value, datetime):
        local = value.astimezone(JST)
        day, clock = local.date(), f" {local:%H:%M}" if with_time else ""
    else:
        day, clock = value, ""
    try:
        era = to_wareki(day)
    except ValueError:
        era = day.isoformat()
    return Markup('<span class="date">{}{} <span class="ad">({})</span></span>').format(
        era, clock, day.isoformat()
    )


def _to_date(value: date | datetime | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(JST).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _wareki_any(value: Any, with_time: bool = False) -> Markup:
    if isinstance(value, str) and value:
        parsed: date | datetime = (
            datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value[:10])
        )
        return wareki(parsed, with_time)
    return wareki(value, with_time)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["wareki"] = _wareki_any
environment.filters["to_date"] = _to_date
environment.globals["P"] = Permission
environment.globals["ROLE_LABELS"] = ROLE_LABELS


def _nav(console: Console | None) -> list[tuple[str, str]]:
    if console is None:
        return []
    items = []
    if console.may(Permission.TASK_WORK):
        items.append(("/console/inbox", "受信箱"))
    if console.may(Permission.BOARD_DECIDE):
        items.append(("/console/board", "審査会"))
    if console.may(Permission.CERTIFICATION_INTAKE):
        items.append(("/console/applications/new", "申請の受付"))
    if console.may(Permission.PREMIUM_PAYMENT):
        items.append(("/console/payments/new", "窓口での納付"))
    if console.may(Permission.DASHBOARD_READ):
        items.append(("/console/dashboard", "ダッシュボード"))
    from api.routes.temporal_ui import UI_START, may_view

    if may_view(console.principal):
        items.append((UI_START, "Temporal UI"))
    return items


def page(
    console: Console | None,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    request = console.request if console else context.get("request")
    path = request.url.path if request is not None else ""
    html = environment.get_template(template).render(
        c=console,
        csrf=console.session.csrf_token if console else "",
        nav=_nav(console),
        path=path,
        roles=("・".join(ROLE_LABELS[Role(r)] for r in sorted(console.principal.roles)) if console else ""),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303, headers=PAGE_HEADERS
    )


def _problem_page(request: Request, problem: ProblemError) -> HTMLResponse:
    console = getattr(request.state, "console", None)
    back = request.headers.get("referer") if _same_origin_referer(request) else None
    return page(
        console,
        "console/error.html",
        status_code=problem.status,
        headers=problem.headers,
        request=request,
        problem=problem,
        back=back,
    )


def _same_origin_referer(request: Request) -> bool:
    referer = request.headers.get("referer", "")
    return referer.startswith(f"{request.url.scheme}://{request.url.netloc}/")


class ConsoleRoute(APIRoute):
    """Console routes answer in pages: no session → the login (GET) or a 401 page; a refusal → a page that
    says why in Japanese, with the way back; bad input → a 422 page naming the fields."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                if request.method in ("GET", "HEAD"):
                    return login_redirect(request)
                return _problem_page(
                    request,
                    ProblemError(
                        401, "unauthenticated", "ログインの有効期限が切れました。ログインし直してください"
                    ),
                )
            except ProblemError as problem:
                return _problem_page(request, problem)
            except RequestValidationError as invalid:
                errors = field_errors(list(invalid.errors()))
                detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "入力内容に誤りがあります"
                fields = [(e.field, e.message) for e in errors]
                return _problem_page(request, ProblemError(422, "validation", detail, fields=fields))
            except Exception as exc:  # a page, not a traceback or JSON: 503 when a dependency is down
                problem = unavailable_problem(exc)
                if problem is None:
                    log.exception("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
                    problem = ProblemError(
                        500, "internal", "システムエラーが発生しました。時間をおいて再度お試しください"
                    )
                return _problem_page(request, problem)

        return handle


def field_message(errors: dict[str, str], name: str) -> Markup:
    """The error slot of one field (always present, so an error does not move the page)."""
    message = errors.get(name)
    slot_id = "err-" + name.replace(".", "-")
    if message is None:
        return Markup('<span class="field-error" id="{}"></span>').format(slot_id)
    return Markup('<span class="field-error" id="{}" role="alert">{}</span>').format(slot_id, escape(message))


environment.globals["field_message"] = field_message
