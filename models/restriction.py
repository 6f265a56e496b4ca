"""給付制限 (介護保険法66–69条): everything the restriction procedure is made of, as data.

- tables: the premium ledger it needs (調定 per 年度 × 期別, 収納 by receipt number), the procedure's own read
  model beside its `case_record` row, and the 69条 reduction recorded on a certification;
- the API's shapes (ledger, payment posting, starting a case, a person's current restrictions);
- the city's policy (offsets), the workflow's input, its messages and its read-model patch.
Its task kinds and the procedure's description are in models/restriction_tasks.py.

Everything that goes into a workflow (input, messages, activity results) holds keys and amounts only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic import Field as PydanticField
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.common import utcnow
from models.procedure import RegistryEnd
from models.registry import InsuredNo
from models.survey import Text60, Text100, bounded_text, raise_at

Reason = bounded_text(200)
FiscalYear = Annotated[int, PydanticField(ge=2000, le=2100, description="年度 (賦課年度)")]
Period = Annotated[int, PydanticField(ge=1, le=12, description="期別")]
Yen = Annotated[int, PydanticField(strict=True, ge=1, le=10_000_000, description="金額 (円)")]
ReceiptNo = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z-]{0,31}$"),
    PydanticField(description="領収番号 (収納システムの一意な番号; 英数字とハイフン32文字以内)"),
]
# Dates a client sends: nothing before the Heisei-era ledgers, nothing in the far future (typos as 2206).
EARLIEST_LEDGER_DATE = date(2000, 4, 1)


class RestrictionKind(StrEnum):
    DELINQUENCY = "delinquency"  # 66・67条: 第1号, 保険料の滞納
    CATEGORY2 = "category2"  # 68条: 第2号, 医療保険料の未納 (医療保険者の差止依頼)
    REDUCTION = "reduction"  # 69条: 時効消滅した期間に応じた給付額減額 (認定のたび)


class Trigger(StrEnum):
    SCAN = "scan"  # the daily scan of certified 第1号 persons
    APPLICATION = "application"  # a certification application of a person in arrears
    CERTIFIED = "certified"  # a certification (69条)
    STAFF = "staff"  # opened by 給付制限担当 (66条2項 etc.)
    INSURER = "insurer"  # 68条: the medical insurer's 差止依頼


class Stage(StrEnum):
    """Where a restriction case is; CaseStage in the Temporal UI and on the case page."""

    INTAKE = "intake"
    EXPLANATION = "explanation"  # 予告済み: 弁明の機会
    REVIEW = "review"  # 弁明の審査
    RESTRICTED = "restricted"  # 支払方法変更 (償還払い) 中
    SUSPENSION_DUE = "suspension_due"  # 1年6か月: 一時差止の決定待ち
    SUSPENDED = "suspended"  # 一時差止中 (67条) / 差止中 (68条)
    OFFSET_NOTIFIED = "offset_notified"  # 控除を予告済み (67条3項)
    REDUCTION_REVIEW = "reduction_review"  # 69条: 負担割合の確認
    LIFTED = "lifted"  # 解除 (消除)
    NOT_RESTRICTED = "not_restricted"  # 処分なしで終了 (弁明が認められた・処分前に納付)
    RECORDED = "recorded"  # 69条: 減額を記載した
    ENDED = "ended"  # 死亡・資格喪失など


STAGE_LABELS: dict[Stage, str] = {
    Stage.INTAKE: "受付",
    Stage.EXPLANATION: "予告済み・弁明期間",
    Stage.REVIEW: "弁明の審査",
    Stage.RESTRICTED: "支払方法変更 (償還払い)",
    Stage.SUSPENSION_DUE: "一時差止の決定待ち",
    Stage.SUSPENDED: "保険給付の一時差止",
    Stage.OFFSET_NOTIFIED: "滞納保険料の控除予告済み",
    Stage.REDUCTION_REVIEW: "給付額減額: 負担割合の確認",
    Stage.LIFTED: "解除",
    Stage.NOT_RESTRICTED: "終了 (処分なし)",
    Stage.RECORDED: "給付額減額を記載",
    Stage.ENDED: "終了 (死亡・資格喪失など)",
}


class Outcome(StrEnum):
    """case_record.outcome of a closed restriction case."""

    LIFTED = "lifted"  # 解除 (完納・著しい減少・特別の事情・医療保険者の通知)
    EXPLANATION_ACCEPTED = "explanation_accepted"  # 弁明で特別の事情が認められた
    PAID_BEFORE_MEASURE = "paid_before_measure"  # 処分の前に納付され、要件を満たさなくなった
    NOT_APPLICABLE = "not_applicable"  # 開始時に要件を満たしていなかった
    REDUCTION_RECORDED = "reduction_recorded"  # 69条の減額を記載した
    ENDED = "ended"  # 死亡・資格喪失・誤って開始


class LiftReason(StrEnum):
    PAID_IN_FULL = "paid_in_full"  # 完納
    MARKED_REDUCTION = "marked_reduction"  # 滞納額の著しい減少
    SPECIAL_CIRCUMSTANCES = "special_circumstances"  # 災害その他の特別の事情
    INSURER_NOTICE = "insurer_notice"  # 68条: 医療保険者から未納解消の通知


class EndReason(StrEnum):
    DEATH = RegistryEnd.DEATH.value  # 死亡
    LOST_STATUS = RegistryEnd.LOST_STATUS.value  # 被保険者資格の喪失 (転出など)
    OPENED_IN_ERROR = "opened_in_error"  # 誤って開始したケースの取消し


class ExplanationForm(StrEnum):
    WRITTEN = "written"  # 弁明書の提出
    ORAL = "oral"  # 口頭 (職員が聞き取り)
    WAIVED = "waived"  # 弁明しない旨の申出


class Measure(StrEnum):
    """A restriction as the person's 被保険者証 carries it."""

    PAYMENT_METHOD_CHANGE = "payment_method_change"  # 66条 支払方法変更 (償還払い)
    BENEFIT_SUSPENSION = "benefit_suspension"  # 67条 保険給付の一時差止
    CATEGORY2_SUSPENSION = "category2_suspension"  # 68条 保険給付の差止 (第2号)
    BENEFIT_REDUCTION = "benefit_reduction"  # 69条 給付額減額

    @property
    def label(self) -> str:
        return MEASURE_LABELS[self]


