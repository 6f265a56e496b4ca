"""給付制限's human tasks: who does each kind and what its completion payload is, and `RESTRICTION`, the
procedure's description that procedures.py registers. Task kind names are global: these all start with
`restriction_` so they never meet another procedure's."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.case import CaseType
from models.permissions import Permission, Role
from models.procedure import ProcedureModel, TaskKindSpec
from models.restriction import STAGE_LABELS, ExplanationForm, Stage
from models.survey import Text60, bounded_text, raise_at

Summary = bounded_text(1000, multiline=True)
Reason = bounded_text(400)
Amount = Annotated[int, Field(strict=True, ge=1, le=10_000_000)]


class RestrictionTask(StrEnum):
    EXPLANATION = "restriction_explanation"  # 弁明の記録 (書面・口頭・弁明しない旨)
    EXPLANATION_REVIEW = "restriction_explanation_review"  # 弁明の審査
    SUSPENSION = "restriction_suspension"  # 67条: 一時差止の決定 (差し止める保険給付)
    OFFSET = "restriction_offset"  # 67条3項: 控除の決定 (予告)
    LIFTING_REVIEW = "restriction_lifting_review"  # 終了申請の審査
    REDUCTION = "restriction_reduction"  # 69条: 通常の負担割合の確認


class ExplanationRecord(BaseModel):
    """弁明の記録: 弁明書の受理、口頭での聞き取り、または弁明しない旨の申出."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "received_on": "2026-12-01",
                    "form": "oral",
                    "claims_special_circumstances": False,
                    "summary": "窓口で聞き取り。収入はあるが納付を失念していた。特別の事情の申出なし。",
                }
            ]
        },
    )

    received_on: date = Field(description="弁明書を受理した日・聞き取った日")
    form: ExplanationForm = Field(description="written: 弁明書, oral: 口頭, waived: 弁明しない旨の申出")
    claims_special_circumstances: bool = Field(description="災害その他の特別の事情の申出があるか")
    summary: Summary | None = Field(default=None, description="弁明の要旨 (口頭の場合は聞き取った内容)")

    @model_validator(mode="after")
    def _summary_for_an_explanation(self) -> Self:
        if self.form is not ExplanationForm.WAIVED and not self.summary:
            raise_at("ExplanationRecord", [(("summary",), "弁明の要旨を記入してください", None)])
        if self.form is ExplanationForm.WAIVED and self.claims_special_circumstances:
            message = "弁明しない旨の申出では特別の事情を申し出ることはできません"
            raise_at("ExplanationRecord", [(("claims_special_circumstances",), message, True)])
        return self


class ExplanationReview(BaseModel):
    """弁明の審査: 特別の事情を認めるか (弁明書審査結果通知書に理由を記載)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "accepted": False,
                    "reasons": ["弁明の内容からは、災害その他の特別の事情があるとは認められないため。"],
                }
            ]
        },
    )

    accepted: bool = Field(description="特別の事情を認める (true: 処分しない)")
    reasons: list[Reason] = Field(min_length=1, max_length=5, description="審査の理由 (通知書に記載)")


class WithheldItem(BaseModel):
    """差し止める (差し止めた) 保険給付: 請求データから職員が入力."""

    model_config = ConfigDict(extra="forbid")

    service_month: date = Field(description="サービス提供年月 (その月の任意の日)")
    service_name: Text60 = Field(description="サービスの種類")
    amount: Amount = Field(description="保険給付の額 (円)")


class SuspensionDecision(BaseModel):
    """67条1項: 保険給付の一時差止の決定 (差し止める給付が既にあれば入力)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"withheld": [{"service_month": "2026-10-01", "service_name": "訪問介護", "amount": 48200}]}
            ]
        },
    )

    withheld: list[WithheldItem] = Field(default_factory=list, max_length=60)


class OffsetPremiumItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fiscal_year: int = Field(ge=2000, le=2100)
    period: int = Field(ge=1, le=12)
    amount: Amount


class OffsetPlan(BaseModel):
    """67条3項: 差し止めた保険給付から滞納保険料を控除する (控除日より前に通知)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "offset_on": "2027-01-15",
                    "withheld": [
                        {"service_month": "2026-10-01", "service_name": "訪問介護", "amount": 48200}
                    ],
                    "premiums": [{"fiscal_year": 2025, "period": 3, "amount": 6200}],
                }
            ]
        },
    )

    offset_on: date = Field(description="控除を行う日")
    withheld: list[WithheldItem] = Field(min_length=1, max_length=60, description="差し止めている保険給付")
    premiums: list[OffsetPremiumItem] = Field(min_length=1, max_length=60, description="控除する保険料")

    @model_validator(mode="after")
    def _within_withheld(self) -> Self:
        keys = [(p.fiscal_year, p.period) for p in self.premiums]
        if len(set(keys)) != len(keys):
            raise_at("OffsetPlan", [(("premiums",), "同じ年度・期別が2回指定されています", None)])
        if sum(p.amount for p in self.premiums) > sum(w.amount for w in self.withheld):
            message = "控除する保険料の合計が差し止めている保険給付の額を超えています (67条3項)"
            raise_at("OffsetPlan", [(("premiums",), message, None)])
        return self


class LiftingReview(BaseModel):
    """終了申請の審査: 滞納額の著しい減少・特別の事情を認めるか."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"approved": True, "reasons": ["火災による住宅の全焼 (罹災証明書) を確認した。"]}]
        },
    )

    approved: bool = Field(description="認める (true: 解除)")
    reasons: list[Reason] = Field(min_length=1, max_length=5, description="審査の理由")


class ReductionReview(BaseModel):
    """69条: 給付額減額の記載の前に、通常の利用者負担割合を確認する."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"usual_copay_percent": 10}]})

    usual_copay_percent: int = Field(
        ge=10,
        le=30,
        multiple_of=10,
        description="通常の利用者負担割合 (%): 10・20・30。3割の者は給付率6割、それ以外は7割になります",
    )


P = Permission.RESTRICTION_MANAGE
RESTRICTION_TASKS: dict[str, TaskKindSpec] = {
    RestrictionTask.EXPLANATION: TaskKindSpec("弁明の記録", P, ExplanationRecord),
    RestrictionTask.EXPLANATION_REVIEW: TaskKindSpec("弁明の審査", P, ExplanationReview),
    RestrictionTask.SUSPENSION: TaskKindSpec("保険給付の一時差止の決定 (67条)", P, SuspensionDecision),
    RestrictionTask.OFFSET: TaskKindSpec("滞納保険料の控除の決定 (67条3項)", P, OffsetPlan),
    RestrictionTask.LIFTING_REVIEW: TaskKindSpec("給付制限の終了申請の審査", P, LiftingReview),
    RestrictionTask.REDUCTION: TaskKindSpec("給付額減額の記載 (69条): 負担割合の確認", P, ReductionReview),
}

RESTRICTION = ProcedureModel(
    case_type=CaseType.RESTRICTION,
    label="給付制限",
    desk_role=Role.RESTRICTION,
    task_kinds=RESTRICTION_TASKS,
    stages={stage.value: label for stage, label in STAGE_LABELS.items()},
    exclusive_per_insured=True,  # one open 66・67条 or 68条 case per insured person
    open_stage=Stage.INTAKE,
)
