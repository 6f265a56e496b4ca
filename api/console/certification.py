"""要介護認定 in the console: its task forms, its case panel (30-day clock, the application, the secretariat's
board material), the 申請情報 CSV for the 一次判定 software, and the intake form.

The survey form is built from the survey schema (models/survey.py): the 74 基本調査 items grouped by 群 with
their answer scales, the 概況調査 from its model, a 特記事項 box per note number — nothing typed by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from api.console import bridge
from api.console.auth import Console, CsrfChecked, console_require
from api.console.case_panels import CasePanel, Clock
from api.console.case_panels import register as register_panel
from api.console.cases import case_page
from api.console.pages import PAGE_HEADERS, ConsoleRoute, page
from api.console.schema_form import FieldSpec, choice_label, fields_of, flatten, payload_from_form
from api.console.task_forms import TaskForm
from api.console.task_forms import register as register_form
from api.errors import field_errors
from api.routes import board as board_routes
from api.routes import cases as case_routes
from api.routes import certification as certification_routes
from api.routes import registry as registry_routes
from api.routes.cases import CaseDetail
from kaigo.errors import ProblemError
from models.alwaysj import AlwaysjCsvError, parse_primary_result_csv
from models.case import CASE_ID_PATTERN, CaseState, CaseType
from models.certification import ApplicationCreate
from models.certification_tasks import CertificationTask as T
from models.common import today_in_japan
from models.permissions import Permission
from models.physician_opinion import PhysicianOpinion
from models.survey import (
    SURVEY_SCHEMA_VERSION,
    CurrentSituation,
    SurveyGroup,
    SurveyOverview,
    SurveyPlace,
    get_schema,
)
from models.task import TaskPublic
from rules.primary_determination import DementiaIndependence, PhysicalIndependence

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Secretariat = Annotated[Console, console_require(Permission.BOARD_MANAGE)]
Intake = Annotated[Console, console_require(Permission.CERTIFICATION_INTAKE)]
CaseIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="ケースID")]

_PLACE = {SurveyPlace.AT_HOME: "自宅内", SurveyPlace.AWAY: "自宅外"}
_SITUATION = {
    CurrentSituation.HOME: "居宅 (施設利用なし)",
    CurrentSituation.SPECIAL_NURSING_HOME: "指定介護老人福祉施設",
    CurrentSituation.HEALTH_FACILITY: "介護老人保健施設",
    CurrentSituation.LONG_TERM_CARE_SANATORIUM: "指定介護療養型医療施設",
    CurrentSituation.GROUP_HOME: "認知症対応型共同生活介護適用施設 (グループホーム)",
    CurrentSituation.SPECIFIED_FACILITY: "特定施設入居者生活介護適用施設 (ケアハウス等)",
    CurrentSituation.HOSPITAL_LONG_TERM_BED: "医療機関 (医療保険適用療養病床)",
    CurrentSituation.HOSPITAL_OTHER: "医療機関 (療養病床以外)",
    CurrentSituation.OTHER_FACILITY: "その他の施設",
    CurrentSituation.MEDICAL_CARE_CENTER: "介護医療院",
}


def _application_id(case_id: str) -> str:
    return case_id.removeprefix("certification-")


# ------------------------------------------------------------------------------------------- 認定調査


@dataclass(frozen=True)
class NoteBox:
    key: str
    label: str


def _overview_fields() -> list[FieldSpec]:
    specs = fields_of(SurveyOverview, "payload.overview")
    for spec in specs:
        if spec.name.endswith(".place"):
            spec.choices = [(p.value, label) for p, label in _PLACE.items()]
        elif spec.name.endswith(".current_situation"):
            spec.choices = [(s.value, label) for s, label in _SITUATION.items()]
    return specs


def _survey_fields(kind: str) -> list[FieldSpec]:  # noqa: ARG001
    return [
        FieldSpec(
            name="payload.physical_independence",
            label="障害高齢者の日常生活自立度 (寝たきり度)",
            kind="select",
            required=True,
            choices=[(v.value, v.value) for v in PhysicalIndependence],
        ),
        FieldSpec(
            name="payload.dementia_independence",
            label="認知症高齢者の日常生活自立度",
            kind="select",
            required=True,
            choices=[(v.value, v.value) for v in DementiaIndependence],
        ),
    ]


async def _survey_context(console: Console, task: TaskPublic) -> dict[str, Any]:  # noqa: ARG001
    schema = get_schema(SURVEY_SCHEMA_VERSION)
    groups = []
    for group in SurveyGroup:
        items = [item for item in schema.items if item.group is group]
        keys = list(dict.fromkeys(item.note_key for item in items))
        names = {item.id: item.name.split("（")[0] for item in items}
        notes = [
            NoteBox(key, f"特記事項 {key} ({names.get(key) or names.get(f'{key}-1', '')})") for key in keys
        ]
        groups.append({"label": group.label, "items": items, "notes": notes})
    return {
        "schema": schema,
        "groups": groups,
        "overview_fields": _overview_fields(),
        "item_count": len(schema.items),
    }


async def _survey_payload(console: Console, task: TaskPublic, form: FormData) -> dict[str, Any]:  # noqa: ARG001
    payload = payload_from_form(form)
    payload["schema_version"] = SURVEY_SCHEMA_VERSION
    payload.setdefault("answers", {})  # missing answers are each named by the model, not one "answers" error
    return payload


# ------------------------------------------------------------------------------------------ 一次判定


async def _primary_context(console: Console, task: TaskPublic) -> dict[str, Any]:
    return {
        "export_url": f"/console/cases/{task.case_id}/alwaysj-export",
        "may_export": console.may(Permission.CERTIFICATION_INTAKE),
    }


async def _primary_payload(console: Console, task: TaskPublic, form: FormData) -> dict[str, Any]:
    upload = form.get("csv")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ProblemError(422, "csv-required", "一次判定結果の CSV ファイルを選んでください", field="csv")
    data = await upload.read(2_000_001)
    if len(data) > 2_000_000:
        raise ProblemError(413, "csv-too-large", "ファイルが大きすぎます (2MB まで)", field="csv")
    try:
        records = parse_primary_result_csv(data)
    except AlwaysjCsvError as error:
        lines = [str(issue) for issue in error.issues[:10]]
        raise ProblemError(422, "primary-csv", " / ".join(lines), field="csv") from None
    detail = await bridge.call(console, case_routes.get_case, case_id=task.case_id)
    record = detail.record or {}
    mine = [
        r
        for r in records
        if r.insured_no == record.get("insured_no") and r.applied_on.isoformat() == record.get("applied_on")
    ]
    if len(mine) != 1:
        raise ProblemError(
            422,
            "primary-csv",
            "この申請の一次判定結果がファイルにありません (被保険者番号・申請日)",
            field="csv",
        )
    return mine[0].model_dump(mode="json")


@router.get(
    "/cases/{case_id}/alwaysj-export", summary="一次判定ソフトへ渡す申請情報 (CSV) をダウンロードする"
)
async def alwaysj_export(case_id: CaseIdPath, c: Intake) -> Any:
    return await bridge.call(
        c, certification_routes.export_for_primary, application_id=_application_id(case_id)
    )


# ------------------------------------------------------------------------------------------- 審査会


async def _board_context(console: Console, task: TaskPublic) -> dict[str, Any]:
    file = await bridge.call(console, board_routes.case_file, application_id=_application_id(task.case_id))
    schema = get_schema(SURVEY_SCHEMA_VERSION)
    answers = (file.survey_answers or {}).get("answers") or {}
    rows = [
        (item, item.scale.label(answers[item.id]) if item.id in answers else "—") for item in schema.items
    ]
    opinion = {}
    for name, value in (file.opinion or {}).items():
        kind = (
            PhysicianOpinion.model_fields[name].annotation if name in PhysicianOpinion.model_fields else None
        )
        member = next((m for m in getattr(kind, "__members__", {}).values() if m.value == value), None)
        opinion[name] = choice_label(member) if member is not None else value
    return {"file": file, "answer_rows": rows, "opinion_labels": opinion}


async def _delay_context(console: Console, task: TaskPublic) -> dict[str, Any]:
    detail = await bridge.call(console, case_routes.get_case, case_id=task.case_id)
    return {"deadline": (detail.record or {}).get("decision_deadline")}


async def _opinion_context(console: Console, task: TaskPublic) -> dict[str, Any]:
    detail = await bridge.call(console, case_routes.get_case, case_id=task.case_id)
    return {"application": detail.record or {}}


for kind, form in {
    T.SURVEY: TaskForm("console/forms/survey.html", _survey_context, _survey_payload, _survey_fields),
    T.PRIMARY_RESULT: TaskForm(
        "console/forms/primary_result.html", _primary_context, _primary_payload, drafts=False, multipart=True
    ),
    T.BOARD_VOTE: TaskForm("console/forms/board_vote.html", _board_context),
    T.BOARD_CLOSE: TaskForm("console/forms/board_close.html", _board_context),
    T.DELAY_ESTIMATE: TaskForm("console/forms/delay_estimate.html", _delay_context),
    T.OPINION_REQUEST: TaskForm("console/forms/opinion.html", _opinion_context),
    T.OPINION_RECEIPT: TaskForm("console/forms/opinion.html", _opinion_context),
    T.OPINION_REMINDER: TaskForm("console/forms/opinion.html", _opinion_context),
}.items():
    register_form(kind, form)


# ------------------------------------------------------------------------------------------ case panel


def _clocks(detail: CaseDetail) -> list[Clock]:
    if detail.case.state != CaseState.OPEN:
        return []
    record = detail.record or {}
    clocks = [
        Clock("決定期限", _date(record.get("decision_deadline")), "申請日から30日以内 (介護保険法27条11項)")
    ]
    if detail.case.due_on and detail.case.due_on != clocks[0].due:
        clocks.append(Clock("次の期限", detail.case.due_on, detail.case.details or detail.stage_label))
    if record.get("deemed_rejection_on"):
        clocks.append(Clock("却下とみなすことができる日", _date(record["deemed_rejection_on"]), "27条12項"))
    return clocks


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def _panel_extra(console: Console, detail: CaseDetail) -> dict[str, Any]:
    """The secretariat's board material, while the case is on its way to the board."""
    record = detail.record or {}
    if (
        not console.may(Permission.BOARD_MANAGE)
        or detail.case.state != CaseState.OPEN
        or detail.case.stage not in ("primary", "board")
    ):
        return {"material": None}
    material = await bridge.call(console, board_routes.get_material, application_id=record["id"])
    return {"material": material}


