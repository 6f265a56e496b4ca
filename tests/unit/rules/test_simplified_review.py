"""審査会の簡素化 (介護認定審査会の運営について, 老発0323第1号 平成30年3月23日): the six conditions."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel, Stability
from rules.simplified_review import SimplifiedReviewCase, simplified_review_eligibility

ELIGIBLE = SimplifiedReviewCase(
    category=InsuredCategory.FIRST,
    application_kind=ApplicationKind.RENEWAL,
    primary_level=CareLevel.CARE_2,
    reference_minutes=Decimal("58.3"),
    stability=None,
    previous_level=CareLevel.CARE_2,
    previous_validity_months=12,
)


def test_rohatsu0323_all_six_conditions_met() -> None:
    result = simplified_review_eligibility(ELIGIBLE)
    assert result == (True, [])
    assert result.eligible and result.unmet == []


@pytest.mark.parametrize(
    ("change", "unmet"),
    [
        ({"category": InsuredCategory.SECOND}, "第1号被保険者ではありません"),
        ({"application_kind": ApplicationKind.CHANGE}, "更新申請ではありません（区分変更申請）"),
        ({"application_kind": ApplicationKind.NEW}, "更新申請ではありません（新規申請）"),
        (
            {"previous_level": CareLevel.CARE_3},
            "一次判定結果（要介護2）が前回認定結果（要介護3）と一致しません",
        ),
        ({"previous_level": None}, "前回認定結果がありません"),
        ({"previous_validity_months": 11}, "前回認定の有効期間が12か月未満です（11か月）"),
        ({"previous_validity_months": None}, "前回認定の有効期間がありません"),
        (
            {"reference_minutes": Decimal("67.0")},
            "要介護認定等基準時間（67.0分）が一段階重い区分の基準（70分）まで3分以内です（重度化キワ）",
        ),
    ],
)
def test_rohatsu0323_each_condition_failing_alone(change: dict[str, object], unmet: str) -> None:
    result = simplified_review_eligibility(replace(ELIGIBLE, **change))  # type: ignore[arg-type]
    assert result == (False, [unmet])


@pytest.mark.parametrize("level", [CareLevel.SUPPORT_2, CareLevel.CARE_1])
def test_rohatsu0323_condition5_split_levels_need_stable(level: CareLevel) -> None:
    base = replace(ELIGIBLE, primary_level=level, previous_level=level, reference_minutes=Decimal("40.0"))
    assert simplified_review_eligibility(replace(base, stability=Stability.STABLE)) == (True, [])
    for stability in (Stability.UNSTABLE, None):
        result = simplified_review_eligibility(replace(base, stability=stability))
        assert result == (False, [f"一次判定結果が{level.label}で、状態の安定性が「安定」ではありません"])


def test_rohatsu0323_condition5_ignores_stability_for_other_levels() -> None:
    assert simplified_review_eligibility(replace(ELIGIBLE, stability=Stability.UNSTABLE)).eligible


@pytest.mark.parametrize(
    ("minutes", "kiwa"),
    [
        ("21.9", False),  # 非該当/要支援1 boundary 25: 3.1 minutes away
        ("22.0", True),  # exactly 3 minutes: 以内
        ("28.9", False),
        ("29.0", True),  # 32 (要支援2/要介護1)
        ("46.9", False),
        ("47.0", True),  # 50 (要介護2) is next for both 要支援2 and 要介護1
        ("66.9", False),
        ("69.9", True),
        ("87.0", True),  # 90
        ("106.9", False),
        ("107.0", True),  # 110
        ("200.0", False),  # 要介護5 has nothing heavier
    ],
)
def test_rohatsu0323_condition6_kiwa_within_3_minutes(minutes: str, kiwa: bool) -> None:
    result = simplified_review_eligibility(replace(ELIGIBLE, reference_minutes=Decimal(minutes)))
    assert any("重度化キワ" in line for line in result.unmet) is kiwa


def test_rohatsu0323_all_failures_listed_in_order() -> None:
    case = SimplifiedReviewCase(
        category=InsuredCategory.SECOND,
        application_kind=ApplicationKind.CHANGE,
        primary_level=CareLevel.CARE_1,
        reference_minutes=Decimal("48.0"),
        stability=Stability.UNSTABLE,
        previous_level=CareLevel.SUPPORT_2,
        previous_validity_months=6,
    )
    eligible, unmet = simplified_review_eligibility(case)
    assert not eligible
    assert [line[:6] for line in unmet] == [
        "第1号被保険",
        "更新申請では",
        "一次判定結果",
        "前回認定の有",
        "一次判定結果",
        "要介護認定等",
    ]
