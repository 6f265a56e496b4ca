"""Types shared by every aggregate: time helpers and the paginated list shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

JST = ZoneInfo("Asia/Tokyo")

# PostgreSQL INTEGER (serial ids, counters): a larger number from a client is a 422, not an overflow (500).
INT32_MAX = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]


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
