"""A case of any procedure: its header (stage, next due date, office), its record, timeline and tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.auth import AuditDep, Principal, check_subject_access, require
from api.deps import ResourcesDep, SessionDep
from api.task_views import task_view
from models.case import CASE_ID_EXAMPLE, CaseEventPublic, CaseId, CasePublic
from models.common import utcnow
from models.permissions import Permission
from models.task import TaskPublic
from procedures import procedure_of
from services import cases, tasks

router = APIRouter(tags=["cases"])


class CaseDetail(BaseModel):
    case: CasePublic
    stage_label: str = Field(description="段階 (日本語)")
    record: dict[str, Any] | None = Field(description="手続ごとの記録 (認定なら申請)")
    timeline: list[CaseEventPublic]
    tasks: list[TaskPublic]


@router.get("/cases/{case_id}", summary="ケースの経過 (各段階の担当者と日時)")
async def get_case(
    case_id: Annotated[
        CaseId,
        Path(
            description=f"ケースID (= Temporal のワークフローID: <手続>-<32桁の16進数>、例 {CASE_ID_EXAMPLE})"
        ),
    ],
    principal: Annotated[Principal, require(Permission.CASE_READ)],
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> CaseDetail:
    case = await cases.get(session=session, case_id=case_id)
    await check_subject_access(
        principal=principal,
        permission=Permission.CASE_READ,
        atena_no=case.subject_atena_no,
        resources=resources,
        trail=audit,
    )
    procedure = procedure_of(case_id)
    assert procedure is not None  # a case row exists only for a registered procedure
    record = await procedure.record(session, case)
    audit.record("case.read", subject=case.subject_atena_no, detail={"case_id": case_id})
    now = utcnow()
    return CaseDetail(
        case=CasePublic.model_validate(case),
        stage_label=procedure.model.stages.get(case.stage, case.stage),
        record=record.model_dump(mode="json") if record else None,
        timeline=[
            CaseEventPublic.model_validate(e) for e in await cases.timeline(session=session, case_id=case_id)
        ],
        tasks=[task_view(t, now, principal) for t in await tasks.of_case(session=session, case_id=case_id)],
    )
