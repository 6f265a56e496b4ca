"""審査会の簡素化: which renewals the board may confirm in bulk (一括合議) instead of discussing each.

「介護認定審査会の運営について」as amended by 老発0323第1号 (平成30年3月23日), for applications from
2018-04-01. All six conditions must hold; the city may add its own, never drop one:

1. 第1号被保険者;
2. 更新申請;
3. the 一次判定 level equals the previous certified level;
4. the previous validity was 12 months or longer;
5. if the 一次判定 is 要支援2 or 要介護1, 状態の安定性 is 安定;
6. 基準時間 is not within 3 minutes of the next heavier level (重度化キワ3分以内でない).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel, Stability, next_heavier_threshold

MIN_PREVIOUS_VALIDITY_MONTHS = 12
KIWA_MINUTES = Decimal(3)


@dataclass(frozen=True)
class SimplifiedReviewCase:
    category: InsuredCategory
    application_kind: ApplicationKind
    primary_level: CareLevel  # 一次判定結果
    reference_minutes: Decimal  # 要介護認定等基準時間
    stability: Stability | None  # 状態の安定性 (read only for 要支援2/要介護1)
    previous_level: CareLevel | None  # 前回認定結果 (二次判定後)
    previous_validity_months: int | None  # 前回認定の有効期間


class SimplifiedReviewResult(NamedTuple):
    eligible: bool
    unmet: list[str]  # one Japanese line per failed condition, in the order above


def _kiwa(minutes: Decimal) -> Decimal | None:
    """The heavier threshold `minutes` is within 3 minutes of, if any.

    要支援2 and 要介護1 share 32–50 minutes, so for both the next threshold is 50 (要介護2).
    """
    threshold = next_heavier_threshold(minutes)
    if threshold is not None and threshold - Decimal(str(minutes)) <= KIWA_MINUTES:
        return threshold
    return None


def simplified_review_eligibility(case: SimplifiedReviewCase) -> SimplifiedReviewResult:
    unmet: list[str] = []
    if case.category is not InsuredCategory.FIRST:
        unmet.append("第1号被保険者ではありません")
    if case.application_kind is not ApplicationKind.RENEWAL:
        unmet.append(f"更新申請ではありません（{case.application_kind.label}）")
    if case.previous_level is None:
        unmet.append("前回認定結果がありません")
    elif case.primary_level is not case.previous_level:
        unmet.append(
            f"一次判定結果（{case.primary_level.label}）が前回認定結果（{case.previous_level.label}）と一致しません"
        )
    if case.previous_validity_months is None:
        unmet.append("前回認定の有効期間がありません")
    elif case.previous_validity_months < MIN_PREVIOUS_VALIDITY_MONTHS:
        unmet.append(
            f"前回認定の有効期間が{MIN_PREVIOUS_VALIDITY_MONTHS}か月未満です（{case.previous_validity_months}か月）"
        )
    split = case.primary_level in (CareLevel.SUPPORT_2, CareLevel.CARE_1)
    if split and case.stability is not Stability.STABLE:
        unmet.append(f"一次判定結果が{case.primary_level.label}で、状態の安定性が「安定」ではありません")
    threshold = _kiwa(case.reference_minutes)
    if threshold is not None:
        unmet.append(
            f"要介護認定等基準時間（{case.reference_minutes}分）が一段階重い区分の基準（{threshold}分）まで"
            f"{KIWA_MINUTES}分以内です（重度化キワ）"
        )
    return SimplifiedReviewResult(not unmet, unmet)
