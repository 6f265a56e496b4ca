"""Errors a staff member can act on. Raised by services; the API renders them as problem+json."""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """A refused request: HTTP status, a stable machine code, a Japanese message, the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers
        self.extra = extra or {}
