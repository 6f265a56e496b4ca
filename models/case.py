"""Cases: one row per procedure case (its read-model header) and the case timeline.

A case is one run of a procedure — a certification application, a restriction, a certification's renewal
term — owned by one Temporal workflow whose id is the case id (`<case type>-<key>`, `case_id_for`). Workflow
activities write these rows (the workflow owns the procedure; this is its read model). Details hold keys and
business values only; a person's name or address never goes here.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic import Field as PydanticField
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow


class CaseType(StrEnum):
    """The procedures; also the `CaseType` search attribute and the prefix of every case id."""

    CERTIFICATION = "certification"  # 要介護認定
    RESTRICTION = "restriction"  # 給付制限
    RENEWAL = "renewal"  # 更新案内


# The one place the case id (= workflow id) format lives: `<case type>-<32 hex>`.
CASE_ID_PATTERN = r"^(certification|restriction|renewal)-[0-9a-f]{32}$"
_CASE_ID = re.compile(CASE_ID_PATTERN)
CASE_ID_EXAMPLE = "certification-3f2c9a0e5b7d4c1e8a6f0b2d4e6a8c0f"


def _check_case_id(value: str) -> str:
    if not _CASE_ID.match(value):
        # A bare application id is the usual slip: say what to send instead.
        hint = f"。この場合は certification-{value}" if re.fullmatch(r"[0-9a-f]{32}", value) else ""
        raise ValueError(
            "ケースIDはワークフローIDと同じ「<手続>-<32桁の16進数>」の形式です"
            f" (手続は certification / restriction / renewal。例 {CASE_ID_EXAMPLE}){hint}"
        )
    return value


CaseId = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_case_id)]


def case_id_for(case_type: CaseType, key: str) -> str:
    return f"{case_type.value}-{key}"


def parse_case_id(case_id: str) -> tuple[CaseType, str] | None:
    """(case type, key) of a well-formed case id, else None."""
    if not _CASE_ID.match(case_id):
        return None
    prefix, _, key = case_id.partition("-")
    return CaseType(prefix), key


class CaseState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # decided, lifted, lapsed, ended: `outcome` says which


class CaseRecord(SQLModel, table=True):
    """Every procedure's case header: stage, next due date and office, written by the workflow's steps.

    `exclusive_key` enforces "one open case of this kind per insured person" in the database (a partial unique
    index would need each procedure named in SQL): it holds `<case type>:<被保険者番号>` while the case is
    open, for procedures that allow only one, and NULL otherwise.
    """

    __tablename__ = "case_record"
    __table_args__ = (
        sa.Index("ix_case_record_open", "case_type", "stage", postgresql_where=sa.text("state = 'open'")),
        sa.Index("ix_case_record_office", "office", "stage", postgresql_where=sa.text("state = 'open'")),
        sa.Index("ix_case_record_subject", "subject_atena_no"),
        sa.Index("ix_case_record_insured", "insured_no"),
    )

    id: str = Field(primary_key=True, max_length=64)
    case_type: str = Field(sa_type=sa.String(16))
    subject_atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    insured_no: str = Field(max_length=10)
    office: str = Field(max_length=32)
    state: str = Field(default=CaseState.OPEN, sa_type=sa.String(8))
    stage: str = Field(sa_type=sa.String(24))
    outcome: str | None = Field(default=None, max_length=24)
    due_on: date | None = None  # the next legal or policy deadline (DueDate in the Temporal UI)
    details: str | None = Field(default=None, max_length=80)  # current details, e.g. "審査会 12/10 予定"
    exclusive_key: str | None = Field(default=None, max_length=32, unique=True)
    opened_by: str = Field(max_length=64)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    closed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


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


class CasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = PydanticField(description="ケースID (= Temporal のワークフローID)")
    case_type: CaseType
    insured_no: str
    office: str = PydanticField(description="担当事務所")
    state: CaseState
    stage: str
    outcome: str | None = PydanticField(description="終了の結果 (決定・解除・終了など)")
    due_on: date | None = PydanticField(description="次の期限")
    details: str | None = PydanticField(description="現在の状況")
    opened_at: datetime
    closed_at: datetime | None
