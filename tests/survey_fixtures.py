"""Valid survey and physician-opinion payloads for tests (unit, API and workflow tests import these)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.physician_opinion import PhysicianOpinion
from models.survey import SURVEY_SCHEMA_VERSION, SurveyRecord, list_item_definitions


def complete_survey_answers(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every 基本調査 item answered with its first choice (ない / できる / 介助されていない ...)."""
    answers = {item.id: item.scale.codes[0] for item in list_item_definitions()}
    answers.update(overrides or {})
    return answers


def complete_survey_payload(**fields: Any) -> dict[str, Any]:
    """A JSON-ready SurveyRecord body; keyword arguments replace top-level fields."""
    payload: dict[str, Any] = {
        "schema_version": SURVEY_SCHEMA_VERSION,
        "overview": {
            "conducted_on": "2025-04-10",
            "place": "1",
            "current_situation": "1",
            "services": [{"service": "通所介護（デイサービス）", "amount": "週2回"}],
            "family_and_environment": "長女と二人暮らし。玄関に段差あり。",
        },
        "answers": complete_survey_answers(),
        "notes": {"1-1": "右手指に軽いしびれ。日常生活に支障なし。"},
        "physical_independence": "J1",
        "dementia_independence": "I",
    }
    payload.update(fields)
    return payload


def complete_opinion_payload(**fields: Any) -> dict[str, Any]:
    """A JSON-ready PhysicianOpinion (主治医意見書 key fields) body."""
    payload: dict[str, Any] = {
        "received_on": "2025-04-15",
        "written_on": "2025-04-14",
        "diagnoses": [{"name": "変形性膝関節症", "onset": "2019"}, {"name": "高血圧症"}],
        "specified_disease": None,
        "physical_independence": "J2",
        "dementia_independence": "I",
        "stability": "stable",
        "short_term_memory": "no_problem",
        "decision_making": "independent",
        "communication": "can_communicate",
        "eating": "independent",
    }
    payload.update(fields)
    return payload


def complete_survey_record(**fields: Any) -> SurveyRecord:
    return SurveyRecord.model_validate(complete_survey_payload(**fields))


def complete_opinion(**fields: Any) -> PhysicianOpinion:
    return PhysicianOpinion.model_validate(complete_opinion_payload(**fields))