MEASURE_LABELS = {
    Measure.PAYMENT_METHOD_CHANGE: "支払方法変更 (償還払い) — 66条",
    Measure.BENEFIT_SUSPENSION: "保険給付の一時差止 — 67条",
    Measure.CATEGORY2_SUSPENSION: "保険給付の差止 (第2号) — 68条",
    Measure.BENEFIT_REDUCTION: "給付額減額 — 69条",
}


# ------------------------------------------------------------------------------------------ tables


class PremiumAssessment(SQLModel, table=True):
    """調定: one 期別 of one 年度's premium of an insured person, with its 納期限."""

    __tablename__ = "premium_assessment"
    __table_args__ = (
        sa.UniqueConstraint("insured_no", "fiscal_year", "period", name="uq_premium_assessment_period"),
        sa.CheckConstraint("amount > 0", name="assessment_positive"),
        sa.CheckConstraint("period BETWEEN 1 AND 12", name="assessment_period"),
        sa.Index("ix_premium_assessment_due", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    insured_no: str = Field(
        sa_column=sa.Column(
            sa.String(10), sa.ForeignKey("insured.insured_no", ondelete="CASCADE"), nullable=False
        )
    )
    atena_no: str = Field(max_length=15, index=True)
    fiscal_year: int
    period: int
    due_on: date
    amount: int
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class PremiumPayment(SQLModel, table=True):
    """収納: one payment against one 期別, posted once per receipt number (収納システムの領収番号)."""

    __tablename__ = "premium_payment"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="payment_positive"),
        sa.Index("ix_premium_payment_assessment", "assessment_id"),
        sa.Index("ix_premium_payment_insured", "insured_no", "posted_at"),
    )

    receipt_no: str = Field(primary_key=True, max_length=32)
    assessment_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("premium_assessment.id", ondelete="CASCADE"), nullable=False
        )
    )
    insured_no: str = Field(max_length=10)
    amount: int
    paid_on: date
    source: str = Field(max_length=8)  # api / csv / offset (67条3項の控除)
    import_id: str | None = Field(default=None, max_length=32)  # the 消込 file it came in
    posted_by: str = Field(max_length=32)
    posted_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class RestrictionCase(SQLModel, table=True):
    """A restriction case's own read model (its header is the `case_record` row with the same id)."""

    __tablename__ = "restriction_case"
    __table_args__ = (sa.Index("ix_restriction_case_insured", "insured_no", "kind"),)

    case_id: str = Field(
        sa_column=sa.Column(
            sa.String(64), sa.ForeignKey("case_record.id", ondelete="CASCADE"), primary_key=True
        )
    )
    kind: str = Field(max_length=16)
    insured_no: str = Field(max_length=10)
    atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    trigger: str = Field(max_length=16)
    opened_on: date
    # 予告と弁明の機会 (行政手続法13条・30条)
    advance_notice_on: date | None = None
    explanation_due: date | None = None
    explanation_received_on: date | None = None
    explanation_form: str | None = Field(default=None, max_length=8)
    explanation_accepted: bool | None = None
    # 66条
    payment_method_change_from: date | None = None  # 適用開始日
    certificate_submit_by: date | None = None  # 被保険者証の提出期限
    # 67条 (一時差止・控除) and 68条 (差止)
    suspension_from: date | None = None
    withheld_total: int | None = None
    offset_on: date | None = None
    offset_total: int | None = None
    # 68条
    medical_insurer: str | None = Field(default=None, max_length=60)
    insurer_request_on: date | None = None
    insurer_notice_on: date | None = None
    # 終了申請・解除
    lifting_applied_on: date | None = None
    lifted_on: date | None = None
    lift_reason: str | None = Field(default=None, max_length=24)
    # the arrears as last checked (年度 × 期別), and when
    arrears: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(JSONB, nullable=False))
    arrears_total: int = 0
    arrears_checked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    end_reason: str | None = Field(default=None, max_length=16)
    closed_on: date | None = None  # the business date the case closed (the quiet period counts from it)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class BenefitReduction(SQLModel, table=True):
    """69条: the 給付額減額 recorded on a certification (証記載), keyed by the certification."""

    __tablename__ = "benefit_reduction"
    __table_args__ = (sa.Index("ix_benefit_reduction_insured", "insured_no", "reduction_to"),)

    certification_id: str = Field(
        sa_column=sa.Column(
            sa.String(32), sa.ForeignKey("certification.id", ondelete="CASCADE"), primary_key=True
        )
    )
    case_id: str = Field(max_length=64, unique=True)
    insured_no: str = Field(max_length=10)
    atena_no: str = Field(
        sa_column=sa.Column(
            sa.String(15), sa.ForeignKey("person.atena_no", ondelete="CASCADE"), nullable=False
        )
    )
    certified_on: date  # 基準日 (認定日)
    lookback_from: date
    lookback_to: date
    barred_years: Decimal = Field(sa_type=sa.Numeric(6, 4))  # X, as printed
    paid_years: Decimal = Field(sa_type=sa.Numeric(6, 4))  # Y, as printed
    months: int
    benefit_rate: int  # 70 or 60 (給付率 %)
    reduction_from: date
    reduction_to: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


