"""The console's pure pieces: forms from payload models and back, and CSV that a spreadsheet cannot run."""

from __future__ import annotations

from starlette.datastructures import FormData

from api.console.charts import Table
from api.console.schema_form import fields_of, flatten, payload_from_form
from models.certification_tasks import BoardClosePayload, OpinionReminder
from models.physician_opinion import PhysicianOpinion
from tests.survey_fixtures import complete_opinion_payload


def test_a_model_becomes_labelled_fields_with_its_choices_in_words() -> None:
    specs = {s.name: s for s in fields_of(OpinionReminder)}
    assert specs["payload.reminded_on"].kind == "date" and specs["payload.reminded_on"].required
    assert specs["payload.method"].choices == [
        ("phone", "電話"),
        ("letter", "文書"),
        ("fax", "FAX"),
        ("visit", "訪問"),
    ]
    assert specs["payload.note"].label == "先方の回答 (提出予定日など)" and not specs["payload.note"].required
    opinion = {s.name: s for s in fields_of(PhysicianOpinion)}
    rows = opinion["payload.diagnoses"].rows
    assert [len(row) for row in rows] == [2, 2, 2]  # up to three 診断名
    assert [row[0].required for row in rows] == [
        True,
        False,
        False,
    ]  # one is needed, the others may stay empty
    assert ("stable", "安定") in opinion["payload.stability"].choices
    close = {s.name: s for s in fields_of(BoardClosePayload)}
    assert (
        close["payload.service_types"].kind == "lines" and close["payload.board_opinion"].kind == "textarea"
    )
    assert close["payload.specified_disease_confirmed"].kind == "bool"


def test_a_posted_form_becomes_the_payload_and_back() -> None:
    payload = complete_opinion_payload()
    form = FormData(list(flatten(payload).items()) + [("payload.diagnoses.2.name", ""), ("csrf_token", "x")])
    parsed = payload_from_form(form)
    assert parsed == {k: v for k, v in payload.items() if v is not None}  # empty rows and fields left out
    assert PhysicianOpinion.model_validate(parsed).diagnoses[1].name == "高血圧症"
    lines = payload_from_form(FormData([("payload.service_types:lines", "訪問介護\n\n 通所介護 ")]))
    assert lines == {"service_types": ["訪問介護", "通所介護"]}


def test_csv_cells_that_would_be_formulas_are_quoted() -> None:
    table = Table(["合議体", "件数", "残り日数"], [['=HYPERLINK("http://x")', 3, -2], ["第1合議体", 1, 0]])
    text = table.csv().decode("utf-8-sig")
    assert text.splitlines() == ["合議体,件数,残り日数", '"\'=HYPERLINK(""http://x"")",3,-2', "第1合議体,1,0"]


def test_every_task_kind_has_a_form_that_renders_with_a_label_on_every_field() -> None:
    """Kinds without a form of their own (a notice repair, the board scheduling, the other procedures' kinds)
    get the generic one; the forms that need a case file or an upload are rendered in tests/api."""
    import re

    from api.console.pages import environment
    from api.console.task_forms import form_for
    from procedures import TASK_KINDS

    rich = {"survey", "primary_result", "board_vote", "board_close"}
    for kind, spec in TASK_KINDS.items():
        if kind in rich:
            continue
        form = form_for(kind)
        html = environment.get_template(form.template).render(
            editable=True, spec=spec, specs=form.specs(kind), values={}, errors={},
            deadline="2026-12-31", application={"applied_on": "2026-12-01", "category": "1"},
            term={"expiry": "2026-12-31"}, last_filing_day="2027-01-04",
        )  # fmt: skip
        ids = re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html)
        assert ids, kind
        for field_id in ids:
            assert f'<label for="{field_id}">' in html, f"{kind}: {field_id} has no label"
