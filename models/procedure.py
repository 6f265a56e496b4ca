"""The procedure kernel's messages and descriptions, shared by every procedure (no tables, no I/O).

- `TaskKindSpec` / `ProcedureModel`: what a procedure is made of — its task kinds (who does them, with which
  permission, what their completion payload is) and its stages. Each procedure's models module declares one
  `ProcedureModel`; `procedures.py` binds it to its workflow and read model.
- The human-task protocol's messages (`CompleteTask`, `EndCase`, …) and the one activity every workflow step
  ends in (`StepWrite` → `apply_step`): close tasks, open the next ones, timeline events, the case header and
  the procedure's own read-model patch, in one transaction.

Everything here is stored in Temporal histories (encrypted by the payload codec): keys and business values
only, never a name or an address — activities look those up in PostgreSQL when they need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.case import CaseType
from models.permissions import Permission, Role
from models.survey import Text100

# ------------------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class TaskKindSpec:
    """One kind of human task.

    `candidate_role` None means the procedure's desk role (kernel kinds such as a notice repair are done by
    whichever desk runs the procedure). `fixed` tasks are given to one person by the workflow (a board
    member's vote) and cannot be reassigned. `not_delegable_basis` is the legal basis printed when a
    contractor is refused a task the workflow marked as not delegable.
    """

    label: str
    permission: Permission
    payload: type[BaseModel]
    candidate_role: Role | None = None
    fixed: bool = False
    not_delegable_basis: str | None = None


@dataclass(frozen=True)
class ProcedureModel:
    """A procedure as data: its case type, its desk, its task kinds and its stages (labels in Japanese)."""

    case_type: CaseType
    label: str
    desk_role: Role
    task_kinds: dict[str, TaskKindSpec]
    stages: dict[str, str]
    exclusive_per_insured: bool  # at most one open case per insured person (enforced by the database)
    open_stage: str = "intake"
    extra: dict[str, Any] = field(default_factory=dict)

    def task_kind(self, kind: str) -> TaskKindSpec:
        """The spec of one of this procedure's task kinds (its own or the kernel's)."""
        return self.task_kinds.get(kind) or KERNEL_TASK_KINDS[kind]

    def role_for(self, kind: str) -> Role:
        return self.task_kind(kind).candidate_role or self.desk_role


# ------------------------------------------------------------------------------------- kernel task kinds

NOTICE_REPAIR = "notice_repair"  # a notice could not be issued; staff fix the data, then it is retried


class NoticeRepaired(BaseModel):
    """通知書を発行できなかった原因 (印刷できない文字など) を修正した."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "氏名の外字を修正"}]})

    note: Text100 | None = Field(default=None, description="修正した内容")


KERNEL_TASK_KINDS: dict[str, TaskKindSpec] = {
    NOTICE_REPAIR: TaskKindSpec("通知書の発行エラーの修正", Permission.NOTICE_ISSUE, NoticeRepaired),
}


# ------------------------------------------------------------------------------------------- updates


class CompleteTask(BaseModel):
    task_id: str
    actor: str
    payload: dict[str, Any]


class TaskCompleted(BaseModel):
    task_id: str
    kind: str


class RegistryEnd(StrEnum):
    """Registry events that end every open case of a person (each procedure accepts these reasons)."""

    DEATH = "death"  # 死亡
    LOST_STATUS = "lost_status"  # 被保険者資格の喪失 (転出など)


class EndCase(BaseModel):
    reason: str  # the procedure's end-reason code (取下げ, death, loss of status, …)
    actor: str
    on: date
    note: str | None = None


class CaseClosed(BaseModel):
    """What `end_case` returns once the case has closed."""

    case_id: str
    outcome: str
    notice_ids: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------ one step


class TaskOpen(BaseModel):
    task_id: str
    kind: str
    candidate_role: str
    assignee: str | None = None
    due_at: datetime | None
    priority: int = 50
    delegable: bool = True  # False: contractors may not take it (e.g. a 新規 survey, 28条5項)
    reference: str | None = None  # a label without personal data, e.g. "審査会 12/10 第3号"


class TaskClose(BaseModel):
    task_id: str
    state: str  # completed / cancelled
    actor: str


class CaseEventIn(BaseModel):
    event_key: str
    step: str
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)


class CaseUpdate(BaseModel):
    """Changes to the case header; fields left unset are not touched (`due_on` None clears it)."""

    model_config = ConfigDict(extra="forbid")

    stage: str | None = None
    details: str | None = None
    due_on: date | None = None
    clear_due: bool = False
    closed_outcome: str | None = None  # set once, when the case closes


class StepWrite(BaseModel):
    """Everything one workflow step changes in the read model, applied in one transaction (`apply_step`)."""

    case_id: str
    case_type: CaseType
    subject_atena_no: str
    insured_no: str
    opened: list[TaskOpen] = Field(default_factory=list)
    closed: list[TaskClose] = Field(default_factory=list)
    events: list[CaseEventIn] = Field(default_factory=list)
    case: CaseUpdate | None = None
    record: dict[str, Any] | None = None  # the procedure's read-model patch (its ReadModel parses it)

    def is_empty(self) -> bool:
        return not (self.opened or self.closed or self.events or self.case or self.record)


# ------------------------------------------------------------------------------------------ notices


def notice_task_queue(task_queue: str) -> str:
    """Notices render on their own task queue (their own worker processes), beside the procedures' queue."""
    return f"{task_queue}-notices"


class IssueNoticeRequest(BaseModel):
    """Issue one notice; idempotent by `idempotency_key` (case id + kind + sequence)."""

    idempotency_key: str
    kind: str  # notices.catalogue kind code
    case_id: str
    recipient_atena_no: str
    issued_on: date
    data: dict[str, Any]  # the kind's business data; the recipient block is filled from the registry
    replaces_notice_id: str | None = None


class NoticeIssued(BaseModel):
    notice_id: str
    document_no: str
    sha256: str