# ----------------------------------------------------------------------------------------- policy


class RestrictionPolicy(BaseModel):
    """The city's configurable offsets (the law is in rules/restriction.py), from RESTRICTION_POLICY.

    Resolved when a case starts and kept in its workflow input: each case keeps the policy it started under.
    """

    payment_method_change_months: int = PydanticField(
        default=12, ge=1, le=60, description="支払方法変更の要件: 納期限からの月数 (66条: 1年)"
    )
    suspension_months: int = PydanticField(
        default=18, ge=2, le=72, description="一時差止の要件: 納期限からの月数 (67条: 1年6か月)"
    )
    explanation_days: int = PydanticField(
        default=30, ge=1, le=90, description="弁明書の提出期限: 予告通知の日から (閉庁日は翌開庁日)"
    )
    review_due_days: int = PydanticField(default=7, ge=1, le=60, description="弁明の審査の期限")
    certificate_submit_days: int = PydanticField(
        default=14, ge=1, le=60, description="被保険者証の提出期限: 通知の日から (閉庁日は翌開庁日)"
    )
    offset_review_days: int = PydanticField(
        default=30, ge=1, le=365, description="一時差止の後、控除を検討するタスクの期限"
    )
    offset_notice_days: int = PydanticField(
        default=14, ge=1, le=90, description="控除の予告から控除日までの最短日数 (67条3項: あらかじめ通知)"
    )
    reopen_after_days: int = PydanticField(
        default=180, ge=0, le=3650, description="処分なしで終わったケースの後、同じ滞納で再び開始しない日数"
    )
    scan_cron: str = PydanticField(
        default="0 6 * * *",
        pattern=r"^[0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+ [0-9*,/-]+$",
        description="日次の滞納確認 (Temporal Schedule) の時刻 (cron, Asia/Tokyo)",
    )

    @model_validator(mode="after")
    def _suspension_after_change(self) -> Self:
        if self.suspension_months <= self.payment_method_change_months:
            raise ValueError("suspension_months は payment_method_change_months より長くしてください")
        return self


