"""要介護認定 (介護保険法27–29条): everything the certification procedure is made of, as data.

- tables: the application (the CertificationWorkflow's own read model, beside its `case_record` row) and the
  certification it ends in;
- the API's intake, withdrawal and public shapes;
- the city's policy (offsets), the workflow's input, its read-model patch and its messages to activities.
Its task kinds and the procedure's description are in models/certification_tasks.py.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic import Field as PydanticField
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.case import CaseRecord, CaseState
from models.common import utcnow
from models.japanese_text import printable_on_notices
from models.procedure import RegistryEnd
from models.registry import InsuredNo
from models.survey import Text40, Text60, Text100, bounded_text, raise_at
from rules.certification import ApplicantKind, ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel
from rules.specified_diseases import SpecifiedDisease

Reason = bounded_text(200)


class ApplicationState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"  # 認定 or 非該当 decided and notified
    ENDED = "ended"  # 取下げ, death, loss of insured status: closed without a decision


class Stage(StrEnum):
    """Where a case is; shown as CaseStage in the Temporal UI and on the case page."""

    INTAKE = "intake"
    SURVEY_AND_OPINION = "survey_opinion"  # 調査・意見書待ち
    PRIMARY = "primary"  # 一次判定待ち
    BOARD = "board"  # 審査会待ち
    DECIDED = "decided"
    ENDED = "ended"


STAGE_LABELS: dict[Stage, str] = {
    Stage.INTAKE: "受付",
    Stage.SURVEY_AND_OPINION: "調査・意見書待ち",
    Stage.PRIMARY: "一次判定待ち",
    Stage.BOARD: "審査会待ち",
    Stage.DECIDED: "決定済み",
    Stage.ENDED: "終了 (決定なし)",
}


class EndReason(StrEnum):
    WITHDRAWN = "withdrawn"  # 申請の取下げ
    DEATH = RegistryEnd.DEATH.value  # 死亡
    LOST_STATUS = RegistryEnd.LOST_STATUS.value  # 被保険者資格の喪失 (転出など)


class CertificationSource(StrEnum):
    DECIDED = "decided"
    IMPORTED = "imported"


class CertificationApplication(SQLModel, table=True):
    """One application: its intake data and the evidence and decision its workflow records.

    Its state and stage are the case's (`case_record`, id = `workflow_id`), written by the same steps.
    """

    __tablename__ = "certification_application"
    __table_args__ = (
        sa.Index("ix_certification_application_subject", "atena_no"),
        sa.Index("ix_certification_application_insured", "insured_no"),
    )

    id: str = Field(primary_key=True, max_length=32)
    workflow_id: str = Field(max_length=64, unique=True)
    insured_no: str = Field(max_length=10)
    atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    kind: str = Field(sa_type=sa.String(16))
    category: str = Field(sa_type=sa.String(1))
    applied_on: date
    applicant_kind: str = Field(sa_type=sa.String(32))
    applicant_name: str | None = Field(
        default=None, max_length=60
    )  # 代理人・届出者 (kept in PostgreSQL only)
    applicant_office: str | None = Field(default=None, max_length=100)  # 代行申請の事業者名 (recusal)
    specified_disease: str | None = Field(default=None, max_length=2)
    medical_insurer_no: str | None = Field(default=None, max_length=8)
    medical_insurance_symbol: str | None = Field(default=None, max_length=40)
    previous_level: str | None = Field(default=None, max_length=8)
    previous_valid_from: date | None = None
    previous_valid_to: date | None = None
    renewal_delay_consent: bool = False  # 更新申請の延期通知省略同意
    decision_deadline: date
    deemed_rejection_on: date | None = None  # 27条12項: when the applicant may deem it rejected
    surveyor: str | None = Field(default=None, max_length=32)
    survey: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    opinion_request: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    opinion: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    primary_result: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    decision: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB))
    end_reason: str | None = Field(default=None, max_length=16)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Certification(SQLModel, table=True):
    """認定: the result written on the 被保険者証 (証記載)."""

    __tablename__ = "certification"
    __table_args__ = (
        sa.Index("ix_certification_insured", "insured_no", "valid_to"),
        sa.Index("ix_certification_decided_on", "decided_on"),
        sa.Index("ix_certification_valid_to", "valid_to"),
    )

    id: str = Field(primary_key=True, max_length=32)  # = the application id it decided
    atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    insured_no: str = Field(max_length=10)
    level: str = Field(max_length=8)
    valid_from: date | None = None
    valid_to: date | None = None
    board_opinion: str | None = Field(default=None, max_length=400)  # 審査会意見 (留意事項)
    service_types: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONB, nullable=False))
    decided_on: date
    # Whether the person used services in the last year: renewal reminders may be limited to them (policy).
    # Kept as a flag until the benefit-claims data (給付実績) is connected.
    service_use_last_year: bool = Field(
        default=True, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.true())
    )
    # decided: by a CertificationWorkflow here; imported: adopted from the previous system (kaigo import).
    source: str = Field(
        default=CertificationSource.DECIDED,
        sa_column=sa.Column(sa.String(8), nullable=False, server_default=CertificationSource.DECIDED.value),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


# ---------------------------------------------------------------------------------------------- API in


class ApplicationCreate(BaseModel):
    """認定申請の受付."""

    model_config = ConfigDict(extra="forbid")

    insured_no: InsuredNo = PydanticField(description="被保険者番号")
    kind: ApplicationKind = PydanticField(description="申請区分 (new: 新規, renewal: 更新, change: 区分変更)")
    applied_on: date = PydanticField(description="申請日 (受付日)")
    applicant_kind: ApplicantKind = PydanticField(description="申請者 (本人・家族・代行する事業者など)")
    applicant_name: Annotated[Text60, AfterValidator(printable_on_notices("申請者氏名"))] | None = (
        PydanticField(default=None, description="申請者氏名 (本人以外)")
    )
    applicant_office: Text100 | None = PydanticField(
        default=None, description="代行申請した事業者・施設の名称 (27条1項)"
    )
    specified_disease: SpecifiedDisease | None = PydanticField(
        default=None, description="特定疾病コード 01〜16 (第2号被保険者は必須)"
    )
    medical_insurer_no: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")] | None = PydanticField(
        default=None, description="医療保険者番号 (第2号被保険者は必須)"
    )
    medical_insurance_symbol: Text40 | None = PydanticField(
        default=None, description="医療保険被保険者証の記号・番号 (第2号被保険者は必須)"
    )
    previous_level: CareLevel | None = PydanticField(
        default=None, description="現在の要介護状態区分 (更新・区分変更)"
    )
    previous_valid_from: date | None = PydanticField(
        default=None,
        description="現在の認定有効期間の開始日 (更新; 市の記録にない場合。簡素化の判定に使う)",
    )
    previous_valid_to: date | None = PydanticField(
        default=None, description="現在の認定有効期間の終了日 (更新・区分変更)"
    )
    renewal_delay_consent: bool = PydanticField(
        default=False, description="更新申請: 延期通知の省略に同意済み (27条11項ただし書)"
    )
    office: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")] | None = PydanticField(
        default=None,
        description="担当事務所 (OFFICES のコード; 省略時は受付職員の所属事務所、なければ OFFICE_CODE)",
    )

    @model_validator(mode="after")
    def _kind_specific(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.applicant_kind.is_statutory_agent and not self.applicant_office:
            problems.append((("applicant_office",), "代行申請では事業者・施設の名称が必要です", None))
        if self.kind is not ApplicationKind.NEW and (
            self.previous_level is None or self.previous_valid_to is None
        ):
            problems.append(
                (("previous_valid_to",), "更新・区分変更では現在の区分と有効期間の終了日が必要です", None)
            )
        if (
            self.previous_valid_from is not None
            and self.previous_valid_to is not None
            and self.previous_valid_from > self.previous_valid_to
        ):
            problems.append(
                (
                    ("previous_valid_from",),
                    "有効期間の開始日は終了日以前にしてください",
                    self.previous_valid_from,
                )
            )
        if self.renewal_delay_consent and self.kind is not ApplicationKind.RENEWAL:
            problems.append(
                (("renewal_delay_consent",), "延期通知の省略同意は更新申請でのみ指定できます", True)
            )
        raise_at("ApplicationCreate", problems)
        return self


class SecondCategoryRequirements(BaseModel):
    """What a 第2号 application must carry (checked once the insured's category is known)."""

    @staticmethod
    def problems(data: ApplicationCreate, category: InsuredCategory) -> list[tuple[str, str]]:
        if category is not InsuredCategory.SECOND:
            return []
        found: list[tuple[str, str]] = []
        if data.specified_disease is None:
            found.append(("specified_disease", "第2号被保険者の申請には特定疾病の指定が必要です (7条3項2号)"))
        if not data.medical_insurer_no or not data.medical_insurance_symbol:
            found.append(("medical_insurer_no", "第2号被保険者の申請には医療保険の情報が必要です"))
        return found


class ApplicationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    workflow_id: str
    insured_no: str
    atena_no: str
    kind: ApplicationKind
    category: InsuredCategory
    applied_on: date
    applicant_kind: ApplicantKind
    state: ApplicationState
    stage: Stage
    decision_deadline: date = PydanticField(description="決定期限 (申請日から30日、27条11項)")
    deemed_rejection_on: date | None = PydanticField(description="27条12項により却下とみなすことができる日")
    surveyor: str | None
    decision: dict[str, Any] | None
    end_reason: EndReason | None
    created_at: datetime

    @classmethod
    def of(cls, application: CertificationApplication, case: CaseRecord) -> ApplicationPublic:
        state = ApplicationState.OPEN if case.state == CaseState.OPEN else ApplicationState(case.outcome)
        return cls.model_validate({**application.model_dump(), "state": state, "stage": case.stage})


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = PydanticField(description="取下げの理由 (申請者の申出内容)")
    withdrawn_on: date = PydanticField(description="取下書の受付日")


# ------------------------------------------------------------------------------------------- policy


class CertificationPolicy(BaseModel):
    """The city's configurable offsets (not law: the law is in rules/), from CERTIFICATION_POLICY.

    Resolved when a case starts and kept in its workflow input, so each case keeps the policy it started
    under and tests can shorten it.
    """

    survey_due_days: int = PydanticField(default=14, ge=1, le=365, description="認定調査の期限 (申請日から)")
    opinion_request_due_days: int = PydanticField(
        default=3, ge=1, le=365, description="意見書依頼の期限 (申請日から)"
    )
    opinion_due_days: int = PydanticField(
        default=14, ge=1, le=365, description="意見書の提出期限 (依頼日から)"
    )
    opinion_reminder_interval_days: int = PydanticField(default=7, ge=1, le=365, description="督促の間隔")
    primary_due_days: int = PydanticField(default=3, ge=1, le=365, description="一次判定取込の期限")
    delay_check_lead_days: int = PydanticField(
        default=5, ge=0, le=29, description="30日期限の何日前に延期要否を確認するか"
    )


# ----------------------------------------------------------------------------------------- workflow


class CertificationInput(BaseModel):
    application_id: str
    insured_no: str
    atena_no: str
    kind: ApplicationKind
    category: InsuredCategory
    applied_on: date
    previous_level: CareLevel | None = None
    previous_valid_to: date | None = None
    previous_validity_months: int | None = None  # 簡素化 condition 4
    renewal_delay_consent: bool = False
    applicant_office: str | None = None  # for board recusal; an organisation, not a person
    office: str
    policy: CertificationPolicy = PydanticField(default_factory=CertificationPolicy)


class CertificationOutcome(BaseModel):
    application_id: str
    state: str  # decided / ended
    level: CareLevel | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    end_reason: str | None = None
    notice_ids: list[str] = PydanticField(default_factory=list)


class Recuse(BaseModel):
    member: str
    actor: str


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
    agenda_no: int  # the case's number on this meeting's agenda: what the board sees instead of a name
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


class CertificationPatch(BaseModel):
    """What a step changes in the application's read model; unset fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    surveyor: str | None = None
    survey: dict[str, Any] | None = None
    opinion_request: dict[str, Any] | None = None
    opinion: dict[str, Any] | None = None
    primary_result: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    deemed_rejection_on: date | None = None
    end_reason: str | None = None
    certification: CertificationRecord | None = None  # inserted once, when the board has decided
    votes: list[VoteRecord] = PydanticField(default_factory=list)  # appended to the insert-only ledger


class CertificationEventKind(StrEnum):
    RECEIVED = "received"  # an application was filed (its workflow started)
    CERTIFIED = "certified"  # decided and notified with a 区分 (not 非該当)
    CLOSED_WITHOUT_CERTIFICATION = "closed_without_certification"  # 非該当, 取下げ, death, loss of status


class CertificationEvent(BaseModel):
    """What other procedures hear from a certification case (procedures.py `on_certification_event`):
    the renewal reminders follow applications and certifications, the restriction checks arrears."""

    kind: CertificationEventKind
    case_id: str
    application_id: str
    application_kind: ApplicationKind
    atena_no: str
    insured_no: str
    category: InsuredCategory
    on: date  # the business date of the event
    certification: CertificationRecord | None = None  # for `certified`
    end_reason: str | None = None  # for `closed_without_certification` after an ending
