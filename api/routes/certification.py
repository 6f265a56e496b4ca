"""要介護認定: receive applications, withdraw them, and exchange files with the 一次判定 software."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status
from fastapi.responses import JSONResponse

from api.auth import AuditDep, Principal, check_subject_access, require
from api.deps import ResourcesDep, SessionDep
from api.idempotency import IdempotencyDep
from api.task_views import task_view
from api.unit_of_work import transaction
from kaigo.errors import ProblemError
from models.alwaysj import (
    AlwaysjCsvError,
    ApplicationExportRow,
    export_application_record,
    parse_primary_result_csv,
)
from models.case import CaseState
from models.certification import ApplicationCreate, ApplicationPublic, EndReason, Withdrawal
from models.certification_tasks import CertificationTask
from models.common import utcnow
from models.permissions import Permission
from models.physician_opinion import PhysicianOpinion
from models.procedure import EndCase
from models.registry import Person
from models.survey import SurveyRecord
from models.task import TaskPublic
from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel
from services import cases, certification, tasks

router = APIRouter(tags=["certification"])

Intake = Annotated[Principal, require(Permission.CERTIFICATION_INTAKE)]
CaseReader = Annotated[Principal, require(Permission.CASE_READ)]
ApplicationIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="申請ID")]


@router.post(
    "/certification-applications",
    status_code=status.HTTP_201_CREATED,
    summary="認定申請を受け付ける (Idempotency-Key 対応)",
    response_model=ApplicationPublic,
)
async def receive_application(
    data: ApplicationCreate,
    principal: Intake,
    resources: ResourcesDep,
    audit: AuditDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    replay = await idempotency.begin(principal.login_id, data.model_dump(mode="json"))
    if replay is not None:
        return replay
    application, case = await certification.receive(
        sessions=resources.sessions,
        temporal=resources.temporal,
        settings=resources.settings,
        data=data,
        actor=principal.login_id,
    )
    body = ApplicationPublic.of(application, case).model_dump(mode="json")
    async with transaction(resources, audit) as session:
        audit.record(
            "certification.receive", subject=application.atena_no, detail={"application_id": application.id}
        )
        await idempotency.complete(session, status.HTTP_201_CREATED, body)
    return JSONResponse(
        body,
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/certification-applications/{application.id}"},
    )


@router.get("/certification-applications/{application_id}", summary="認定申請の状況")
async def get_application(
    application_id: ApplicationIdPath,
    principal: CaseReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> ApplicationPublic:
    application, case = await certification.get(session=session, application_id=application_id)
    await check_subject_access(
        principal=principal,
        permission=Permission.CASE_READ,
        atena_no=application.atena_no,
        resources=resources,
        trail=audit,
    )
    audit.record(
        "certification.read", subject=application.atena_no, detail={"application_id": application_id}
    )
    return ApplicationPublic.of(application, case)


@router.post("/certification-applications/{application_id}/withdrawal", summary="申請の取下げ")
async def withdraw(
    application_id: ApplicationIdPath,
    data: Withdrawal,
    principal: Intake,
    resources: ResourcesDep,
    audit: AuditDep,
) -> ApplicationPublic:
    async with transaction(resources, audit) as session:
        application, case = await certification.get(session=session, application_id=application_id)
    # A withdrawn case goes on to the workflow: the same withdrawal sent again (a retry after a timeout)
    # answers with its outcome, a different one is refused there (services/cases.end_case).
    if case.state != CaseState.OPEN and application.end_reason != EndReason.WITHDRAWN:
        raise ProblemError(409, "case-closed", "この申請は既に決定または終了しています")
    await cases.end_case(
        temporal=resources.temporal,
        case_id=case.id,
        request=EndCase(
            reason=EndReason.WITHDRAWN, actor=principal.login_id, on=data.withdrawn_on, note=data.reason
        ),
    )
    async with transaction(resources, audit) as session:
        audit.record(
            "certification.withdraw", subject=application.atena_no, detail={"application_id": application_id}
        )
        application, case = await certification.get(session=session, application_id=application_id)
        return ApplicationPublic.of(application, case)


@router.get(
    "/certification-applications/{application_id}/alwaysj-export",
    summary="一次判定ソフトへ渡す申請情報 (CSV)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_for_primary(
    application_id: ApplicationIdPath,
    _: Intake,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> Response:
    application, _ = await certification.get(session=session, application_id=application_id)
    if application.survey is None or application.opinion is None:
        raise ProblemError(409, "evidence-missing", "認定調査と主治医意見書がそろってから出力できます")
    person = await session.get(Person, application.atena_no)
    assert person is not None
    row = ApplicationExportRow(
        insurer_no=resources.settings.insurer_no,
        insured_no=application.insured_no,
        applied_on=application.applied_on,
        application_kind=ApplicationKind(application.kind),
        insured_category=InsuredCategory(application.category),
        sex=person.sex,
        birth_date=person.birth_date,
        previous_level=CareLevel(application.previous_level) if application.previous_level else None,
        previous_valid_to=application.previous_valid_to,
        specified_disease=application.specified_disease,
        survey=SurveyRecord.model_validate(application.survey),
        opinion=PhysicianOpinion.model_validate(application.opinion),
    )
    audit.record("alwaysj.export", subject=application.atena_no, detail={"application_id": application_id})
    return Response(
        export_application_record([row]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="shinsei-{application_id}.csv"'},
    )


@router.post(
    "/certification-applications/{application_id}/primary-result",
    summary="一次判定結果 (CSV) を取り込む",
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_primary_result(
    application_id: ApplicationIdPath,
    request: Request,
    principal: Intake,
    resources: ResourcesDep,
    audit: AuditDep,
    content_type: Annotated[str | None, Header()] = None,
) -> TaskPublic:
    if not (content_type or "").startswith("text/csv"):
        raise ProblemError(
            415, "csv-required", "Content-Type: text/csv で一次判定結果ファイルを送ってください"
        )
    try:
        records = parse_primary_result_csv(await request.body())
    except AlwaysjCsvError as error:
        issues = [{"line": i.line, "column": i.column, "message": i.message} for i in error.issues]
        raise ProblemError(
            422, "primary-csv", str(error).splitlines()[0], field="csv", extra={"issues": issues}
        ) from None
    async with transaction(resources, audit) as session:
        application, _ = await certification.get(session=session, application_id=application_id)
        task = await tasks.open_of_kind(
            session=session, case_id=application.workflow_id, kind=CertificationTask.PRIMARY_RESULT
        )
    mine = [
        r
        for r in records
        if r.insured_no == application.insured_no and r.applied_on == application.applied_on
    ]
    if len(mine) != 1:
        raise ProblemError(
            422,
            "primary-csv",
            "この申請の一次判定結果がファイルにありません (被保険者番号・申請日)",
            field="csv",
        )
    if task is None:
        raise ProblemError(409, "no-primary-task", "この申請は一次判定結果の取込待ちではありません")
    await tasks.complete(
        temporal=resources.temporal,
        task=task,
        actor=principal.login_id,
        payload=mine[0].model_dump(mode="json"),
    )
    async with transaction(resources, audit) as session:
        audit.record(
            "primary.import", subject=application.atena_no, detail={"application_id": application_id}
        )
        return task_view(await tasks.get(session=session, task_id=task.id), utcnow(), principal)