# --------------------------------------------------------------------------------------- workflow


class ArrearsLine(BaseModel):
    """One unpaid 期別 (滞納) as the workflow and the notices see it."""

    fiscal_year: int
    period: int
    due_on: date
    assessed: int
    unpaid: int

    def notice_row(self) -> dict[str, Any]:
        return {
            "fiscal_year": self.fiscal_year,
            "period": self.period,
            "due_date": self.due_on,
            "assessed": self.assessed,
            "unpaid": self.unpaid,
            "late_fee": 0,  # 延滞金 is the collection system's; not in this ledger
        }


class ArrearsSnapshot(BaseModel):
    """The person's collectible arrears on `as_of` (activity result; amounts only)."""

    as_of: date
    lines: list[ArrearsLine] = PydanticField(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.unpaid for line in self.lines)


class ArrearsQuery(BaseModel):
    case_id: str
    insured_no: str
    as_of: date


class ReductionFacts(BaseModel):
    """69条: the figures of the reduction for one certification (activity result)."""

    certified_on: date
    lookback_from: date
    lookback_to: date
    barred_years: Decimal  # X rounded to 4 places, as printed
    paid_years: Decimal  # Y
    formula_value: Decimal  # X² ÷ (X + Y) × ½ × 12, truncated to 2 places
    months: int


class ReductionQuery(BaseModel):
    insured_no: str
    certified_on: date


class ResumeState(BaseModel):
    """What a long-lived case carries into its next run (continue-as-new)."""

    stage: Stage
    advance_notice_on: date | None = None
    payment_method_change_from: date | None = None
    suspension_from: date | None = None
    notice_seq: int = 0
    offsets: int = 0
    withheld_total: int = 0
    offset_posted: int = 0


class RestrictionInput(BaseModel):
    case_id: str
    kind: RestrictionKind
    insured_no: str
    atena_no: str
    office: str
    opened_on: date
    trigger: Trigger
    policy: RestrictionPolicy = PydanticField(default_factory=RestrictionPolicy)
    # 68条: the medical insurer's request and the unpaid medical premiums it lists
    medical_insurer: str | None = None
    insurer_request_on: date | None = None
    insurer_arrears: list[ArrearsLine] = PydanticField(default_factory=list)
    # 69条: the certification that triggers the reduction
    certification_id: str | None = None
    certified_on: date | None = None
    resume: ResumeState | None = None


class RestrictionOutcome(BaseModel):
    case_id: str
    kind: RestrictionKind
    outcome: str
    lift_reason: str | None = None
    end_reason: str | None = None
    notice_ids: list[str] = PydanticField(default_factory=list)


class LedgerChanged(BaseModel):
    """Signal: the premium ledger changed (a payment, a 消込 file, a 控除, the daily reconciliation)."""

    source: Literal["payment", "import", "offset", "reconcile"]