register_panel(CaseType.CERTIFICATION, CasePanel("console/cases/certification.html", _clocks, _panel_extra))


@router.post("/cases/{case_id}/board-material", summary="審査会資料に載せる特記事項・意見書の要点を登録する")
async def save_board_material(
    case_id: CaseIdPath, request: Request, c: Secretariat, _: CsrfChecked
) -> Response:
    form = await request.form()
    notes = {
        key.removeprefix("note."): str(value).strip()
        for key, value in form.items()
        if key.startswith("note.") and form.get(f"include.{key.removeprefix('note.')}") and str(value).strip()
    }
    points = str(form.get("opinion_points") or "").strip() or None
    try:
        data = board_routes.MaterialUpdate(marked_notes=notes, opinion_points=points)
        await bridge.call(c, board_routes.put_material, application_id=_application_id(case_id), data=data)
    except ValidationError as invalid:
        errors = field_errors(list(invalid.errors()))
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return await case_page(c, case_id, banner=detail, banner_kind="error", status_code=422)
    except ProblemError as problem:
        return await case_page(
            c, case_id, banner=problem.detail, banner_kind="error", status_code=problem.status
        )
    return await case_page(
        c, case_id, banner="審査会資料を登録しました。委員には登録した内容だけが表示されます。"
    )


