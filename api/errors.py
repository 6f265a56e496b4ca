"""One error format for every error: RFC 9457 problem+json with a Japanese `detail` and the field at fault."""

from __future__ import annotations

from typing import Any

import psycopg
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.request_context import current_request_id
from kaigo import temporal_client
from kaigo.errors import ProblemError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES: dict[int, str] = {
    400: "リクエストが正しくありません",
    401: "認証が必要です",
    403: "この操作を行う権限がありません",
    404: "見つかりません",
    405: "このメソッドは使用できません",
    409: "現在の状態ではこの操作はできません",
    410: "既に削除されています",
    412: "他の職員が先に更新しました",
    415: "このデータ形式は受け付けません",
    422: "入力内容に誤りがあります",
    428: "If-Match ヘッダが必要です",
    429: "リクエストが多すぎます",
    500: "システムエラーが発生しました",
    503: "サービスを利用できません",
}


class FieldError(BaseModel):
    field: str = Field(description="誤りのある項目 (ネストは . 区切り)")
    message: str = Field(description="誤りの内容")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="問題の種類 (URN)")
    title: str
    status: int
    detail: str = Field(description="職員向けの説明 (日本語)")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:kaigo-flow:problem:{code}",
        title=_TITLES.get(status, "エラー"),
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=current_request_id(),
        errors=errors or [],
    ).model_dump()
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# ------------------------------------------------------------------ pydantic errors → Japanese messages


def _message(error: dict[str, Any]) -> str:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind in ("enum", "literal_error"):
        return f"次のいずれかを指定してください: {ctx.get('expected', '')}"
    templates = {
        "missing": "必須項目です",
        "string_too_long": "{max_length}文字以内で入力してください",
        "string_too_short": "{min_length}文字以上で入力してください",
        "too_long": "{max_length}件以内で指定してください",
        "too_short": "{min_length}件以上指定してください",
        "string_pattern_mismatch": "形式が正しくありません",
        "string_type": "文字列で入力してください",
        "date_parsing": "日付は YYYY-MM-DD 形式で入力してください",
        "date_from_datetime_parsing": "日付は YYYY-MM-DD 形式で入力してください",
        "date_from_datetime_inexact": "日付は YYYY-MM-DD 形式で入力してください",
        "date_type": "日付は YYYY-MM-DD 形式で入力してください",
        "datetime_parsing": "日時は ISO 8601 形式で入力してください",
        "datetime_from_date_parsing": "日時は ISO 8601 形式で入力してください",
        "datetime_type": "日時は ISO 8601 形式で入力してください",
        "timezone_aware": "日時にはタイムゾーンを付けてください",
        "int_parsing": "整数で入力してください",
        "int_type": "整数で入力してください",
        "float_parsing": "数値で入力してください",
        "decimal_parsing": "数値で入力してください",
        "bool_parsing": "true または false を指定してください",
        "greater_than_equal": "{ge}以上で入力してください",
        "greater_than": "{gt}より大きい値を入力してください",
        "less_than_equal": "{le}以下で入力してください",
        "less_than": "{lt}より小さい値を入力してください",
        "extra_forbidden": "この項目は受け付けません",
        "json_invalid": "JSON の形式が正しくありません",
        "dict_type": "オブジェクトで指定してください",
        "model_attributes_type": "オブジェクトで指定してください",
        "list_type": "配列で指定してください",
        "uuid_parsing": "UUID の形式が正しくありません",
    }
    template = templates.get(kind, "入力値が正しくありません")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "insured", "name_kana") → "insured.name_kana"; the request part is implied by the route.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


def _child(container: Any, part: Any) -> tuple[bool, Any]:
    if isinstance(container, dict) and part in container:
        return True, container[part]
    if isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container):
        return True, container[part]
    return False, None


def _real_path(loc: tuple[Any, ...], document: Any) -> tuple[Any, ...]:
    """`loc` without the union-member tags pydantic inserts ("int", "list[int]", "BoardVotePayload"): a
    part is kept when it indexes into the request body, or names a field at the end (a missing one)."""
    kept: list[Any] = []
    current = document
    for position, part in enumerate(loc):
        found, child = _child(current, part)
        if found:
            current = child
        elif not (isinstance(current, dict) and position == len(loc) - 1):
            continue  # a tag: not a key of the input
        kept.append(part)
    return tuple(kept)


