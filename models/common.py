"""Types shared by every aggregate: time helpers and the paginated list shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

JST = ZoneInfo("Asia/Tokyo")


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
