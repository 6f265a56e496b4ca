"""特定疾病 (介護保険法7条3項2号; 介護保険法施行令2条): the 16 diseases a 第2号被保険者's need must stem from.

Codes 01–16 follow the 政令's item numbers (一〜十六) and never change. Names are the 政令's wording; for
item 6 the definitional cross-reference "（法第五条の二第一項に規定する認知症をいう。以下同じ。）" is left
out because it names no restriction and its article number has moved with amendments.
"""

from __future__ import annotations

from enum import StrEnum

from rules.insured_status import InsuredCategory


class SpecifiedDisease(StrEnum):
    CANCER = "01"
    RHEUMATOID_ARTHRITIS = "02"
    ALS = "03"
    OPLL = "04"  # 後縦靱帯骨化症
    OSTEOPOROSIS_WITH_FRACTURE = "05"
    PRESENILE_DEMENTIA = "06"
    PARKINSON_RELATED = "07"
    SPINOCEREBELLAR_DEGENERATION = "08"
    SPINAL_STENOSIS = "09"
    PROGERIA = "10"
    MULTIPLE_SYSTEM_ATROPHY = "11"
    DIABETIC_COMPLICATIONS = "12"
    CEREBROVASCULAR_DISEASE = "13"
    ARTERIOSCLEROSIS_OBLITERANS = "14"
    COPD = "15"
    OSTEOARTHRITIS_BILATERAL = "16"

    @property
    def label(self) -> str:
        return SPECIFIED_DISEASE_NAMES[self]


SPECIFIED_DISEASE_NAMES: dict[SpecifiedDisease, str] = {
    SpecifiedDisease.CANCER: (
        "がん（医師が一般に認められている医学的知見に基づき回復の見込みがない状態に至ったと判断したものに限る。）"
    ),
    SpecifiedDisease.RHEUMATOID_ARTHRITIS: "関節リウマチ",
    SpecifiedDisease.ALS: "筋萎縮性側索硬化症",
    SpecifiedDisease.OPLL: "後縦靱帯骨化症",
    SpecifiedDisease.OSTEOPOROSIS_WITH_FRACTURE: "骨折を伴う骨粗鬆症",
    SpecifiedDisease.PRESENILE_DEMENTIA: "初老期における認知症",
    SpecifiedDisease.PARKINSON_RELATED: "進行性核上性麻痺、大脳皮質基底核変性症及びパーキンソン病",
    SpecifiedDisease.SPINOCEREBELLAR_DEGENERATION: "脊髄小脳変性症",
    SpecifiedDisease.SPINAL_STENOSIS: "脊柱管狭窄症",
    SpecifiedDisease.PROGERIA: "早老症",
    SpecifiedDisease.MULTIPLE_SYSTEM_ATROPHY: "多系統萎縮症",
    SpecifiedDisease.DIABETIC_COMPLICATIONS: "糖尿病性神経障害、糖尿病性腎症及び糖尿病性網膜症",
    SpecifiedDisease.CEREBROVASCULAR_DISEASE: "脳血管疾患",
    SpecifiedDisease.ARTERIOSCLEROSIS_OBLITERANS: "閉塞性動脈硬化症",
    SpecifiedDisease.COPD: "慢性閉塞性肺疾患",
    SpecifiedDisease.OSTEOARTHRITIS_BILATERAL: "両側の膝関節又は股関節に著しい変形を伴う変形性関節症",
}


def is_specified_disease(code: str | None) -> bool:
    return code in SpecifiedDisease._value2member_map_


def second_category_eligible(category: InsuredCategory, disease_code: str | None) -> bool:
    """Whether the cause allows certification: any cause for 第1号; a 特定疾病 for 第2号 (法7条3項2号)."""
    if category is InsuredCategory.FIRST:
        return True
    return is_specified_disease(disease_code)
