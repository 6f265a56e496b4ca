"""Bulk print exports (印刷委託用の一括出力): the issued notices sent to the print contractor, by file.

A job is planned once: its notices are fixed, sorted and cut into batches in one transaction. Each batch is
then produced and marked done in a transaction of its own, so an interrupted run resumes by skipping done
batches. The primary key (job, notice) means a notice can be in only one batch of a job.

Only identifiers are kept here; the files are rebuilt from the stored, immutable notice PDFs (the merge is
deterministic), and each batch's SHA-256 proves a rebuilt file is the one that left.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from models.common import utcnow
from notices.catalogue import CATALOGUE

MAX_BATCH_SIZE = 1000


class NoticeExport(SQLModel, table=True):
    __tablename__ = "notice_export"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=48)
    issued_from: date
    issued_to: date
    batch_size: int
    include_exported: bool  # False: notices already in another export were left out
    requested_by: str = Field(max_length=64)
    notice_count: int
    batch_count: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class NoticeExportBatch(SQLModel, table=True):
    """One PDF plus its manifest. The file fields stay empty until the batch is done."""

    __tablename__ = "notice_export_batch"

    job_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("notice_export.id", ondelete="CASCADE"), primary_key=True
        )
    )
    batch_no: int = Field(primary_key=True)  # 1, 2, 3 …
    pdf_name: str = Field(max_length=120)
    manifest_name: str = Field(max_length=120)
    notice_count: int
    pages: int | None = None
    pdf_sha256: str | None = Field(default=None, max_length=64)
    manifest_sha256: str | None = Field(default=None, max_length=64)
    done_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class NoticeExportItem(SQLModel, table=True):
    """A notice's place in a job: its batch and its position in that batch's PDF."""

    __tablename__ = "notice_export_item"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["job_id", "batch_no"],
            ["notice_export_batch.job_id", "notice_export_batch.batch_no"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("job_id", "batch_no", "position", name="uq_notice_export_position"),
        sa.Index("ix_notice_export_item_notice", "notice_id"),
    )

    job_id: str = Field(primary_key=True, max_length=32)
    # A purged person takes their notices with them, and so their place in old exports (the audit trail and
    # the batch's hash keep the record of what left).
    notice_id: str = Field(
        sa_column=sa.Column(sa.String(32), sa.ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True)
    )
    batch_no: int
    position: int  # 1-based order in the batch: postal code, then 文書番号


# -------------------------------------------------------------------------------------------- schemas


def _known_kind(value: str) -> str:
    if value not in CATALOGUE:
        raise ValueError(f"通知書の種類が正しくありません ({', '.join(CATALOGUE)})")
    return value


NoticeKindCode = Annotated[str, AfterValidator(_known_kind)]


class NoticeExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: NoticeKindCode = PydanticField(description="通知書の種類 (例: expiry_reminder)")
    issued_from: date = PydanticField(description="発行日 (から)")
    issued_to: date = PydanticField(description="発行日 (まで、当日を含む)")
    batch_size: int = PydanticField(500, ge=1, le=MAX_BATCH_SIZE, description="1ファイルの通知書数")
    include_exported: bool = PydanticField(
        False, description="既に他の一括出力に含めた通知書も出力する (再印刷)"
    )

    @field_validator("issued_to")
    @classmethod
    def _not_before_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("issued_from")
        if start is not None and value < start:
            raise ValueError("発行日 (まで) が発行日 (から) より前になっています")
        return value


class ExportFile(BaseModel):
    name: str
    media_type: str
    sha256: str | None


class ExportBatchPublic(BaseModel):
    batch_no: int
    notice_count: int
    pages: int | None
    done: bool
    files: list[ExportFile]


class NoticeExportPublic(BaseModel):
    id: str
    kind: str
    issued_from: date
    issued_to: date
    batch_size: int
    include_exported: bool
    requested_by: str
    notice_count: int
    batch_count: int
    created_at: datetime
    finished_at: datetime | None
    batches: list[ExportBatchPublic]
