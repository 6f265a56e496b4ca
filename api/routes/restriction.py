"""給付制限: starting a case (66条 after the same check as the daily scan, or 68条 on a medical insurer's
request), a 終了申請, the insurer's notice, running the daily scan now, and a person's restrictions.

The case itself — tasks, timeline, record — is served by the generic routes (`/cases/{case_id}`,
`/tasks/…`). No transaction is held while Temporal is called.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError

from api.auth import AuditDep, Principal, check_subject_access, require
from api.deps import ResourcesDep
from api.params import InsuredNoPath
from api.unit_of_work import transaction
from kaigo import temporal_client
from kaigo.errors import ProblemError
from models.case import CASE_ID_PATTERN, CaseState, CaseType, parse_case_id
from models.common import today_in_japan
from models.permissions import Permission
from models.restriction import (
    InsurerNotice,
    InsurerNoticeRequest,
    LiftingAccepted,
    LiftingApplication,
    LiftingRequest,
    PersonRestrictions,
    RestrictionCase,
    RestrictionKind,
    RestrictionStart,
    ScanInput,
    ScanRequest,
    ScanResult,
    StartedCase,
)
from services import cases, premiums, restriction
from workflows.restriction_scan import RestrictionScanWorkflow

router = APIRouter(tags=["restriction"])

Manager = Annotated[Principal, require(Permission.RESTRICTION_MANAGE)]
CaseReader = Annotated[Principal, require(Permission.CASE_READ)]
RestrictionCaseId = Annotated[
    str,
    Path(
        pattern=CASE_ID_PATTERN,
        max_length=64,
        description="給付制限のケースID (= ワークフローID、例 restriction-3f2c9a0e5b7d4c1e8a6f0b2d4e6a8c0f)",
    ),
]
SCAN_WAIT = timedelta(seconds=30)


def _example(value: Any) -> dict[str, Any]:
    return {"walkthrough": {"summary": "記入例", "value": value}}


_START_EXAMPLE = {"insured_no": "0100000123", "kind": "delinquency"}
_LIFTING_EXAMPLE = {
    "reason": "special_circumstances",
    "received_on": "2026-12-01",
    "note": "火災により住宅が全焼したため (罹災証明書あり)",
}
_INSURER_NOTICE_EXAMPLE = {"received_on": "2026-12-01", "note": "未納保険料(税)の完納の通知"}
_CATEGORY2_EXAMPLE = {
    "insured_no": "0100000124",
    "kind": "category2",
    "medical_insurer": "旭川市国民健康保険",
    "request_received_on": "2026-12-01",
    "insurer_arrears": [
        {"fiscal_year": 2025, "period": 3, "due_on": "2025-09-30", "assessed": 18400, "unpaid": 18400}
    ],
}


@router.post(
    "/restriction-cases",
    status_code=status.HTTP_201_CREATED,
    summary="給付制限を開始する (66条: 滞納1年の確認、68条: 医療保険者の差止依頼の記録)",
)
async def start_case(
    data: Annotated[
        RestrictionStart,
        Body(
            openapi_examples={
                **_example(_START_EXAMPLE),
                "category2": {"summary": "68条", "value": _CATEGORY2_EXAMPLE},
            }
        ),
    ],
    principal: Manager,
    resources: ResourcesDep,
    audit: AuditDep,
) -> StartedCase:
    settings = resources.settings
    case_id = await restriction.start_by_staff(
        sessions=resources.sessions,
        temporal=resources.temporal,
        data=data,
        today=today_in_japan(),
        policy=settings.restriction_policy,
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
        actor=principal.login_id,
    )
    async with transaction(resources, audit) as session:
        case = await cases.get(session=session, case_id=case_id)
        audit.record(
            "restriction.start", subject=case.subject_atena_no, detail={"case_id": case_id, "kind": data.kind}
        )
    return StartedCase(
        case_id=case_id, kind=RestrictionKind(data.kind), insured_no=data.insured_no, stage=case.stage
    )


async def _open_case(resources: ResourcesDep, audit: AuditDep, case_id: str, kind: RestrictionKind) -> str:
    """The case's 宛名番号, once it is an open restriction case of `kind`."""
    parsed = parse_case_id(case_id)
    if parsed is None or parsed[0] is not CaseType.RESTRICTION:
        raise ProblemError(404, "case-not-found", f"給付制限のケース {case_id} はありません", field="case_id")
    async with transaction(resources, audit) as session:
        case = await cases.get(session=session, case_id=case_id)
        row = await session.get(RestrictionCase, case_id)
    if row is None or row.kind != kind:
        what = "66条 (保険料滞納)" if kind is RestrictionKind.DELINQUENCY else "68条 (第2号)"
        raise ProblemError(409, "wrong-kind", f"このケースは{what}のケースではありません", field="case_id")
    if case.state != CaseState.OPEN:
        raise ProblemError(409, "case-closed", "このケースは既に終了しています", field="case_id")
    return case.subject_atena_no


