"""Data of the 給付制限 notices for unpaid premiums (介護保険法66–69条; 行政手続法13条・14条・29–31条)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from notices.models.common import (
    ArrearsRow,
    Day,
    FiscalYear,
    LongText,
    NoticeData,
    NoticeModel,
    Text,
    WithheldBenefit,
    Yen,
    arrears_totals,
)
from rules.calendar import add_months, month_end


class _WithArrears(NoticeData):
    arrears: list[ArrearsRow] = Field(min_length=1)
    arrears_as_of: Day  # 滞納状況の基準日 (…現在)

    @property
    def totals(self) -> dict[str, int]:
        return arrears_totals(self.arrears)


class _AdvanceNotice(_WithArrears):
    """弁明の機会の付与の通知 (行政手続法30条): the measure and its basis, the facts, where and by when."""

    explanation_due: Day  # 弁明書の提出期限

    @model_validator(mode="after")
    def _due_after_issue(self) -> _AdvanceNotice:
        # 行政手続法30条: "提出期限までに相当な期間をおいて"; the days themselves are policy (default 30).
        if self.explanation_due <= self.issue_date:
            raise ValueError("弁明書の提出期限は発行日より後の日にしてください")
        return self


class PaymentMethodChangeAdvance(_AdvanceNotice):
    """支払方法変更（償還払い）予告通知書 and, as its second page, the 弁明書 form (66条1項)."""


class RestrictionMeasure(StrEnum):
    PAYMENT_METHOD_CHANGE = "payment_method_change"  # 66条
    CATEGORY2_SUSPENSION = "category2_suspension"  # 68条

    @property
    def label(self) -> str:
        if self is RestrictionMeasure.PAYMENT_METHOD_CHANGE:
            return "保険給付の支払方法の変更（償還払い）"
        return "保険給付の一時差止"

    @property
    def notice_title(self) -> str:
        if self is RestrictionMeasure.PAYMENT_METHOD_CHANGE:
            return "支払方法変更（償還払い）通知書"
        return "保険給付差止通知書（第2号被保険者）"


class ExplanationReviewResult(NoticeData):
    """弁明書審査結果通知書: whether the 弁明 showed a 特別の事情.

    The measure itself, if taken, is a separate 処分 notice; this one is not appealable and has no 教示.
    """

    measure: RestrictionMeasure
    advance_notice_date: Day  # the 予告通知書 this answers
    explanation_received_on: Day
    accepted: bool
    reasons: list[LongText] = Field(min_length=1)


class PaymentMethodChange(_WithArrears):
    """支払方法変更（償還払い）通知書 (66条1項): the 証 is marked; services are paid in full and refunded."""

    effective_from: Day  # 適用開始日
    certificate_submit_by: Day  # 被保険者証の提出期限

    @model_validator(mode="after")
    def _dates(self) -> PaymentMethodChange:
        if self.certificate_submit_by < self.issue_date:
            raise ValueError("被保険者証の提出期限が発行日より前です")
        return self


class BenefitSuspension(_WithArrears):
    """保険給付支払一時差止通知書 (67条1項): refunds under 償還払い are held back while arrears remain."""

    effective_from: Day
    withheld: list[WithheldBenefit] = Field(default_factory=list)  # already held back, if any

    @property
    def withheld_total(self) -> int:
        return sum(w.amount for w in self.withheld)


class OffsetPremium(NoticeModel):
    fiscal_year: FiscalYear
    period: int = Field(ge=1, le=12)
    amount: Yen


class PremiumOffset(NoticeData):
    """滞納保険料控除通知書: the advance notice 67条3項 requires before arrears are deducted."""

    offset_on: Day  # 控除を行う日
    withheld: list[WithheldBenefit] = Field(min_length=1)
    premiums: list[OffsetPremium] = Field(min_length=1)

    @property
    def withheld_total(self) -> int:
        return sum(w.amount for w in self.withheld)

    @property
    def premium_total(self) -> int:
        return sum(p.amount for p in self.premiums)

    @property
    def payable(self) -> int:
        return self.withheld_total - self.premium_total

    @model_validator(mode="after")
    def _consistent(self) -> PremiumOffset:
        # 67条3項 deducts from the withheld benefits only; more than that cannot be offset.
        if self.premium_total > self.withheld_total:
            raise ValueError("控除する保険料額が差し止めている保険給付の額を超えています")
        if self.offset_on <= self.issue_date:
            raise ValueError("控除日は発行日より後の日にしてください（あらかじめ通知する: 67条3項）")
        return self


Years = Annotated[Decimal, Field(ge=0, le=10, max_digits=6, decimal_places=4)]


class BenefitReduction(NoticeData):
    """給付額減額通知書 (69条): 給付率 lowered and 高額介護サービス費等 not paid for a number of months.

    The notice prints the arithmetic X² ÷ (X + Y) × 1/2 × 12. The figures come from the rule
    (rules.restriction.reduction_period), computed exactly from yen amounts: the notice prints X and Y rounded
    and the formula's value truncated to two decimals, and never recomputes the months from those rounded
    figures (1 ÷ 3 × 6 is 2 months, which rounded ratios would truncate to 1).
    """

    certification_date: Day  # the 認定 that triggers the reduction (基準日)
    lookback_from: Day  # 算定の対象期間
    lookback_to: Day
    barred_years: Years  # X 徴収権消滅期間 (as printed)
    paid_years: Years  # Y 納付済期間 (as printed)
    formula_value: Annotated[Decimal, Field(ge=1, le=60, decimal_places=2)]  # the rule's value, truncated
    reduction_months: int = Field(ge=1, le=60)
    reduction_from: Day  # first day of the month after the 記載 (69条3項)
    reduction_to: Day
    benefit_rate: Literal[70, 60]  # 7割 (3割負担), or 6割 for those whose normal share is 3割

    @property
    def copay_percent(self) -> int:
        return 100 - self.benefit_rate

    @model_validator(mode="after")
    def _consistent(self) -> BenefitReduction:
        if self.barred_years <= 0:
            raise ValueError("徴収権消滅期間がないため給付額減額の対象になりません")
        expected = int(self.formula_value)  # truncating to two decimals kept the whole months
        if expected != self.reduction_months:
            raise ValueError(f"給付額減額期間が算定式の結果（{expected}か月）と一致しません")
        if self.reduction_from.day != 1:
            raise ValueError("給付額減額期間は月の初日から始まります")
        year, month = add_months(
            self.reduction_from.year, self.reduction_from.month, self.reduction_months - 1
        )
        if self.reduction_to != month_end(self.reduction_from.replace(year=year, month=month)):
            raise ValueError("給付額減額期間の終了日が減額期間の月数と一致しません")
        if self.lookback_to < self.lookback_from:
            raise ValueError("算定の対象期間の終了日が開始日より前です")
        return self


class Category2SuspensionAdvance(_AdvanceNotice):
    """保険給付差止予告通知書（第2号被保険者） (68条1項): 未納医療保険料等 reported by the medical insurer."""

    medical_insurer: Text  # 医療保険者名 (e.g. 旭川市国民健康保険)


class Category2Suspension(_WithArrears):
    """保険給付差止通知書（第2号被保険者） (68条1項・4項): the 証 is marked and benefits are held back."""

    medical_insurer: Text
    effective_from: Day
    certificate_submit_by: Day

    @model_validator(mode="after")
    def _dates(self) -> Category2Suspension:
        if self.certificate_submit_by < self.issue_date:
            raise ValueError("被保険者証の提出期限が発行日より前です")
        return self


class LiftedMeasure(StrEnum):
    PAYMENT_METHOD_CHANGE = "payment_method_change"  # 66条3項: 支払方法変更の記載の消除
    BENEFIT_SUSPENSION = "benefit_suspension"  # 67条: 一時差止の解除

    @property
    def label(self) -> str:
        if self is LiftedMeasure.PAYMENT_METHOD_CHANGE:
            return "支払方法変更（償還払い）の記載の消除"
        return "保険給付の支払の一時差止の解除"


class LiftReason(StrEnum):
    PAID_IN_FULL = "paid_in_full"  # 完納
    MARKED_REDUCTION = "marked_reduction"  # 滞納額の著しい減少
    SPECIAL_CIRCUMSTANCES = "special_circumstances"  # 災害その他の特別の事情

    @property
    def label(self) -> str:
        return {
            LiftReason.PAID_IN_FULL: "滞納していた保険料が完納されたため。",
            LiftReason.MARKED_REDUCTION: "滞納している保険料の額が著しく減少したと認められるため。",
            LiftReason.SPECIAL_CIRCUMSTANCES: "災害その他の特別の事情があると認められるため。",
        }[self]


class RestrictionLifted(NoticeData):
    """給付制限解除通知書 (66条3項, 67条): the 支払方法変更 is struck off the 証 and any 一時差止 ends."""

    lifted_measures: list[LiftedMeasure] = Field(min_length=1, max_length=2)
    measure_from: Day  # 支払方法変更の適用開始日 (what is lifted)
    lifted_on: Day  # 解除日
    reason: LiftReason
    arrears_as_of: Day
    remaining_unpaid: Yen  # 滞納額 left on arrears_as_of (0 when paid in full)
    withheld_release_total: Yen = 0  # 差し止めていた保険給付: paid out now

    @model_validator(mode="after")
    def _consistent(self) -> RestrictionLifted:
        if len(set(self.lifted_measures)) != len(self.lifted_measures):
            raise ValueError("解除する処分が重複しています")
        if self.reason is LiftReason.PAID_IN_FULL and self.remaining_unpaid:
            raise ValueError("完納による解除では滞納額は0円です")
        suspended = LiftedMeasure.BENEFIT_SUSPENSION in self.lifted_measures
        if self.withheld_release_total and not suspended:
            raise ValueError("一時差止をしていない場合、支払う差止額はありません")
        return self


class Category2SuspensionLifted(NoticeData):
    """保険給付差止解除通知書（第2号被保険者） (68条2項): the medical insurer reports the premiums paid."""

    medical_insurer: Text
    insurer_notice_received_on: Day  # 医療保険者からの通知を受けた日
    suspension_from: Day  # 差止開始日 (what is lifted)
    lifted_on: Day

    @model_validator(mode="after")
    def _dates(self) -> Category2SuspensionLifted:
        if self.lifted_on < self.insurer_notice_received_on:
            raise ValueError("解除日が医療保険者からの通知を受けた日より前です")
        return self
