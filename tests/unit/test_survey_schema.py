"""認定調査票: the national item list, and validation that names the item at fault."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from api.errors import FieldError, field_errors
from models.survey import (
    SURVEY_SCHEMA_VERSION,
    SURVEY_SCHEMAS,
    SurveyGroup,
    SurveyRecord,
    SurveySchema,
    get_schema,
    list_item_definitions,
    register_schema,
    selected_choices,
    selections_to_answers,
)
from tests.survey_fixtures import complete_survey_answers, complete_survey_payload


def _errors(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted loc, message) pairs, in the form the API reports them."""
    with pytest.raises(ValidationError) as caught:
        SurveyRecord.model_validate(payload)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


def _with_answers(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = complete_survey_answers()
    for key, value in changes.items():
        item_id = key.removeprefix("i").replace("_", "-")
        if value is None:
            del answers[item_id]
        else:
            answers[item_id] = value
    return complete_survey_payload(answers=answers)


# ------------------------------------------------------------------------------------------ item list


def test_74_items_with_the_national_group_counts() -> None:
    items = list_item_definitions()
    assert len(items) == 74
    assert Counter(item.group for item in items) == {
        SurveyGroup.G1: 20,
        SurveyGroup.G2: 12,
        SurveyGroup.G3: 9,
        SurveyGroup.G4: 15,
        SurveyGroup.G5: 6,
        SurveyGroup.SPECIAL_MEDICAL: 12,
    }


def test_items_are_in_national_order_with_unique_ids() -> None:
    items = list_item_definitions()
    assert [item.order for item in items] == list(range(1, 75))
    assert len({item.id for item in items}) == 74
    assert [item.id for item in items[:11]] == [
        "1-1-1", "1-1-2", "1-1-3", "1-1-4", "1-1-5", "1-2-1", "1-2-2", "1-2-3", "1-2-4", "1-3", "1-4",
    ]  # fmt: skip
    assert items[-1].id == "6-12"


@pytest.mark.parametrize(
    ("item_id", "name", "labels"),
    [
        ("1-1-1", "麻痺等の有無（左上肢）", ["ない", "ある"]),
        ("1-5", "座位保持", ["できる", "自分の手で支えればできる", "支えてもらえればできる", "できない"]),
        ("1-10", "洗身", ["介助されていない", "一部介助", "全介助", "行っていない"]),
        ("1-12", "視力", None),
        ("2-2", "移動", ["介助されていない", "見守り等", "一部介助", "全介助"]),
        ("2-3", "えん下", ["できる", "見守り等", "できない"]),
        ("2-7", "口腔清潔", ["介助されていない", "一部介助", "全介助"]),
        ("2-12", "外出頻度", ["週1回以上", "月1回以上", "月1回未満"]),
        ("3-1", "意思の伝達", None),
        ("3-4", "短期記憶", ["できる", "できない"]),
        ("3-8", "常時の徘徊", ["ない", "ときどきある", "ある"]),
        ("4-12", "ひどい物忘れ", ["ない", "ときどきある", "ある"]),
        ("5-3", "日常の意思決定", None),
        ("6-12", "失禁への対応（カテーテル）", ["ない", "ある"]),
    ],
)
def test_item_names_and_scales(item_id: str, name: str, labels: list[str] | None) -> None:
    item = get_schema().item(item_id)
    assert item is not None
    assert item.name == name
    if labels is not None:
        assert [label for _, label in item.scale.choices] == labels
    assert item.scale.codes == tuple(str(n) for n in range(1, len(item.scale.choices) + 1))


def test_five_point_and_four_point_scales() -> None:
    schema = get_schema()
    assert len(schema.item("1-12").scale.codes) == 5  # type: ignore[union-attr]
    assert len(schema.item("1-13").scale.codes) == 5  # type: ignore[union-attr]
    assert len(schema.item("3-1").scale.codes) == 4  # type: ignore[union-attr]
    assert len(schema.item("5-3").scale.codes) == 4  # type: ignore[union-attr]


def test_item_definitions_are_json_ready() -> None:
    definition = get_schema().item("2-2").as_dict()  # type: ignore[union-attr]
    assert definition == {
        "id": "2-2",
        "order": 22,
        "group": "2",
        "group_label": "第2群 生活機能",
        "name": "移動",
        "parent": None,
        "note_key": "2-2",
        "scale": [
            {"code": "1", "label": "介助されていない"},
            {"code": "2", "label": "見守り等"},
            {"code": "3", "label": "一部介助"},
            {"code": "4", "label": "全介助"},
        ],
    }


def test_note_keys_share_one_per_multi_select_question() -> None:
    keys = get_schema().note_keys
    assert keys[:3] == ("1-1", "1-2", "1-3")
    assert "1-1-1" not in keys
    assert "6-1" in keys and "6-12" in keys
    assert len(keys) == 74 - 5 - 4 + 2


def test_a_later_revision_registers_beside_the_current_one() -> None:
    current = get_schema()
    revised = SurveySchema(version="test-revision", title="試験用", items=current.items[:-1])
    register_schema(revised)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_schema(revised)
        payload = complete_survey_payload(schema_version="test-revision")
        del payload["answers"]["6-12"]
        assert SurveyRecord.model_validate(payload).schema_version == "test-revision"
        assert len(list_item_definitions("test-revision")) == 73
    finally:
        del SURVEY_SCHEMAS["test-revision"]


def test_unknown_schema_version_is_refused() -> None:
    assert _errors(complete_survey_payload(schema_version="1999")) == [
        ("schema_version", "Value error, 調査票の版 1999 は登録されていません")
    ]


# --------------------------------------------------------------------------------------- valid record


def test_complete_survey_passes() -> None:
    record = SurveyRecord.model_validate(complete_survey_payload())
    assert record.schema_version == SURVEY_SCHEMA_VERSION
    assert len(record.answers) == 74
    assert record.answer_label("2-2") == "介助されていない"
    assert record.ordered_answers() == ["1"] * 74
    assert record.notes == {"1-1": "右手指に軽いしびれ。日常生活に支障なし。"}


def test_answers_accept_integers_and_full_width_digits() -> None:
    record = SurveyRecord.model_validate(_with_answers(i2_2=4, i2_3="３", i1_12=" 5 "))
    assert (record.answers["2-2"], record.answers["2-3"], record.answers["1-12"]) == ("4", "3", "5")


def test_blank_notes_are_dropped_and_line_breaks_kept() -> None:
    payload = complete_survey_payload(notes={"1-1": "  ", "2-2": "杖歩行。\r\n屋外は車いす。", "6-5": ""})
    assert SurveyRecord.model_validate(payload).notes == {"2-2": "杖歩行。\n屋外は車いす。"}


def test_survey_round_trips_through_json() -> None:
    record = SurveyRecord.model_validate(complete_survey_payload())
    assert SurveyRecord.model_validate_json(record.model_dump_json()) == record


# -------------------------------------------------------------------------------------- failure modes


def test_missing_item_is_named() -> None:
    assert _errors(_with_answers(i3_1=None)) == [("answers.3-1", "基本調査 3-1 (意思の伝達) が未回答です")]


@pytest.mark.parametrize("blank", ["", None])
def test_blank_answer_counts_as_missing(blank: str | None) -> None:
    answers: dict[str, Any] = complete_survey_answers()
    answers["1-1-3"] = blank
    errors = _errors(complete_survey_payload(answers=answers))
    assert errors == [("answers.1-1-3", "基本調査 1-1-3 (麻痺等の有無（左下肢）) が未回答です")]


@pytest.mark.parametrize(
    ("item", "value", "message"),
    [
        ("2-2", "5", "基本調査 2-2 (移動): 1〜4 のいずれかで回答してください"),
        ("2-2", "0", "基本調査 2-2 (移動): 1〜4 のいずれかで回答してください"),
        ("3-4", "3", "基本調査 3-4 (短期記憶): 1〜2 のいずれかで回答してください"),
        ("1-12", "6", "基本調査 1-12 (視力): 1〜5 のいずれかで回答してください"),
        ("6-1", "ある", "基本調査 6-1 (処置内容（点滴の管理）): 1〜2 のいずれかで回答してください"),
        ("4-1", True, "基本調査 4-1 (被害的): 1〜3 のいずれかで回答してください"),
        ("4-2", 2.0, "基本調査 4-2 (作話): 1〜3 のいずれかで回答してください"),
    ],
)
def test_out_of_scale_answer_is_named(item: str, value: Any, message: str) -> None:
    answers: dict[str, Any] = complete_survey_answers()
    answers[item] = value
    assert _errors(complete_survey_payload(answers=answers)) == [(f"answers.{item}", message)]


def test_unknown_item_is_refused() -> None:
    answers: dict[str, Any] = complete_survey_answers()
    answers["2-13"] = "1"
    assert _errors(complete_survey_payload(answers=answers)) == [
        ("answers.2-13", "基本調査 2-13 という調査項目はありません")
    ]


def test_every_problem_is_reported_at_once() -> None:
    answers: dict[str, Any] = complete_survey_answers()
    del answers["5-6"]
    answers["1-7"] = "9"
    answers["7-1"] = "1"
    locs = [loc for loc, _ in _errors(complete_survey_payload(answers=answers))]
    assert locs == ["answers.7-1", "answers.1-7", "answers.5-6"]


def test_errors_are_value_errors_the_api_can_translate() -> None:
    with pytest.raises(ValidationError) as caught:
        SurveyRecord.model_validate(_with_answers(i2_2="9"))
    (error,) = caught.value.errors()
    assert error["type"] == "value_error"
    assert error["loc"] == ("answers", "2-2")
    assert error["ctx"] == {"error": "基本調査 2-2 (移動): 1〜4 のいずれかで回答してください"}


def test_api_reports_the_item_as_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        SurveyRecord.model_validate(_with_answers(i2_2="9", i3_1=None))
    assert field_errors(list(caught.value.errors())) == [
        FieldError(field="answers.2-2", message="基本調査 2-2 (移動): 1〜4 のいずれかで回答してください"),
        FieldError(field="answers.3-1", message="基本調査 3-1 (意思の伝達) が未回答です"),
    ]


def test_notes_for_unknown_items_are_refused() -> None:
    errors = _errors(complete_survey_payload(notes={"8-1": "メモ"}))
    assert errors == [("notes.8-1", "特記事項 8-1 という調査項目はありません")]


def test_notes_of_a_multi_select_choice_go_to_its_question() -> None:
    errors = _errors(complete_survey_payload(notes={"1-2-3": "右膝"}))
    assert errors == [("notes.1-2-3", "特記事項 1-2-3: 1-2 (拘縮の有無) に記入してください")]


def test_note_length_is_bounded() -> None:
    errors = _errors(complete_survey_payload(notes={"2-2": "あ" * 1001}))
    assert errors == [("notes.2-2", "String should have at most 1000 characters")]


def test_note_control_characters_are_refused() -> None:
    errors = _errors(complete_survey_payload(notes={"2-2": "a\x00b"}))
    assert errors == [("notes.2-2", "Value error, 制御文字は使用できません")]


def test_answers_must_be_an_object() -> None:
    assert [loc for loc, _ in _errors(complete_survey_payload(answers=["1"] * 74))] == ["answers"]


def test_independence_ratings_are_required_and_scaled() -> None:
    payload = complete_survey_payload(dementia_independence="V")
    del payload["physical_independence"]
    locs = {loc for loc, _ in _errors(payload)}
    assert locs == {"physical_independence", "dementia_independence"}


# ------------------------------------------------------------------------------------------- overview


def test_away_from_home_needs_the_place_name() -> None:
    payload = complete_survey_payload()
    payload["overview"] = {**payload["overview"], "place": "2"}
    assert _errors(payload) == [("overview.place_name", "自宅外で実施した場合は場所名を入力してください")]
    payload["overview"]["place_name"] = "市立病院 3階病棟"
    assert SurveyRecord.model_validate(payload).overview.place_name == "市立病院 3階病棟"


def test_overview_free_text_is_bounded() -> None:
    payload = complete_survey_payload()
    payload["overview"] = {**payload["overview"], "family_and_environment": "あ" * 2001}
    assert [loc for loc, _ in _errors(payload)] == ["overview.family_and_environment"]


def test_overview_refuses_unknown_fields() -> None:
    payload = complete_survey_payload()
    payload["overview"] = {**payload["overview"], "name": "旭川 花子"}
    assert [loc for loc, _ in _errors(payload)] == ["overview.name"]


# ---------------------------------------------------------------------------------------- multi-select


def test_multi_select_questions_as_sets() -> None:
    answers = selections_to_answers("1-1", {"1-1-2", "1-1-4"})
    assert answers == {"1-1-1": "1", "1-1-2": "2", "1-1-3": "1", "1-1-4": "2", "1-1-5": "1"}
    assert selected_choices(answers, "1-1") == {"1-1-2", "1-1-4"}
    assert selections_to_answers("6", set()) == {f"6-{n}": "1" for n in range(1, 13)}


def test_multi_select_refuses_foreign_choices() -> None:
    with pytest.raises(ValueError, match="1-2 の選択肢ではありません: 1-1-1"):
        selections_to_answers("1-2", {"1-1-1"})
    with pytest.raises(ValueError, match="2-2 は複数選択の調査項目ではありません"):
        selections_to_answers("2-2", set())
