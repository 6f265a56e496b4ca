"""Issued notices (通知書): the numbered record of what was sent, its PDF, and numbers that never printed.

Issuing happens in steps so that no lock is held while a PDF renders: the number is taken and the `notice`
row written in one short transaction (the number is never lost: the row exists before rendering), the PDF
is rendered outside any transaction, and stored in `notice_pdf`. A number whose notice can never render
(a character the typeface lacks, data the template refuses) gets a `notice_void` row: a recorded 欠番 with
its reason, never a silent gap. All three tables are insert-only (triggers); rows go only with their
person, by the retention purge.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow


class NoticeRecord(SQLModel, table=True):
    """One numbered notice. Never updated: a correction is a new notice that names the one it replaces."""

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
    template_version: str = Field(max_length=64)  # SHA-256 of the template sources when the number was taken
    data: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))  # exactly what is rendered
    # The issuer lines as printed (office, mayor, desk): a retry renders the same letter even if the
    # settings changed meanwhile. NULL only for notices issued before it was kept (their PDF was stored).
    issuer: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB, nullable=True))
    replaces_id: str | None = Field(default=None, foreign_key="notice.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class NoticePdf(SQLModel, table=True):
    """The PDF of a notice, exactly as rendered once from its stored data; reprints serve these bytes."""

    __tablename__ = "notice_pdf"

    notice_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    pdf: bytes = Field(sa_type=sa.LargeBinary)
    sha256: str = Field(max_length=64)
    pages: int
    template_version: str = Field(max_length=64)  # the templates that produced these bytes
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class VoidReason(StrEnum):
    UNPRINTABLE = "unprintable"  # a character the notice typeface cannot draw
    DATA_INVALID = "data-invalid"  # the stored data no longer fits the kind's template


class NoticeVoid(SQLModel, table=True):
    """A 欠番: a number taken for a notice that can never render. It stays used, listed and explained."""

    __tablename__ = "notice_void"

    notice_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    reason: str = Field(max_length=32)  # VoidReason
    detail: str = Field(max_length=2000)  # staff-readable Japanese, as the error said it
    voided_by: str = Field(max_length=32)
    voided_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class NoticeCounter(SQLModel, table=True):
    """Last number used per kind and fiscal year; its row lock serialises concurrent issuers (briefly:
    only the insert of the notice row and the commit happen under it)."""

    __tablename__ = "notice_counter"

    kind: str = Field(primary_key=True, max_length=48)
    fiscal_year: int = Field(primary_key=True)
    last: int = 0


class NoticeState(StrEnum):
    ISSUED = "issued"  # the PDF is stored
    RENDERING = "rendering"  # 作成中: numbered, PDF not stored yet
    VOID = "void"  # 欠番: the number was taken, the notice can never print


class NoticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    title: str
    state: NoticeState
    document_no: str
    fiscal_year: int
    sequence: int
    case_id: str | None
    recipient_atena_no: str
    insured_no: str
    issued_on: date
    issued_by: str
    template_version: str
    sha256: str | None  # None until the PDF is stored (and for a 欠番)
    pages: int | None
    void_reason: str | None = None
    void_detail: str | None = None
    replaces_id: str | None
    created_at: datetime
