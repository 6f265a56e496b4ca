"""The day's print batch of renewal reminders (更新案内の日次一括出力) and its 発行一覧表.

One row per day that had reminders to print: the notices export job that holds them (services/print_export)
and the internal issue list (発行一覧表, CSV and PDF). Like the export's own files, the list is not stored:
it is rebuilt from the stored notices on download and checked against the SHA-256 recorded when it was made.
The day is the primary key, so a day can have only one batch, however often its run is repeated.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from models.common import utcnow
from models.print_export import MAX_BATCH_SIZE, ExportFile, NoticeExportPublic

REMINDER_KIND = "expiry_reminder"


class RenewalBatch(SQLModel, table=True):
    __tablename__ = "renewal_batch"

    day: date = Field(primary_key=True)  # the business day (Asia/Tokyo) whose run made the batch
    export_id: str = Field(
        sa_column=sa.Column(
            sa.String(32),
            sa.ForeignKey("notice_export.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    notice_count: int
    list_csv_name: str = Field(max_length=120)
    list_pdf_name: str = Field(max_length=120)
    list_csv_sha256: str | None = Field(default=None, max_length=64)
    list_pdf_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    done_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


# ----------------------------------------------------------------------------------- workflow payloads


class RenewalBatchPolicy(BaseModel):
    """When the day's batch runs, and how its print files are cut (settings: RENEWAL_BATCH_POLICY, JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_cron: str = PydanticField(
        default="30 17 * * *",
        description="日次の一括出力の時刻 (cron, Asia/Tokyo): 更新案内の発行 (既定 17:00) の後",
    )
    batch_size: int = PydanticField(
        default=MAX_BATCH_SIZE, ge=1, le=MAX_BATCH_SIZE, description="印刷ファイル1つの通知書数"
    )


class RenewalBatchInput(BaseModel):
    policy: RenewalBatchPolicy = PydanticField(default_factory=RenewalBatchPolicy)
    day: date | None = None  # default: the business date the run starts on


class DayPlan(BaseModel):
    day: date
    export_id: str | None  # None: nothing to print that day (and no batch was made)
    created: bool  # False: the day's batch existed already (a re-run)


class RenewalBatchResult(BaseModel):
    day: date
    export_id: str | None
    notice_count: int
    created: bool  # this run planned the day's batch (False on a re-run and on a day with nothing)
    produced_batches: list[int]  # print files made by this run (empty on a re-run of a finished day)


# -------------------------------------------------------------------------------------------- API views


class RenewalBatchPublic(BaseModel):
    day: date
    export_id: str
    notice_count: int
    created_at: datetime
    done: bool
    issue_list: list[ExportFile]  # 発行一覧表 (CSV, PDF)
    export: NoticeExportPublic  # the print files (PDF and manifest per batch)
