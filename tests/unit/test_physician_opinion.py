"""主治医意見書: the request to the physician and the received form's key fields."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from models.physician_opinion import (
    Communication,
    DecisionMaking,
    Eating,
    OpinionRequest,
    PhysicianOpinion,
    ShortTermMemory,
    SymptomStability,
)
from rules.primary_determination import DementiaIndependence, PhysicalIndependence
from rules.specified_diseases import SpecifiedDisease
from tests.survey_fixtures import complete_opinion_payload


def _locs(model: type[OpinionRequest | PhysicianOpinion], payload: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


# -------------------------------------------------------------------------------------------- request

REQUEST = {"physician_name": "北 一郎", "institution_name": "旭川北病院", "requested_on": "2025-04-02"}


def test_request_without_due_date_leaves_it_to_the_case_policy() -> None:
    # The workflow fills it from the policy the case started with (tests/workflows: opinion due date).
    assert OpinionRequest.model_validate(REQUEST).due_on is None


def test_request_keeps_an_explicit_due_date() -> None:
    assert OpinionRequest.model_validate({**REQUEST, "due_on": "2025-04-10"}).due_on == date(2025, 4, 10)


def test_request_due_date_cannot_precede_the_request() -> None:
    with pytest.raises(ValidationError) as caught:
        OpinionRequest.model_validate({**REQUEST, "due_on": "2025-04-01"})
    (error,) = caught.value.errors()
    assert error["loc"] == ("due_on",)
    assert error["msg"] == "提出期限は依頼日以降の日付にしてください"


def test_request_needs_physician_and_institution() -> None:
    assert _locs(OpinionRequest, {"requested_on": "2025-04-02", "physician_name": "  "}) == [
        "physician_name",
        "institution_name",
    ]


def test_request_codes_are_short_alphanumerics() -> None:
    assert _locs(OpinionRequest, {**REQUEST, "physician_code": "12-34"}) == ["physician_code"]
    request = OpinionRequest.model_validate(
        {**REQUEST, "physician_code": "D001", "institution_code": "0112345678"}
    )
    assert (request.physician_code, request.institution_code) == ("D001", "0112345678")


# -------------------------------------------------------------------------------------------- receipt


def test_complete_opinion_passes() -> None:
    opinion = PhysicianOpinion.model_validate(complete_opinion_payload())
    assert opinion.physical_independence is PhysicalIndependence.J2
    assert opinion.dementia_independence is DementiaIndependence.I
    assert opinion.diagnoses[0].onset == "2019"
    assert opinion.diagnoses[1].onset is None
    assert opinion.specified_disease is None


def test_specified_disease_is_a_typed_optional_code() -> None:
    opinion = PhysicianOpinion.model_validate(complete_opinion_payload(specified_disease="07"))
    assert opinion.specified_disease is SpecifiedDisease.PARKINSON_RELATED
    assert _locs(PhysicianOpinion, complete_opinion_payload(specified_disease="17")) == ["specified_disease"]


@pytest.mark.parametrize("count", [0, 4])
def test_one_to_three_diagnoses(count: int) -> None:
    diagnoses = [{"name": f"診断{n}"} for n in range(count)]
    assert _locs(PhysicianOpinion, complete_opinion_payload(diagnoses=diagnoses)) == ["diagnoses"]


@pytest.mark.parametrize("onset", ["2019", "2019-07", "2019-07-31", " 1989-01 "])
def test_onset_may_be_partial(onset: str) -> None:
    opinion = PhysicianOpinion.model_validate(
        complete_opinion_payload(diagnoses=[{"name": "脳梗塞", "onset": onset}])
    )
    assert opinion.diagnoses[0].onset == onset.strip()


@pytest.mark.parametrize("onset", ["2019/07", "平成30年頃", "2019-13", "2019-02-30", "1800"])
def test_onset_format_is_checked(onset: str) -> None:
    payload = complete_opinion_payload(diagnoses=[{"name": "脳梗塞", "onset": onset}])
    assert _locs(PhysicianOpinion, payload) == ["diagnoses.0.onset"]


def test_written_on_cannot_follow_receipt() -> None:
    with pytest.raises(ValidationError) as caught:
        PhysicianOpinion.model_validate(complete_opinion_payload(written_on="2025-04-16"))
    (error,) = caught.value.errors()
    assert (error["loc"], error["msg"]) == (("written_on",), "記入日は受領日以前の日付にしてください")


def test_required_items_of_the_form() -> None:
    payload = complete_opinion_payload()
    for field in ("stability", "short_term_memory", "decision_making", "communication", "eating"):
        del payload[field]
    assert set(_locs(PhysicianOpinion, payload)) == {
        "stability",
        "short_term_memory",
        "decision_making",
        "communication",
        "eating",
    }


def test_choices_carry_the_form_wording_and_national_code() -> None:
    assert [s.label for s in SymptomStability] == ["安定", "不安定", "不明"]
    assert [m.label for m in ShortTermMemory] == ["問題なし", "問題あり"]
    assert [d.label for d in DecisionMaking] == ["自立", "いくらか困難", "見守りが必要", "判断できない"]
    assert [c.label for c in Communication] == [
        "伝えられる",
        "いくらか困難",
        "具体的要求に限られる",
        "伝えられない",
    ]
    assert [e.label for e in Eating] == ["自立ないし何とか自分で食べられる", "全面介助"]
    assert [c.national_code for c in Communication] == ["1", "2", "3", "4"]
    # Same value in two enums, different wording: labels must not collide.
    assert DecisionMaking.SOMEWHAT_DIFFICULT.label == Communication.SOMEWHAT_DIFFICULT.label == "いくらか困難"
    assert DecisionMaking.INDEPENDENT.label == "自立"
    assert Eating.INDEPENDENT.label == "自立ないし何とか自分で食べられる"


def test_opinion_refuses_unknown_fields() -> None:
    assert _locs(PhysicianOpinion, complete_opinion_payload(patient_name="旭川 花子")) == ["patient_name"]
