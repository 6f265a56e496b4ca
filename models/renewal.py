"""更新案内 (renewal reminders, seed 3(7)): one term case per certification, its read model, its policy and
the messages of its workflow (workflows/renewal.py). The dates are in rules/renewal.py.

Everything here that goes into Temporal carries keys and business values only (被保険者番号, dates, the
certification id): the notice activity looks the person up in PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from models.common import utcnow
from models.procedure import RegistryEnd


class Stage(StrEnum):
    """Where a certification's term is; CaseStage in the Temporal UI and the term's `state`."""

    WAITING = "waiting"  # sleeping until the first reminder (or the lapse, when nobody is reminded)
    NOTIFIED = "notified"  # first reminder sent
    SECOND_NOTIFIED = "second_notified"  # second reminder sent, staff follow up
    APPLICATION_PENDING = "application_pending"  # a 更新 or 区分変更 application is being decided
    RENEWED = "renewed"  # a 更新 certification followed this one
    REPLACED = "replaced"  # a 区分変更 (or other) certification replaced this one
    LAPSED = "lapsed"  # the last filing day passed with no application
    ENDED = "ended"  # death, loss of status, opened in error


STAGE_LABELS: dict[Stage, str] = {
    Stage.WAITING: "更新案内の送付待ち",
    Stage.NOTIFIED: "更新案内を送付済み",
    Stage.SECOND_NOTIFIED: "再度の更新案内を送付済み・連絡",
    Stage.APPLICATION_PENDING: "更新・区分変更の申請を審査中",
    Stage.RENEWED: "更新された",
    Stage.REPLACED: "新しい認定に置き換わった",
    Stage.LAPSED: "更新の申請なく期間終了",
    Stage.ENDED: "終了 (死亡・資格喪失など)",
}


class Outcome(StrEnum):
    """case_record.outcome of a closed term."""

    RENEWED = "renewed"
    REPLACED = "replaced"
    LAPSED = "lapsed"
    ENDED = "ended"


class EndReason(StrEnum):
    DEATH = RegistryEnd.DEATH.value  # 死亡
    LOST_STATUS = RegistryEnd.LOST_STATUS.value  # 被保険者資格の喪失 (転出など)
    OPENED_IN_ERROR = "opened_in_error"


# ----------------------------------------------------------------------------------------- read model


class CertificationTerm(SQLModel, table=True):
    """A certification's term as the renewal reminders follow it (its header is the `case_record` row)."""

    __tablename__ = "certification_term"
    __table_args__ = (
        sa.Index("ix_certification_term_insured", "insured_no"),
        sa.Index("ix_certification_term_next", "next_reminder_on"),
        sa.Index("ix_certification_term_expiry", "expiry"),  # the dashboard's renewals due
    )

    case_id: str = Field(
        sa_column=sa.Column(
            sa.String(64), sa.ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True
        )
    )
    # One term per certification: the unique key reconciliation and the listener rely on.
    certification_id: str = Field(
        sa_column=sa.Column(
            sa.String(32),
            sa.ForeignKey("certification.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    insured_no: str = Field(max_length=10)
    atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    expiry: date
    last_filing_day: date
    next_reminder_on: date | None = None
    state: str = Field(default=Stage.WAITING, sa_type=sa.String(24))
    reminded: bool = True  # False: the policy reminds only persons who used services in the last year
    first_notice_no: str | None = Field(default=None, max_length=40)
    second_notice_no: str | None = Field(default=None, max_length=40)
    application_id: str | None = Field(default=None, max_length=32)  # the pending 更新/区分変更
    successor_certification_id: str | None = Field(default=None, max_length=32)
    follow_up_outcome: str | None = Field(default=None, max_length=16)
    closed_on: date | None = None
    # Set once its workflow is known to run. The rows are committed before the start (no transaction is held
    # across a Temporal call): a term left unstarted by a crash or an outage is started by the next
    # reconciliation (services/renewal.py).
    workflow_started: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class TermPatch(BaseModel):
    """What a step changes in the term's read model; unset fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    next_reminder_on: date | None = None
    state: Stage | None = None
    reminded: bool | None = None
    first_notice_no: str | None = None
    second_notice_no: str | None = None
    application_id: str | None = None
    successor_certification_id: str | None = None
    follow_up_outcome: str | None = None
    closed_on: date | None = None


class TermPublic(BaseModel):
    """The case page's record of a term."""

    model_config = ConfigDict(from_attributes=True)

    certification_id: str
    insured_no: str
    expiry: date = PydanticField(description="有効期間の終了日")
    last_filing_day: date = PydanticField(description="更新申請の最終日 (閉庁日は翌開庁日)")
    next_reminder_on: date | None = PydanticField(description="次の案内の予定日")
    state: Stage
    reminded: bool = PydanticField(description="案内を送る対象か (方針: 過去1年のサービス利用者のみ等)")
    first_notice_no: str | None
    second_notice_no: str | None
    application_id: str | None
    successor_certification_id: str | None
    follow_up_outcome: str | None


# --------------------------------------------------------------------------------------------- policy


class RenewalPolicy(BaseModel):
    """The city's reminder policy (the law is in rules/renewal.py), from RENEWAL_POLICY.

    Resolved when a term starts and kept in its workflow input; a term continued afresh keeps its own.
    """

    first_notice_offset_days: int = PydanticField(
        default=0, ge=-30, le=30, description="1回目の案内: 受付開始日 (満了日の60日前) からの日数"
    )
    second_notice: bool = PydanticField(default=True, description="申請がないとき2回目の案内を送るか")
    second_notice_days_before_expiry: int = PydanticField(
        default=30, ge=1, le=59, description="2回目の案内: 満了日の何日前か"
    )
    only_service_users: bool = PydanticField(
        default=False, description="過去1年にサービスを利用した人にだけ案内する"
    )
    follow_up_due_days: int = PydanticField(default=14, ge=1, le=60, description="連絡タスクの期限 (日)")
    wake_hour: int = PydanticField(default=9, ge=0, le=23, description="案内を発行する時刻 (Asia/Tokyo)")
    reconcile_cron: str = PydanticField(
        default="30 5 * * *",
        pattern=r"^[0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+$",
        description="日次の突合 (認定に期間ケースがあるか) の時刻 (cron, Asia/Tokyo)",
    )


# ------------------------------------------------------------------------------------------- workflow


class TermResume(BaseModel):
    """What a term carries into its next run (continue-as-new)."""

    stage: Stage
    notice_seq: int = 0
    first_sent: bool = False
    second_sent: bool = False


class TermView(BaseModel):
    """What a term shows: its stage (CaseStage, the term's state), the day of its next step (DueDate) and
    the current details ("更新案内 1/30 送付予定")."""

    stage: Stage
    due: date | None
    details: str


class TermInput(BaseModel):
    case_id: str
    certification_id: str
    insured_no: str
    atena_no: str
    office: str
    care_level: str
    valid_from: date
    valid_to: date
    service_use_last_year: bool = True
    policy: RenewalPolicy = PydanticField(default_factory=RenewalPolicy)
    resume: TermResume | None = None
    # The opening view its starter already wrote with the term's rows and search attributes (and the
    # "opened" event): the first run only sleeps. None: the workflow writes its opening itself.
    opening: TermView | None = None


class TermOutcome(BaseModel):
    case_id: str
    outcome: str
    end_reason: str | None = None
    successor_certification_id: str | None = None
    notice_ids: list[str] = PydanticField(default_factory=list)


class ApplicationFiled(BaseModel):
    """A 更新 or 区分変更 application of the term's insured person was received."""

    application_id: str
    kind: str  # rules.certification.ApplicationKind
    on: date


class ApplicationClosed(BaseModel):
    """That application ended without a certification (取下げ, 却下, 非該当)."""

    application_id: str
    on: date


class Replaced(BaseModel):
    """A new certification of the person was decided: this term ends, the new one has its own."""

    certification_id: str
    application_kind: str
    on: date


class PolicyChanged(BaseModel):
    """The city changed its reminder policy: running terms adopt it from their next reminder on."""

    policy: RenewalPolicy


class ReconcileInput(BaseModel):
    office: str
    task_queue: str
    policy: RenewalPolicy = PydanticField(default_factory=RenewalPolicy)
    as_of: date | None = None  # default: the business date it runs on


class ReconcilePage(BaseModel):
    reconcile: ReconcileInput
    as_of: date
    after_certification_id: str = ""
    limit: int = 500  # one transaction writes a page's terms; its starts then run START_CONCURRENCY at a time


class ReconcilePageResult(BaseModel):
    checked: int
    started: list[str] = PydanticField(default_factory=list)
    last_certification_id: str | None = None


class ReconcileResult(BaseModel):
    as_of: date
    checked: int
    started: list[str]  # the first ones (the workflow's STARTED_SHOWN)
    started_count: int = 0