@router.post(
    "/restriction-cases/{case_id}/lifting-applications",
    status_code=status.HTTP_202_ACCEPTED,
    summary="終了申請を受け付ける (滞納額の著しい減少・特別の事情; 審査タスクが開く)",
)
async def apply_for_lifting(
    case_id: RestrictionCaseId,
    data: Annotated[
        LiftingApplication,
        Body(openapi_examples=_example(_LIFTING_EXAMPLE)),
    ],
    principal: Manager,
    resources: ResourcesDep,
    audit: AuditDep,
) -> LiftingAccepted:
    atena_no = await _open_case(resources, audit, case_id, RestrictionKind.DELINQUENCY)
    accepted = await restriction.apply_for_lifting(
        temporal=resources.temporal,
        case_id=case_id,
        request=LiftingRequest(**data.model_dump(), actor=principal.login_id),
    )
    async with transaction(resources, audit):
        audit.record(
            "restriction.lifting_application",
            subject=atena_no,
            detail={"case_id": case_id, "reason": data.reason},
        )
    return accepted


@router.post(
    "/restriction-cases/{case_id}/insurer-notices",
    status_code=status.HTTP_202_ACCEPTED,
    summary="医療保険者からの未納解消の通知を記録する (68条: 差止を解除)",
)
async def record_insurer_notice(
    case_id: RestrictionCaseId,
    data: Annotated[
        InsurerNotice,
        Body(openapi_examples=_example(_INSURER_NOTICE_EXAMPLE)),
    ],
    principal: Manager,
    resources: ResourcesDep,
    audit: AuditDep,
) -> JSONResponse:
    atena_no = await _open_case(resources, audit, case_id, RestrictionKind.CATEGORY2)
    await restriction.record_insurer_notice(
        temporal=resources.temporal,
        case_id=case_id,
        request=InsurerNoticeRequest(**data.model_dump(), actor=principal.login_id),
    )
    async with transaction(resources, audit):
        audit.record("restriction.insurer_notice", subject=atena_no, detail={"case_id": case_id})
    return JSONResponse({"case_id": case_id}, status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/restriction-scans",
    summary="日次の滞納確認を今すぐ実行する (Schedule と同じ処理; 二重に開始されることはない)",
    responses={202: {"description": "30秒以内に終わらなかった (scan_id で Temporal UI から追える)"}},
)
async def run_scan(
    data: Annotated[ScanRequest, Body(openapi_examples=_example({"note": "月次点検のため"}))],
    _: Manager,
    resources: ResourcesDep,
    audit: AuditDep,
) -> JSONResponse:
    settings = resources.settings
    scan_id = f"restriction-scan-manual-{uuid.uuid4().hex}"
    scan = ScanInput(
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
        policy=settings.restriction_policy,
    )
    async with temporal_client.bounded():
        handle = await resources.temporal.start_workflow(
            RestrictionScanWorkflow.run,
            scan,
            id=scan_id,
            task_queue=settings.temporal_task_queue,
            rpc_timeout=temporal_client.CALL_TIMEOUT,
        )
    async with transaction(resources, audit):
        audit.record("restriction.scan", detail={"scan_id": scan_id, "note": data.note})
    try:
        async with temporal_client.bounded(SCAN_WAIT):
            result: ScanResult = await handle.result()
    except temporal_client.TemporalUnavailable:
        return JSONResponse({"scan_id": scan_id}, status_code=status.HTTP_202_ACCEPTED)
    except WorkflowFailureError:
        raise ProblemError(
            409,
            "scan-failed",
            "滞納確認が失敗しました。Temporal UI で scan_id を確認してください",
            extra={"scan_id": scan_id},
        ) from None
    return JSONResponse({"scan_id": scan_id, **result.model_dump(mode="json")})


@router.get(
    "/insured/{insured_no}/restrictions", summary="被保険者の給付制限 (種類・期間・状態; 69条の減額を含む)"
)
async def person_restrictions(
    insured_no: InsuredNoPath, principal: CaseReader, resources: ResourcesDep, audit: AuditDep
) -> PersonRestrictions:
    async with transaction(resources, audit) as session:
        insured, _ = await premiums.person_exists(session, insured_no)
        await check_subject_access(
            principal=principal,
            permission=Permission.CASE_READ,
            atena_no=insured.atena_no,
            resources=resources,
            trail=audit,
        )
        audit.record("restriction.read", subject=insured.atena_no, detail={"insured_no": insured_no})
        return await restriction.restrictions_of(session, insured_no, today_in_japan())
