"""Issued notices (通知書): immutable records of exactly what was sent, and per-kind-per-year numbering."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow


class NoticeRecord(SQLModel, table=True):
    """One issued notice. Never updated (a trigger refuses UPDATE): a correction is a new notice that names
    the one it replaces. Deleted only with its person by the retention purge."""

    __tablename__ = "notice"
    __table_args__ = (
        sa.UniqueConstraint("kind", "fiscal_year", "sequence", name="uq_notice_number"),
        sa.UniqueConstraint("idempotency_key", name="uq_notice_idempotency"),
        sa.Index("ix_notice_case", "case_id"),
        sa.Index("ix_notice_recipient", "recipient_atena_no", "issued_on"),
        sa.Index("ix_notice_postal", "postal_code"),
        sa.Index("ix_notice_kind_issued", "kind", "issued_on"),  # print export selection
        sa.Index("ix_notice_insured", "insured_no"),  # GET /notices?insured_no=
    )

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=48)
    fiscal_year: int  # 年度 (April–March) of the issue date
    sequence: int  # 1, 2, 3 … per kind and fiscal year, without gaps
    document_no: str = Field(max_length=40)  # 文書番号 as printed
    idempotency_key: str = Field(max_length=200)
    case_id: str | None = Field(default=None, max_length=128)
    recipient_atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    insured_no: str = Field(max_length=10)
    postal_code: str = Field(max_length=7)  # for the print contractor's sort order
    issued_on: date
    issued_by: str = Field(max_length=32)
    template_version: str = Field(max_length=64)  # SHA-256 of the template sources that produced it
    data: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))  # exactly what was rendered
    pdf: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    pages: int
    replaces_id: str | None = Field(default=None, foreign_key="notice.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class NoticeCounter(SQLModel, table=True):
    """Last number used per kind and fiscal year; its row lock serialises concurrent issuers."""

    __tablename__ = "notice_counter"

    kind: str = Field(primary_key=True, max_length=48)
    fiscal_year: int = Field(primary_key=True)
    last: int = 0


class NoticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    title: str
    document_no: str
    fiscal_year: int
    sequence: int
    case_id: str | None
    recipient_atena_no: str
    insured_no: str
    issued_on: date
    issued_by: str
    template_version: str
    sha256: str
    pages: int
    replaces_id: str | None
    created_at: datetime
