"""Messages between the API, the workflows and their activities (pydantic, no tables).

Everything here is stored in Temporal histories — encrypted by the payload codec, but still: keys and
business values only, never a name or an address (activities look those up in PostgreSQL when needed).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from kaigo.policy import Policy
from models.task_kinds import TaskKind
from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel

# ----------------------------------------------------------------------------------- certification


class CertificationInput(BaseModel):
    application_id: str
    insured_no: str
    atena_no: str
    kind: ApplicationKind
    category: InsuredCategory
    applied_on: date
    previous_level: CareLevel | None = None
    previous_valid_to: date | None = None
    renewal_delay_consent: bool = False
    applicant_office: str | None = None  # for board recusal; an organisation, not a person
    office: str
    policy: Policy = Field(default_factory=Policy)


class CertificationOutcome(BaseModel):
    application_id: str
    state: str  # decided / ended
    level: CareLevel | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    end_reason: str | None = None
    notice_ids: list[str] = Field(default_factory=list)


class CompleteTask(BaseModel):
    task_id: str
    actor: str
    payload: dict[str, Any]


class TaskCompleted(BaseModel):
    task_id: str
    kind: TaskKind


class EndCase(BaseModel):
    reason: str  # models.certification.EndReason
    actor: str
    on: date
    note: str | None = None


class Recuse(BaseModel):
    member: str
    actor: str


# ------------------------------------------------------------------------------------ activities


class TaskOpen(BaseModel):
    task_id: str
    case_id: str
    workflow_id: str
    kind: TaskKind
    candidate_role: str
    assignee: str | None = None
    subject_atena_no: str
    insured_no: str
    due_at: datetime | None
    priority: int = 50


class TaskClose(BaseModel):
    task_id: str
    state: str  # completed / cancelled
    actor: str


class CaseEventIn(BaseModel):
    case_id: str
    event_key: str
    subject_atena_no: str
    step: str
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ApplicationPatch(BaseModel):
    """Changes to the application read model; None means "leave as is"."""

    application_id: str
    stage: str | None = None
    state: str | None = None
    surveyor: str | None = None
    survey: dict[str, Any] | None = None
    opinion_request: dict[str, Any] | None = None
    opinion: dict[str, Any] | None = None
    primary_result: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    deemed_rejection_on: date | None = None
    end_reason: str | None = None


class AllocationRequest(BaseModel):
    application_id: str
    not_before: date
    simplified: bool
    surveyor: str | None
    applicant_office: str | None


class BoardSeat(BaseModel):
    login_id: str
    chair: bool


class BoardSlot(BaseModel):
    meeting_id: int
    held_on: date
    panel_size: int
    chair: str
    seats: list[BoardSeat]  # members who may judge this case (recused members removed)
    recused: list[str]


class VoteRecord(BaseModel):
    vote_key: str
    application_id: str
    meeting_id: int
    member: str
    level: CareLevel
    validity_months: int | None
    opinion: str | None


class CertificationRecord(BaseModel):
    application_id: str
    atena_no: str
    insured_no: str
    level: CareLevel
    valid_from: date | None
    valid_to: date | None
    board_opinion: str | None
    service_types: list[str]
    decided_on: date


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