def field_errors(errors: list[dict[str, Any]], body: Any = None) -> list[FieldError]:
    """One entry per field, by its real JSON path, with the first problem pydantic found for it.
    `body` is the parsed request body, to tell union-member tags from field names."""
    by_field: dict[str, FieldError] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if body is not None and loc[:1] == ("body",):
            loc = ("body", *_real_path(loc[1:], body))
        field = _field(loc) or "body"
        by_field.setdefault(field, FieldError(field=field, message=_message(error)))
    return list(by_field.values())


# ------------------------------------------------------------------ a dependency is down → 503, not 500

RETRY_AFTER_SECONDS = 10
# Connection-level failures: PostgreSQL stopped, restarting, unreachable, or the pool exhausted.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
)
TEMPORAL_DOWN: tuple[type[Exception], ...] = (
    temporal_client.TemporalUnavailable,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    RPCError,
    RuntimeError,  # the SDK's failed first connection; other RuntimeErrors stay 500
)


def _database_down(exc: Exception) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, DATABASE_DOWN)


def _unavailable(request: Request, detail: str, part: str) -> JSONResponse:
    return problem_response(
        request,
        503,
        "unavailable",
        detail,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extra={"unavailable": part},
    )


_DATABASE_DETAIL = "データベースに接続できません。しばらくしてから再度お試しください"


def unavailable_problem(exc: Exception) -> ProblemError | None:
    """503 when a dependency is down (PostgreSQL or Temporal), for pages as for problem+json; else None."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, (*DATABASE_DOWN, sqlalchemy.exc.DBAPIError)) and _database_down(exc):
        return ProblemError(
            503, "unavailable", _DATABASE_DETAIL, headers=headers, extra={"unavailable": "postgresql"}
        )
    outage = temporal_client.unavailable(exc) if isinstance(exc, TEMPORAL_DOWN) else None
    if outage is None:
        return None
    detail = (
        "ワークフローが受け付けましたが、完了を確認できませんでした。しばらくしてから状態を確認してください"
        if outage.accepted
        else "ワークフローサーバーが応答しません。しばらくしてから再度お試しください"
    )
    return ProblemError(503, "unavailable", detail, headers=headers, extra={"unavailable": "temporal"})


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    return problem_response(
        request, 500, "internal", "システムエラーが発生しました。時間をおいて再度お試しください"
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        errors = [FieldError(field=field, message=message) for field, message in exc.fields]
        return problem_response(
            request, exc.status, exc.code, exc.detail, errors=errors, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(list(exc.errors()), exc.body)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or _TITLES[422]
        return problem_response(request, 422, "validation", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
        if exc.status_code == 404 and exc.detail == "Not Found":
            detail = "指定された URL は存在しません"
        return problem_response(
            request,
            exc.status_code,
            f"http-{exc.status_code}",
            detail or _TITLES.get(exc.status_code, "エラー"),
            headers=getattr(exc, "headers", None),
        )

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not _database_down(exc):
            return _server_error(request, exc)
        log.warning("database_unavailable", error_type=type(exc).__name__)
        return _unavailable(request, _DATABASE_DETAIL, "postgresql")

    async def _temporal(request: Request, exc: Exception) -> JSONResponse:
        outage = temporal_client.unavailable(exc)
        if outage is None:
            return _server_error(request, exc)
        log.warning("temporal_unavailable", error_type=type(exc).__name__, accepted=outage.accepted)
        detail = (
            "ワークフローが受け付けましたが、完了を確認できませんでした。しばらくしてから状態を確認してください"
            if outage.accepted
            else "ワークフローサーバーが応答しません。しばらくしてから再度お試しください"
        )
        return _unavailable(request, detail, "temporal")

    for exc_class in (*DATABASE_DOWN, sqlalchemy.exc.DBAPIError):
        app.add_exception_handler(exc_class, _database)
    for exc_class in TEMPORAL_DOWN:
        app.add_exception_handler(exc_class, _temporal)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _server_error(request, exc)