# ------------------------------------------------------------------------------------------- intake


def _intake_fields() -> list[FieldSpec]:
    specs = [s for s in fields_of(ApplicationCreate, "application") if not s.name.endswith(".insured_no")]
    return specs


@router.get("/applications/new", summary="認定申請の受付画面 (被保険者番号で対象者を確認して申請を登録)")
async def new_application(
    c: Intake, insured_no: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    return await _intake_page(c, insured_no)


async def _intake_page(
    c: Console,
    insured_no: str | None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    banner: str | None = None,
    status_code: int = 200,
    case_link: str | None = None,
) -> Response:
    insured = None
    lookup_error = None
    if insured_no:
        try:
            insured = await bridge.call(c, registry_routes.get_insured, insured_no=insured_no.strip())
        except ProblemError as problem:
            lookup_error = problem.detail
    specs = _intake_fields()
    for spec in specs:
        if spec.name == "application.office":
            spec.kind = "select"
            spec.choices = list(c.settings.office_labels.items())
    defaults = {"application.applied_on": today_in_japan().isoformat(), "application.kind": "new"}
    return page(
        c,
        "console/intake.html",
        status_code=status_code,
        title="認定申請の受付",
        insured_no=insured_no or "",
        insured=insured,
        lookup_error=lookup_error,
        specs=specs,
        values=values if values is not None else defaults,
        errors=errors or {},
        banner=banner,
        case_link=case_link,
    )


@router.post("/applications", summary="認定申請を受け付ける (API と同じ受付処理)")
async def file_application(
    request: Request, c: Intake, _: CsrfChecked, insured_no: Annotated[str, Form(max_length=20)]
) -> Response:
    form = await request.form()
    body = payload_from_form(form, prefix="application") | {"insured_no": insured_no.strip()}
    values = flatten(body, "application")
    try:
        data = ApplicationCreate.model_validate(body)
    except ValidationError as invalid:
        errors = {f"application.{e.field}": e.message for e in field_errors(list(invalid.errors()))}
        return await _intake_page(
            c, insured_no, values=values, errors=errors, banner="入力内容を確認してください", status_code=422
        )
    try:
        created = await bridge.call(c, certification_routes.receive_application, data=data)
    except ProblemError as problem:
        errors = {f"application.{field}": message for field, message in problem.fields}
        case_id = problem.extra.get("case_id")
        return await _intake_page(
            c,
            insured_no,
            values=values,
            errors=errors,
            banner=problem.detail,
            status_code=problem.status,
            case_link=f"/console/cases/{case_id}" if isinstance(case_id, str) else None,
        )
    workflow_id = json.loads(bytes(created.body))["workflow_id"]
    return RedirectResponse(
        f"/console/cases/{workflow_id}?done=received", status_code=303, headers=PAGE_HEADERS
    )
