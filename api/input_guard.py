"""Hostile text is refused at the edge, before any route, service or database sees it.

PostgreSQL cannot store U+0000 in text (psycopg raises, the caller got a 500), an unpaired surrogate
cannot be encoded as UTF-8 (same), and a control character in a name or a search term breaks notices,
CSV exports and logs. One pure ASGI middleware checks every request the same way, so no route can forget:

- the path and every query parameter: no control character at all (they are single-line by nature);
- headers: no control character except TAB;
- a JSON body: it must parse (else 422 naming `body` with line and column), and no string or key in it
  may hold NUL, a control character other than TAB/LF/CR, or a lone surrogate;
- a form body (login): like query parameters; any other body (CSV): no NUL byte.

Refusals are 422 problem+json naming each field by its JSON path (400 for a header), like every other
validation error of the API.
"""

from __future__ import annotations

import email.message
import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import FieldError, problem_response

# C0 controls and DEL. In multi-line text (JSON strings) TAB, LF and CR are allowed.
_SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f]|[\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udfff]")
_HEADER_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors, status = _url_and_header_errors(scope)
        if not errors and scope["method"] in _BODY_METHODS:
            body, receive = await _buffer_body(receive)
            errors, status = _body_errors(_content_type(scope), body), 422
        if errors:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
            code = "validation" if status == 422 else "bad-request"
            response = problem_response(Request(scope), status, code, detail, errors=errors)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def describe(char: str) -> str:
    """'U+0000' with the character's Unicode name when it has one (controls have none)."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def _problem(text: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.search(text)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return f"文字コードが正しくありません (対になっていないサロゲート {describe(char)})"
    return f"制御文字 ({describe(char)}) は使用できません"


def _url_and_header_errors(scope: Scope) -> tuple[list[FieldError], int]:
    errors: list[FieldError] = []
    path_problem = _problem(scope["path"], _SINGLE_LINE_BAD)
    if path_problem:
        errors.append(FieldError(field="path", message=path_problem))
    # Decoded the way Starlette decodes them for the routes (latin-1, then %-unquoted as UTF-8).
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    for name, value in query:
        problem = _problem(name, _SINGLE_LINE_BAD) or _problem(value, _SINGLE_LINE_BAD)
        if problem and not any(e.field == name for e in errors):
            errors.append(FieldError(field=name if name.isprintable() else "query", message=problem))
    if errors:
        return errors, 422
    for raw_name, raw_value in scope["headers"]:
        problem = _problem(raw_value.decode("latin-1"), _HEADER_BAD)
        if problem:
            errors.append(FieldError(field=raw_name.decode("latin-1"), message=problem))
    return errors, 400


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body, and a `receive` that hands it to the app as if it were read for the first time."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the app see that
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _content_type(scope: Scope) -> tuple[str, str]:
    raw = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
    if not raw:
        return "", ""
    message = email.message.Message()
    message["content-type"] = raw
    return message.get_content_maintype(), message.get_content_subtype()


def _body_errors(content_type: tuple[str, str], body: bytes) -> list[FieldError]:
    if not body:
        return []
    maintype, subtype = content_type
    if maintype == "application" and (subtype == "json" or subtype.endswith("+json")):
        return _json_errors(body)  # FastAPI parses exactly these content types as JSON
    if (maintype, subtype) == ("application", "x-www-form-urlencoded"):
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        return [
            FieldError(field=name, message=problem)
            for name, value in fields
            if (problem := _problem(value, _SINGLE_LINE_BAD))
        ]
    if b"\x00" in body:
        return [FieldError(field="body", message="制御文字 (U+0000) は使用できません")]
    return []


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} は JSON の数値ではありません")


def _json_errors(body: bytes) -> list[FieldError]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [FieldError(field="body", message=f"UTF-8 で送ってください ({exc.start + 1}バイト目)")]
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return [FieldError(field="body", message=json_syntax_message(exc))]
    except (ValueError, RecursionError):  # NaN/Infinity, a 4,300-digit integer, nesting a thousand deep
        return [
            FieldError(field="body", message="JSON の形式が正しくありません (値が大きすぎるか深すぎます)")
        ]
    return [FieldError(field=path or "body", message=problem) for path, problem in _bad_strings(document, "")]


def json_syntax_message(exc: json.JSONDecodeError) -> str:
    return f"JSON の形式が正しくありません ({exc.lineno}行目 {exc.colno}列目)"


def _bad_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, problem) for each string or key that holds a character the system cannot keep."""
    if isinstance(value, str):
        problem = _problem(value, _MULTI_LINE_BAD)
        if problem:
            yield path, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            problem = _problem(key, _SINGLE_LINE_BAD)
            if problem:
                yield (path or "body"), f"項目名に{problem}"
            else:
                yield from _bad_strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_strings(item, f"{path}.{index}" if path else str(index))