class LiftingApplication(BaseModel):
    """終了申請 (66条3項・68条2項): 滞納額の著しい減少 or 特別の事情; reviewed by staff."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "special_circumstances",
                    "received_on": "2026-12-01",
                    "note": "火災により住宅が全焼したため (罹災証明書あり)",
                }
            ]
        },
    )

    reason: Literal["marked_reduction", "special_circumstances"] = PydanticField(
        description="marked_reduction: 滞納額の著しい減少, special_circumstances: 災害その他の特別の事情"
    )
    received_on: date = PydanticField(description="申請を受け付けた日")
    note: Reason = PydanticField(description="申請の内容 (事情と添付書類)")


class LiftingRequest(LiftingApplication):
    actor: str


class LiftingAccepted(BaseModel):
    task_id: str = PydanticField(description="終了申請の審査タスク")


class InsurerNotice(BaseModel):
    """68条: the medical insurer reports that the unpaid medical premiums are paid (or markedly reduced)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"received_on": "2026-12-01", "note": "未納保険料(税)の完納の通知"}]},
    )

    received_on: date = PydanticField(description="医療保険者からの通知を受けた日")
    note: Reason | None = PydanticField(default=None, description="通知の内容")


class InsurerNoticeRequest(InsurerNotice):
    actor: str


class OffsetPosting(BaseModel):
    """67条3項: post the deducted premiums as payments (activity input; idempotent by receipt)."""

    case_id: str
    insured_no: str
    offset_on: date
    sequence: int
    premiums: list[dict[str, int]]  # fiscal_year, period, amount


class ScanInput(BaseModel):
    """The daily arrears scan: what the cases it opens start with (from the worker's settings)."""

    office: str
    task_queue: str
    policy: RestrictionPolicy = PydanticField(default_factory=RestrictionPolicy)
    as_of: date | None = None  # default: the business date the scan runs on


class ScanPage(BaseModel):
    scan: ScanInput
    as_of: date
    after_insured_no: str = ""
    limit: int = 200


class ScanPageResult(BaseModel):
    checked: int
    opened: list[str] = PydanticField(default_factory=list)
    last_insured_no: str | None = None
    nudged: int = 0


class ScanResult(BaseModel):
    as_of: date
    checked: int
    opened: list[str]
    nudged: int


