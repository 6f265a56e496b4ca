"""Stored responses for POSTs that start things (Idempotency-Key, draft-ietf-httpapi-idempotency-key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    key: str = Field(primary_key=True, max_length=100)
    principal: str = Field(
        primary_key=True, max_length=32
    )  # a key is private to the staff member who sent it
    route: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)
    status_code: int | None = None  # None while the first request is still in flight
    response: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
