"""A case's timeline: every step with actor and time, its tasks and its current stage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlmodel import col, select

from api.auth import AuditDep, Principal, check_subject_access, require
from api.deps import ResourcesDep, SessionDep
from kaigo.errors import ProblemError
from kaigo.security.permissions import Permission
from models.case import CaseEvent, CaseEventPublic
from models.certification import STAGE_LABELS, ApplicationPublic, CertificationApplication, Stage
from models.common import utcnow
from models.task import Task
from services.tasks import TaskPublic

router = APIRouter(tags=["cases"])


class CaseDetail(BaseModel):
    case_id: str
    case_type: str
    stage: Stage
    stage_label: str
    application: ApplicationPublic
    timeline: list[CaseEventPublic]
    tasks: list[TaskPublic]


@router.get("/cases/{case_id}", summary="ケースの経過 (各段階の担当者と日時)")
async def get_case(
    case_id: Annotated[
        str, Path(pattern=r"^certification-[0-9a-f]{32}$", description="ケースID (ワークフローID)")
    ],
    principal: Annotated[Principal, require(Permission.CASE_READ)],
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> CaseDetail:
    application = (
        await session.exec(
            select(CertificationApplication).where(CertificationApplication.workflow_id == case_id)
        )
    ).first()
    if application is None:
        raise ProblemError(404, "case-not-found", f"ケース {case_id} はありません", field="case_id")
    await check_subject_access(
        principal=principal,
        permission=Permission.CASE_READ,
        atena_no=application.atena_no,
        resources=resources,
        trail=audit,
    )
    events = (
        await session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id)))
    ).all()
    case_tasks = (
        await session.exec(select(Task).where(Task.case_id == case_id).order_by(col(Task.created_at)))
    ).all()
    audit.record("case.read", subject=application.atena_no, detail={"case_id": case_id})
    now = utcnow()
    return CaseDetail(
        case_id=case_id,
        case_type="certification",
        stage=Stage(application.stage),
        stage_label=STAGE_LABELS[Stage(application.stage)],
        application=ApplicationPublic.model_validate(application),
        timeline=[CaseEventPublic.model_validate(e) for e in events],
        tasks=[TaskPublic.of(t, now) for t in case_tasks],
    )
