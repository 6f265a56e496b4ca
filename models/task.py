"""Human tasks: the read model of work a workflow is waiting on (DESIGN.md, human-task protocol).

Workflows create and close rows through activities; staff claim/assign them through the API with optimistic
versioning. A task's assignee is also what scopes a contracted surveyor's access to a person's data.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from models.common import utcnow


class TaskState(StrEnum):
    OPEN = "open"  # waiting for someone
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # the case ended (取下げ, death, loss of status) or the step was superseded


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        sa.Index("ix_task_inbox", "state", "candidate_role", "due_at"),
        sa.Index("ix_task_assignee", "assignee", "state"),
        sa.Index("ix_task_case", "case_id"),
        sa.Index("ix_task_subject", "subject_atena_no", "state"),
        sa.Index("ix_task_insured", "insured_no"),
        # Open tasks in inbox order (due date, then age): the inbox and the overdue list across roles read
        # a page off its front, and keyset pages (services/tasks.py) continue from a row comparison.
        sa.Index(
            "ix_task_open_due", "due_at", "created_at", "id", postgresql_where=sa.text("state = 'open'")
        ),
        sa.Index("ix_task_office", "office", "state", "due_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: str = Field(max_length=64)
    workflow_id: str = Field(max_length=128)
    kind: str = Field(max_length=48)
    candidate_role: str = Field(max_length=16)
    assignee: str | None = Field(default=None, max_length=32)
    subject_atena_no: str = Field(max_length=15)
    insured_no: str = Field(max_length=10)
    state: str = Field(default=TaskState.OPEN, sa_type=sa.String(16))
    priority: int = Field(default=50, ge=0, le=100)
    due_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    closed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    closed_by: str | None = Field(default=None, max_length=32)
    delegable: bool = True  # False: contractors may not take it (the kind's spec names the legal basis)
    reference: str | None = Field(default=None, max_length=80)  # e.g. "審査会 12/10 第3号"; no personal data
    office: str | None = Field(default=None, max_length=32)  # the case's handling office (copied at opening)


class TaskPublic(BaseModel):
    id: uuid.UUID
    case_id: str = PydanticField(description="ケースID (= ワークフローID)")
    kind: str = PydanticField(description="タスクの種類")
    label: str = PydanticField(description="タスクの種類 (日本語)")
    reference: str | None = PydanticField(description="参照 (審査会の開催日と番号など)")
    candidate_role: str
    assignee: str | None
    state: TaskState
    priority: int
    due_at: datetime | None
    overdue: bool = PydanticField(description="期限を過ぎて未完了")
    insured_no: str | None = PydanticField(description="被保険者番号 (宛名を参照できない職員には表示しない)")
    office: str | None = PydanticField(default=None, description="担当事務所 (ケースの事務所)")
    version: int
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
