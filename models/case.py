"""Case timeline: every step of a procedure, with who did it and when (GET /cases/{case_id}).

Written by workflow activities (the workflow owns the procedure; this is its read model). Details hold keys
and business values only; a person's name or address never goes here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "event_key", name="uq_case_event_once"),
        sa.Index("ix_case_event_case", "case_id", "id"),
        sa.Index("ix_case_event_subject", "subject_atena_no"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=True)
    )
    case_id: str = Field(max_length=128)
    # Idempotency: an activity retried after a crash writes the same event_key again and is ignored.
    event_key: str = Field(max_length=128)
    subject_atena_no: str = Field(max_length=15)
    step: str = Field(max_length=48)
    actor: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(JSONB, nullable=False))


class CaseEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: str
    actor: str
    at: datetime
    detail: dict[str, Any]
