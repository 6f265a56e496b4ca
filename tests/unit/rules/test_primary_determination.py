"""一次判定: 基準時間 thresholds (平成11年厚生省令58号) and the 要支援2/要介護1 split (テキスト2009)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rules.primary_determination import (
    CareLevel,
    CategoryTimes,
    DementiaIndependence,
    PhysicalIndependence,
    Stability,
    expected_primary_level,
    level_range_for_minutes,
    next_heavier_threshold,
    split_support2_or_care1,
    validate_category_times,
    validate_primary_result,
)

D = DementiaIndependence
SPLIT = (CareLevel.SUPPORT_2, CareLevel.CARE_1)


@pytest.mark.parametrize(
    ("minutes", "levels"),
    [
        (0, (CareLevel.NOT_APPLICABLE,)),
        (Decimal("24.9"), (CareLevel.NOT_APPLICABLE,)),
        (25, (CareLevel.SUPPORT_1,)),
        (Decimal("31.9"), (CareLevel.SUPPORT_1,)),
        (32, SPLIT),
        (Decimal("49.9"), SPLIT),
        (50, (CareLevel.CARE_2,)),
        (Decimal("69.9"), (CareLevel.CARE_2,)),
        (70, (CareLevel.CARE_3,)),
        (Decimal("89.9"), (CareLevel.CARE_3,)),
        (90, (CareLevel.CARE_4,)),
        (Decimal("109.9"), (CareLevel.CARE_4,)),
        (110, (CareLevel.CARE_5,)),
        (Decimal("250.0"), (CareLevel.CARE_5,)),
    ],
)
def test_shorei58_level_range_lower_bound_inclusive(
    minutes: Decimal | int, levels: tuple[CareLevel, ...]
) -> None:
    assert level_range_for_minutes(minutes) == levels


def test_shorei58_float_minutes_are_read_as_written() -> None:
    # 31.9 as a float must not become 31.899999… or 32 by accident; 32.0 is 要支援2/要介護1.
    assert level_range_for_minutes(31.9) == (CareLevel.SUPPORT_1,)
    assert level_range_for_minutes(32.0) == SPLIT


@pytest.mark.parametrize("bad", [-0.1, Decimal("NaN"), float("inf")])
def test_shorei58_rejects_impossible_minutes(bad: Decimal | float) -> None:
    with pytest.raises(ValueError, match="基準時間"):
        level_range_for_minutes(bad)


@pytest.mark.parametrize(
    ("minutes", "threshold"),
    [(0, 25), (25, 32), (Decimal("47.5"), 50), (50, 70), (89, 90), (Decimal("109.9"), 110), (110, None)],
)
def test_shorei58_next_heavier_threshold(minutes: Decimal | int, threshold: int | None) -> None:
    assert next_heavier_threshold(minutes) == (None if threshold is None else Decimal(threshold))


# ------------------------------------------------------------------ 要支援2 / 要介護1 (32 ≤ 基準時間 < 50)


@pytest.mark.parametrize(
    ("surveyor", "physician", "stability", "probability", "level"),
    [
        # both 自立/I → 状態の安定性 decides
        (D.INDEPENDENT, D.I, Stability.STABLE, 90, CareLevel.SUPPORT_2),
        (D.I, D.INDEPENDENT, Stability.UNSTABLE, 0, CareLevel.CARE_1),
        # both ≥ II → 要介護1 regardless of stability
        (D.IIA, D.M, Stability.STABLE, 0, CareLevel.CARE_1),
        # exactly one ≥ II → 蓋然性 ≥ 50% → 要介護1
        (D.IIB, D.I, Stability.STABLE, 50, CareLevel.CARE_1),
        (D.INDEPENDENT, D.IV, Stability.STABLE, Decimal("50.0"), CareLevel.CARE_1),
        # exactly one ≥ II, 蓋然性 < 50% → 状態の安定性 decides
        (D.IIIA, D.I, Stability.STABLE, Decimal("49.9"), CareLevel.SUPPORT_2),
        (D.I, D.IIIB, Stability.UNSTABLE, 10, CareLevel.CARE_1),
    ],
)
def test_text2009_support2_care1_split(
    surveyor: DementiaIndependence,
    physician: DementiaIndependence,
    stability: Stability,
    probability: Decimal | int,
    level: CareLevel,
) -> None:
    assert split_support2_or_care1(surveyor, physician, stability, probability) == level
    assert expected_primary_level(40, surveyor, physician, stability, probability) == level


def test_text2009_split_rejects_probability_out_of_range() -> None:
    with pytest.raises(ValueError, match="蓋然性"):
        split_support2_or_care1(D.IIA, D.I, Stability.STABLE, 101)


def test_text2009_split_ignored_outside_32_to_50_minutes() -> None:
    assert expected_primary_level(55, D.M, D.M, Stability.UNSTABLE, 100) == CareLevel.CARE_2
    assert expected_primary_level(30, D.M, D.M, Stability.UNSTABLE, 100) == CareLevel.SUPPORT_1


def test_rouken135_dementia_scale_ii_or_above() -> None:
    assert [r for r in DementiaIndependence if r.is_ii_or_above] == [D.IIA, D.IIB, D.IIIA, D.IIIB, D.IV, D.M]


def test_rouken135_and_102_2_scales_have_the_official_ranks() -> None:
    # 認知症高齢者の日常生活自立度判定基準 (平成5年老健135号); 障害高齢者の… (平成3年老健102-2号)
    assert [r.value for r in DementiaIndependence] == ["自立", "I", "IIa", "IIb", "IIIa", "IIIb", "IV", "M"]
    assert [r.value for r in PhysicalIndependence] == [
        "自立", "J1", "J2", "A1", "A2", "B1", "B2", "C1", "C2",
    ]  # fmt: skip


def test_shorei58_care_levels_order_labels_and_codes() -> None:
    assert [level.rank for level in CareLevel] == list(range(8))
    assert CareLevel.CARE_1.label == "要介護1"
    assert [level.code for level in CareLevel] == ["01", "12", "13", "21", "22", "23", "24", "25"]
    assert CareLevel.from_code("13") is CareLevel.SUPPORT_2
    assert CareLevel.SUPPORT_2.is_support and not CareLevel.SUPPORT_2.is_care
    assert CareLevel.CARE_1.is_care and not CareLevel.NOT_APPLICABLE.is_support
    with pytest.raises(ValueError, match="不明"):
        CareLevel.from_code("11")


# ------------------------------------------------------------------ validation of an imported result


def _times(**overrides: str) -> CategoryTimes:
    base = {
        "meal": "10.0",
        "excretion": "5.0",
        "transfer": "4.0",
        "hygiene": "6.0",
        "indirect": "3.0",
        "bpsd": "6.0",
        "rehabilitation": "4.0",
        "medical": "2.0",
    }
    base.update(overrides)
    return CategoryTimes(**{name: Decimal(value) for name, value in base.items()})


def test_shorei58_consistent_import_has_no_problems() -> None:
    assert _times().total == Decimal("40.0")
    problems = validate_primary_result(
        CareLevel.SUPPORT_2, Decimal("40.0"), D.I, D.I, Stability.STABLE, 12, category_times=_times()
    )
    assert problems == []


def test_shorei58_result_outside_minute_band_is_reported() -> None:
    problems = validate_primary_result(CareLevel.CARE_3, Decimal("65.2"), None, None, None, None)
    assert problems == ["一次判定結果 要介護3 は要介護認定等基準時間 65.2分 の区分（要介護2）と一致しません"]


def test_shorei58_split_band_lists_both_levels() -> None:
    problems = validate_primary_result(CareLevel.CARE_2, 45, D.I, D.I, Stability.STABLE, 0)
    assert "（要支援2又は要介護1）" in problems[0]


def test_text2009_mismatched_split_is_reported() -> None:
    problems = validate_primary_result(CareLevel.SUPPORT_2, 40, D.IIA, D.IIB, Stability.STABLE, 80)
    assert len(problems) == 1
    assert "による判定 要介護1 と一致しません" in problems[0]


def test_text2009_split_fields_outside_band_are_optional() -> None:
    assert validate_primary_result(CareLevel.CARE_4, 95, None, None, None, None) == []


@pytest.mark.parametrize(
    ("surveyor", "physician", "stability", "probability", "missing"),
    [
        (None, D.I, Stability.STABLE, 10, "認知症高齢者の日常生活自立度"),
        (D.IIA, D.I, Stability.STABLE, None, "蓋然性"),
        (D.I, D.I, None, 10, "状態の安定性"),
        (D.IIA, D.I, None, 30, "状態の安定性"),  # 蓋然性 < 50% → stability is read
    ],
)
def test_text2009_missing_split_inputs_are_reported(
    surveyor: DementiaIndependence | None,
    physician: DementiaIndependence,
    stability: Stability | None,
    probability: int | None,
    missing: str,
) -> None:
    problems = validate_primary_result(CareLevel.CARE_1, 40, surveyor, physician, stability, probability)
    assert len(problems) == 1
    assert missing in problems[0]


def test_text2009_unused_split_inputs_may_be_missing() -> None:
    # Both ≥ II: neither stability nor probability is read.
    assert validate_primary_result(CareLevel.CARE_1, 40, D.IIA, D.M, None, None) == []
    # One ≥ II with 蓋然性 ≥ 50%: stability is not read.
    assert validate_primary_result(CareLevel.CARE_1, 40, D.IIA, D.I, None, 75) == []


def test_text2009_probability_out_of_range_is_reported() -> None:
    problems = validate_primary_result(CareLevel.CARE_2, 60, None, None, None, 120)
    assert problems == ["認知症自立度II以上の蓋然性は0〜100%で指定してください: 120"]


def test_shorei58_negative_minutes_is_reported_not_raised() -> None:
    assert validate_primary_result(CareLevel.NOT_APPLICABLE, -1, None, None, None, None) == [
        "要介護認定等基準時間が不正です: -1"
    ]


@pytest.mark.parametrize(("total", "ok"), [("40.4", True), ("39.6", True), ("40.5", False), ("39.5", False)])
def test_kokuji91_category_times_sum_within_rounding(total: str, ok: bool) -> None:
    problems = validate_category_times(_times(), Decimal(total))
    assert (problems == []) is ok


def test_kokuji91_negative_category_time_is_reported() -> None:
    problems = validate_category_times(_times(medical="-2.0", meal="14.0"), Decimal("40.0"))
    assert problems == ["医療関連行為の時間が負の値です: -2.0分"]


def test_kokuji91_category_sum_mismatch_reported_in_result_validation() -> None:
    problems = validate_primary_result(
        CareLevel.CARE_2, Decimal("55.0"), None, None, None, None, category_times=_times()
    )
    assert problems == ["行為区分ごとの時間の合計 40.0分 が要介護認定等基準時間 55.0分 と一致しません"]