class RestrictionPatch(BaseModel):
    """What a step changes in the restriction read model; unset fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    advance_notice_on: date | None = None
    explanation_due: date | None = None
    explanation_received_on: date | None = None
    explanation_form: str | None = None
    explanation_accepted: bool | None = None
    payment_method_change_from: date | None = None
    certificate_submit_by: date | None = None
    suspension_from: date | None = None
    withheld_total: int | None = None
    offset_on: date | None = None
    offset_total: int | None = None
    insurer_notice_on: date | None = None
    lifting_applied_on: date | None = None
    lifted_on: date | None = None
    lift_reason: str | None = None
    arrears: list[ArrearsLine] | None = None
    arrears_total: int | None = None
    arrears_checked: bool | None = None  # set arrears_checked_at to the time of the write
    end_reason: str | None = None
    closed_on: date | None = None
    reduction: BenefitReductionIn | None = None  # 69条: inserted once


class BenefitReductionIn(BaseModel):
    certification_id: str
    insured_no: str
    atena_no: str
    certified_on: date
    lookback_from: date
    lookback_to: date
    barred_years: Decimal
    paid_years: Decimal
    months: int
    benefit_rate: int
    reduction_from: date
    reduction_to: date


RestrictionPatch.model_rebuild()


# --------------------------------------------------------------------------------------------- API in


def _not_future(field: str, day: date, today: date, what: str) -> tuple[tuple[str], str, date] | None:
    if day > today:
        return ((field,), f"{what}に未来の日付は指定できません", day)
    if day < EARLIEST_LEDGER_DATE:
        return ((field,), f"{what}が古すぎます ({EARLIEST_LEDGER_DATE} 以降)", day)
    return None


class AssessmentIn(BaseModel):
    """調定: 年度・期別・納期限・金額."""

    model_config = ConfigDict(extra="forbid")

    insured_no: InsuredNo = PydanticField(description="被保険者番号")
    fiscal_year: FiscalYear
    period: Period
    due_on: date = PydanticField(description="納期限")
    amount: Yen = PydanticField(description="調定額 (円)")

    @model_validator(mode="after")
    def _due_in_its_year(self) -> Self:
        # A 納期限 lies in its 年度 or shortly after it (随時 期別 run into the next May at the latest).
        earliest, latest = date(self.fiscal_year, 4, 1), date(self.fiscal_year + 1, 5, 31)
        if not earliest <= self.due_on <= latest:
            message = f"{self.fiscal_year}年度の納期限は {earliest} から {latest} までの日にしてください"
            raise_at("AssessmentIn", [(("due_on",), message, self.due_on)])
        return self


class AssessmentBatch(BaseModel):
    """調定の登録 (一括; すべて登録されるか、何も登録されないか)."""

    model_config = ConfigDict(extra="forbid")

    assessments: list[AssessmentIn] = PydanticField(min_length=1, max_length=500)


class AssessmentsPosted(BaseModel):
    created: int = PydanticField(description="新たに登録した件数")
    unchanged: int = PydanticField(description="同じ内容で登録済みだった件数")


class PaymentIn(BaseModel):
    """納付 (消込): 領収番号ごとに1回だけ記録されます."""

    model_config = ConfigDict(extra="forbid")

    receipt_no: ReceiptNo
    insured_no: InsuredNo = PydanticField(description="被保険者番号")
    fiscal_year: FiscalYear
    period: Period
    amount: Yen = PydanticField(description="納付額 (円)")
    paid_on: date = PydanticField(description="納付日 (領収日)")

    def problems(self, today: date) -> list[tuple[tuple[str], str, date]]:
        found = _not_future("paid_on", self.paid_on, today, "納付日")
        return [found] if found else []


class PaymentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    receipt_no: str
    insured_no: str
    fiscal_year: int
    period: int
    amount: int
    paid_on: date
    source: str = PydanticField(description="api / csv / offset (控除)")
    posted_by: str
    posted_at: datetime
    case_notified: str | None = PydanticField(
        default=None, description="納付を知らせた給付制限ケースのID (あれば)"
    )


class PaymentImported(BaseModel):
    import_id: str = PydanticField(description="取込ID (操作記録と納付に残ります)")
    rows: int = PydanticField(description="ファイルの明細行数")
    posted: int = PydanticField(description="新たに記録した納付")
    already_posted: int = PydanticField(description="同じ内容で記録済みだった納付 (再取込)")
    cases_notified: list[str] = PydanticField(description="納付を知らせた給付制限ケース")


class InstalmentPublic(BaseModel):
    fiscal_year: int
    period: int
    due_on: date = PydanticField(description="納期限")
    assessed: int = PydanticField(description="調定額")
    paid: int = PydanticField(description="収入済額")
    unpaid: int = PydanticField(description="未納額")
    status: Literal["paid", "not_due", "unpaid", "time_barred"] = PydanticField(
        description="paid: 完納, not_due: 納期限前, unpaid: 滞納, time_barred: 時効により徴収権消滅 (200条)"
    )
    months_past_due: int = PydanticField(description="納期限から経過した月数 (未納のもの)")
    prescription_completes_on: date = PydanticField(description="時効の完成日 (この日まで徴収できる)")


class YearArrears(BaseModel):
    fiscal_year: int
    unpaid: int


class LedgerPublic(BaseModel):
    insured_no: str
    as_of: date
    instalments: list[InstalmentPublic]
    arrears_total: int = PydanticField(description="滞納額 (時効消滅分を除く)")
    arrears_by_year: list[YearArrears]
    oldest_unpaid_due: date | None = PydanticField(description="最も古い滞納の納期限")
    months_in_arrears: int = PydanticField(description="最も古い滞納の納期限から経過した月数")
    time_barred_total: int = PydanticField(description="時効により徴収権が消滅した額 (69条)")


class RestrictionStart(BaseModel):
    """給付制限の開始: 66条 (第1号の滞納; 要件を確認) or 68条 (第2号; 医療保険者の差止依頼を記録)."""

    model_config = ConfigDict(extra="forbid")

    insured_no: InsuredNo = PydanticField(description="被保険者番号")
    kind: Literal["delinquency", "category2"] = PydanticField(
        description="delinquency: 66条 (保険料滞納), category2: 68条 (第2号・医療保険者の差止依頼)"
    )
    medical_insurer: Text60 | None = PydanticField(default=None, description="68条: 医療保険者名")
    request_received_on: date | None = PydanticField(default=None, description="68条: 差止依頼書の受理日")
    insurer_arrears: list[InsurerArrearsIn] = PydanticField(
        default_factory=list, max_length=60, description="68条: 差止依頼にある未納の医療保険料 (年度 × 期別)"
    )

    @model_validator(mode="after")
    def _category2_fields(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        if self.kind == "category2":
            if not self.medical_insurer:
                problems.append((("medical_insurer",), "68条の差止には医療保険者名が必要です", None))
            if self.request_received_on is None:
                problems.append((("request_received_on",), "差止依頼書の受理日を指定してください", None))
            if not self.insurer_arrears:
                problems.append((("insurer_arrears",), "未納の医療保険料を1件以上指定してください", None))
        elif self.medical_insurer or self.request_received_on or self.insurer_arrears:
            problems.append((("kind",), "医療保険者の差止依頼は category2 (68条) で記録してください", None))
        raise_at("RestrictionStart", problems)
        return self


class InsurerArrearsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: FiscalYear
    period: Period
    due_on: date = PydanticField(description="納期限")
    assessed: Yen = PydanticField(description="保険料(税)額")
    unpaid: Yen = PydanticField(description="未納額")

    @model_validator(mode="after")
    def _unpaid_within(self) -> Self:
        if self.unpaid > self.assessed:
            raise_at("InsurerArrearsIn", [(("unpaid",), "未納額が保険料(税)額を超えています", self.unpaid)])
        return self


RestrictionStart.model_rebuild()


class StartedCase(BaseModel):
    case_id: str
    kind: RestrictionKind
    insured_no: str
    stage: str


class RestrictionPublic(BaseModel):
    """One restriction of a person: what it is, from when to when, and where it stands."""

    measure: Measure
    label: str
    status: Literal["planned", "active", "ended"] = PydanticField(
        description="planned: 予告済み (処分前), active: 適用中, ended: 解除・期間満了"
    )
    valid_from: date | None = PydanticField(description="適用開始日")
    valid_to: date | None = PydanticField(
        description="適用終了日 (解除日の前日・減額期間の末日; 適用開始前に解除されたときは null)"
    )
    lifted_on: date | None = PydanticField(default=None, description="解除日")
    case_id: str
    certification_id: str | None = PydanticField(default=None, description="69条: 記載した認定")
    benefit_rate: int | None = PydanticField(default=None, description="69条: 給付率 (%)")


class PersonRestrictions(BaseModel):
    insured_no: str
    as_of: date
    items: list[RestrictionPublic]


class RestrictionRecord(BaseModel):
    """The case page's record of a restriction case (GET /cases/{case_id})."""

    model_config = ConfigDict(from_attributes=True)

    case_id: str
    kind: RestrictionKind
    insured_no: str
    trigger: str
    opened_on: date
    advance_notice_on: date | None
    explanation_due: date | None
    explanation_received_on: date | None
    explanation_form: str | None
    explanation_accepted: bool | None
    payment_method_change_from: date | None
    certificate_submit_by: date | None
    suspension_from: date | None
    withheld_total: int | None
    offset_on: date | None
    offset_total: int | None
    medical_insurer: str | None
    insurer_request_on: date | None
    insurer_notice_on: date | None
    lifting_applied_on: date | None
    lifted_on: date | None
    lift_reason: str | None
    arrears: list[dict[str, Any]]
    arrears_total: int
    arrears_checked_at: datetime | None
    end_reason: str | None
    closed_on: date | None
    reduction: dict[str, Any] | None = None


class ScanRequest(BaseModel):
    """日次の滞納確認を今すぐ実行する (Schedule と同じ処理)."""

    model_config = ConfigDict(extra="forbid")

    note: Text100 | None = PydanticField(default=None, description="実行の理由 (操作記録に残ります)")
