"""介護保険法施行令2条: the 16 特定疾病, and 法7条3項2号 (第2号被保険者 needs one)."""

from __future__ import annotations

import pytest

from rules.insured_status import InsuredCategory
from rules.specified_diseases import (
    SPECIFIED_DISEASE_NAMES,
    SpecifiedDisease,
    is_specified_disease,
    second_category_eligible,
)

SEIREI_2 = [
    (
        "01",
        "がん（医師が一般に認められている医学的知見に基づき回復の見込みがない状態に至ったと判断したものに限る。）",
    ),
    ("02", "関節リウマチ"),
    ("03", "筋萎縮性側索硬化症"),
    ("04", "後縦靱帯骨化症"),
    ("05", "骨折を伴う骨粗鬆症"),
    ("06", "初老期における認知症"),
    ("07", "進行性核上性麻痺、大脳皮質基底核変性症及びパーキンソン病"),
    ("08", "脊髄小脳変性症"),
    ("09", "脊柱管狭窄症"),
    ("10", "早老症"),
    ("11", "多系統萎縮症"),
    ("12", "糖尿病性神経障害、糖尿病性腎症及び糖尿病性網膜症"),
    ("13", "脳血管疾患"),
    ("14", "閉塞性動脈硬化症"),
    ("15", "慢性閉塞性肺疾患"),
    ("16", "両側の膝関節又は股関節に著しい変形を伴う変形性関節症"),
]


def test_seirei_2_lists_sixteen_diseases_in_order() -> None:
    assert [(d.value, d.label) for d in SpecifiedDisease] == SEIREI_2
    assert len(SPECIFIED_DISEASE_NAMES) == 16


@pytest.mark.parametrize(("code", "name"), SEIREI_2)
def test_seirei_2_second_category_eligible_for_each_disease(code: str, name: str) -> None:
    assert SpecifiedDisease(code).label == name
    assert is_specified_disease(code)
    assert second_category_eligible(InsuredCategory.SECOND, code)


@pytest.mark.parametrize("code", [None, "", "00", "17", "1", "01 ", "ＡＬＳ"])
def test_7_3_2_second_category_needs_a_specified_disease(code: str | None) -> None:
    assert not is_specified_disease(code)
    assert not second_category_eligible(InsuredCategory.SECOND, code)


@pytest.mark.parametrize("code", [None, "17", "13"])
def test_7_3_1_first_category_needs_no_specified_disease(code: str | None) -> None:
    assert second_category_eligible(InsuredCategory.FIRST, code)


def test_seirei_2_uses_the_official_kanji_for_ligament() -> None:
    # 政令 writes 靱 (U+9771), not the common variant 靭 (U+976D).
    assert "\u9771" in SpecifiedDisease.OPLL.label
