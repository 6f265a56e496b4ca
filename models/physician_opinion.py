"""主治医意見書 (physician opinion): the request to the physician and the key fields of the received form.

Only the fields the procedure and the 一次判定 export use are typed; the form itself is kept as a scanned
document. The national 一次判定 software reads, besides the two 日常生活自立度 ratings, the 認知症の中核症状
(短期記憶, 日常の意思決定を行うための認知能力, 自分の意思の伝達能力) and 食事行為 from the opinion: they
feed the 認知症自立度II以上の蓋然性 estimate (research/domain.md §1.4).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.survey import Text60, Text100, raise_at
from rules.primary_determination import DementiaIndependence, PhysicalIndependence
from rules.specified_diseases import SpecifiedDisease


class LabelledEnum(StrEnum):
    """A choice printed on the form; `label` is the form's wording, `national_code` its 1-based position."""

    @property
    def label(self) -> str:
        # Keyed by class: StrEnum members of different enums with the same value compare equal.
        return _LABELS[type(self)][self.value]

    @property
    def national_code(self) -> str:
        return str(list(type(self)).index(self) + 1)


class SymptomStability(LabelledEnum):
    """症状としての安定性."""

    STABLE = "stable"
    UNSTABLE = "unstable"
    UNKNOWN = "unknown"


class ShortTermMemory(LabelledEnum):
    """認知症の中核症状: 短期記憶."""

    NO_PROBLEM = "no_problem"
    PROBLEM = "problem"


class DecisionMaking(LabelledEnum):
    """認知症の中核症状: 日常の意思決定を行うための認知能力."""

    INDEPENDENT = "independent"
    SOMEWHAT_DIFFICULT = "somewhat_difficult"
    NEEDS_SUPERVISION = "needs_supervision"
    CANNOT_DECIDE = "cannot_decide"


class Communication(LabelledEnum):
    """認知症の中核症状: 自分の意思の伝達能力."""

    CAN_COMMUNICATE = "can_communicate"
    SOMEWHAT_DIFFICULT = "somewhat_difficult"
    SPECIFIC_REQUESTS_ONLY = "specific_requests_only"
    CANNOT_COMMUNICATE = "cannot_communicate"


class Eating(LabelledEnum):
    """食事行為."""

    INDEPENDENT = "independent"
    FULL_ASSISTANCE = "full_assistance"


_LABELS: dict[type[LabelledEnum], dict[str, str]] = {
    SymptomStability: {"stable": "安定", "unstable": "不安定", "unknown": "不明"},
    ShortTermMemory: {"no_problem": "問題なし", "problem": "問題あり"},
    DecisionMaking: {
        "independent": "自立",
        "somewhat_difficult": "いくらか困難",
        "needs_supervision": "見守りが必要",
        "cannot_decide": "判断できない",
    },
    Communication: {
        "can_communicate": "伝えられる",
        "somewhat_difficult": "いくらか困難",
        "specific_requests_only": "具体的要求に限られる",
        "cannot_communicate": "伝えられない",
    },
    Eating: {"independent": "自立ないし何とか自分で食べられる", "full_assistance": "全面介助"},
}


# ------------------------------------------------------------------------------------------ request

_CODE = r"^[0-9A-Za-z]{1,10}$"
Code10 = Annotated[str, StringConstraints(pattern=_CODE)]


class OpinionRequest(BaseModel):
    """意見書の依頼 (27条3項). Without `due_on` the case's policy sets it (`opinion_due_days` later)."""

    model_config = ConfigDict(extra="forbid")

    physician_name: Text60 = Field(description="主治医氏名")
    institution_name: Text100 = Field(description="医療機関名")
    physician_code: Code10 | None = Field(default=None, description="主治医コード")
    institution_code: Code10 | None = Field(default=None, description="主治医医療機関コード")
    requested_on: date = Field(description="依頼日")
    due_on: date | None = Field(
        default=None, description="提出期限 (省略時はケースの方針による: 標準は依頼日の14日後)"
    )

    @model_validator(mode="after")
    def _due_after_request(self) -> OpinionRequest:
        if self.due_on is not None and self.due_on < self.requested_on:
            raise_at(
                "OpinionRequest", [(("due_on",), "提出期限は依頼日以降の日付にしてください", self.due_on)]
            )
        return self


# ------------------------------------------------------------------------------------------ receipt

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _check_partial_date(value: str) -> str:
    """発症年月日 is often known only as a year or a month (「平成30年頃」): YYYY, YYYY-MM or YYYY-MM-DD."""
    match = _PARTIAL_DATE.fullmatch(value.strip())
    if match is None:
        raise ValueError("発症年月日は YYYY, YYYY-MM または YYYY-MM-DD の形式で入力してください")
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        raise ValueError("発症年月日が正しくありません") from None
    if year < 1868:
        raise ValueError("発症年月日が正しくありません")
    return value.strip()


PartialDate = Annotated[str, AfterValidator(_check_partial_date)]


class Diagnosis(BaseModel):
    """診断名 and its 発症年月日 (optional, possibly partial)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text100 = Field(description="診断名")
    onset: PartialDate | None = Field(default=None, description="発症年月日 (YYYY, YYYY-MM, YYYY-MM-DD)")


class PhysicianOpinion(BaseModel):
    """主治医意見書の受領: the key fields typed from the received form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    received_on: date = Field(description="受領日")
    written_on: date = Field(description="記入日")
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=3, description="診断名 (1〜3)")
    specified_disease: SpecifiedDisease | None = Field(default=None, description="特定疾病 (第2号のみ)")
    physical_independence: PhysicalIndependence = Field(description="障害高齢者の日常生活自立度 (寝たきり度)")
    dementia_independence: DementiaIndependence = Field(description="認知症高齢者の日常生活自立度")
    stability: SymptomStability = Field(description="症状としての安定性")
    short_term_memory: ShortTermMemory = Field(description="認知症の中核症状: 短期記憶")
    decision_making: DecisionMaking = Field(
        description="認知症の中核症状: 日常の意思決定を行うための認知能力"
    )
    communication: Communication = Field(description="認知症の中核症状: 自分の意思の伝達能力")
    eating: Eating = Field(description="食事行為")

    @model_validator(mode="after")
    def _written_before_received(self) -> PhysicianOpinion:
        if self.written_on > self.received_on:
            raise_at(
                "PhysicianOpinion",
                [(("written_on",), "記入日は受領日以前の日付にしてください", self.written_on)],
            )
        return self
