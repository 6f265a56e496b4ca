"""Types shared by every aggregate: time helpers and the paginated list shape."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

JST = ZoneInfo("Asia/Tokyo")

# PostgreSQL INTEGER (serial ids, counters): a larger number from a client is a 422, not an overflow (500).
INT32_MAX = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]

# A case is known by its workflow id: the procedure, a hyphen and the application id.
_CASE_ID = re.compile(r"[a-z]+(?:-[a-z]+)*-[0-9a-f]{32}")


def _check_case_id(value: str) -> str:
    if _CASE_ID.fullmatch(value):
        return value
    hint = f" (certification-{value})" if re.fullmatch(r"[0-9a-f]{32}", value) else ""
    raise ValueError(
        "ケースIDはワークフローIDです。申請IDの前に手続名を付けた形 "
        f"(例: certification-0123456789abcdef0123456789abcdef) で指定してください{hint}"
    )


CaseId = Annotated[str, StringConstraints(max_length=128), AfterValidator(_check_case_id)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def today_in_japan() -> date:
    """Business dates are calendar dates in Asia/Tokyo (DOMAIN.md §6)."""
    return datetime.now(JST).date()


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="条件に合う件数")
    page: int = Field(description="ページ番号 (1から)")
    size: int = Field(description="1ページの件数")
