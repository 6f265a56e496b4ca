"""Errors a staff member can act on. Raised by services; the API renders them as problem+json."""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """A refused request: HTTP status, a stable machine code, a Japanese message, the field(s) at fault.

    `field` names the one field at fault; `fields` lists (field, message) when several are (each becomes one
    entry of the problem's `errors`).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        fields: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers
        self.extra = extra or {}
        self.fields = fields if fields is not None else ([(field, detail)] if field else [])
