"""要介護認定 intake and case endings: the application row, and the workflow that owns its procedure."""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from kaigo import temporal_client
from kaigo.config import Settings
from kaigo.errors import ProblemError
from models.certification import (
    ApplicationCreate,
    ApplicationState,
    CertificationApplication,
    EndReason,
    SecondCategoryRequirements,
)
from models.registry import Insured, Person
from models.workflow_io import CertificationInput, CertificationOutcome, EndCase
from rules.certification import decision_deadline
from rules.insured_status import InsuredCategory
from services import workflow_updates
from workflows.certification import CertificationWorkflow, search_attributes_at_start


def application_not_found(application_id: str) -> ProblemError:
    return ProblemError(
        404, "application-not-found", f"申請 {application_id} はありません", field="application_id"
    )


async def get(*, session: AsyncSession, application_id: str) -> CertificationApplication:
    application = await session.get(CertificationApplication, application_id)
    if application is None:
        raise application_not_found(application_id)
    return application


async def receive(
    *, session: AsyncSession, temporal: Client, settings: Settings, data: ApplicationCreate, actor: str
) -> CertificationApplication:
    """Record the application and start its workflow (in that order; a failed start rolls the row back)."""
    insured = await session.get(Insured, data.insured_no)
    if insured is None:
        raise ProblemError(
            404,
            "insured-not-found",
            f"被保険者番号 {data.insured_no} は登録されていません",
            field="insured_no",
        )
    person = await session.get(Person, insured.atena_no)
    assert person is not None
    if insured.lost_on is not None or person.removed_on is not None:
        raise ProblemError(
            422, "not-insured", "資格を喪失した被保険者の申請は受け付けられません", field="insured_no"
        )
    category = InsuredCategory(insured.category)
    problems = SecondCategoryRequirements.problems(data, category)
    if problems:
        field, message = problems[0]
        raise ProblemError(422, "second-category", message, field=field)
    open_one = (
        await session.exec(
            select(CertificationApplication.id).where(
                CertificationApplication.insured_no == data.insured_no,
                col(CertificationApplication.state) == ApplicationState.OPEN,
            )
        )
    ).first()
    if open_one is not None:
        raise ProblemError(
            409,
            "application-open",
            f"この被保険者には処理中の申請 ({open_one}) があります",
            field="insured_no",
        )

    application_id = uuid.uuid4().hex
    application = CertificationApplication(
        id=application_id,
        workflow_id=f"certification-{application_id}",
        atena_no=insured.atena_no,
        category=category,
        decision_deadline=decision_deadline(data.applied_on),
        created_by=actor,
        **data.model_dump(exclude={"previous_level"}),
        previous_level=data.previous_level.value if data.previous_level else None,
    )
    session.add(application)
    await session.flush()

    inp = CertificationInput(
        application_id=application_id,
        insured_no=data.insured_no,
        atena_no=insured.atena_no,
        kind=data.kind,
        category=category,
        applied_on=data.applied_on,
        previous_level=data.previous_level,
        previous_valid_to=data.previous_valid_to,
        renewal_delay_consent=data.renewal_delay_consent,
        applicant_office=data.applicant_office,
        office=settings.office_code,
        policy=settings.certification_policy,
    )
    async with temporal_client.bounded():  # a paused Temporal answers 503 in seconds
        await temporal.start_workflow(
            CertificationWorkflow.run,
            inp,
            id=application.workflow_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=search_attributes_at_start(inp),
            static_summary=f"要介護認定 {data.kind.label} — 被保険者番号 {data.insured_no}",
            static_details=f"申請日 {data.applied_on} / 決定期限 {application.decision_deadline}",
            rpc_timeout=temporal_client.CALL_TIMEOUT,
        )
    return application


async def end_case(
    *,
    temporal: Client,
    application: CertificationApplication,
    reason: EndReason,
    actor: str,
    on: date,
    note: str | None,
) -> CertificationOutcome:
    """取下げ, death or loss of status: the workflow closes its tasks and sends nothing more."""
    request = EndCase(reason=reason, actor=actor, on=on, note=note)
    return await workflow_updates.execute(
        temporal, application.workflow_id, "end_case", request, CertificationOutcome
    )


async def end_open_cases_of(
    *, session: AsyncSession, temporal: Client, atena_no: str, reason: EndReason, actor: str, on: date
) -> list[str]:
    """Registry events (death, loss of status) end every open application of the person; no notice follows."""
    open_ones = (
        await session.exec(
            select(CertificationApplication).where(
                CertificationApplication.atena_no == atena_no,
                col(CertificationApplication.state) == ApplicationState.OPEN,
            )
        )
    ).all()
    ended = []
    for application in open_ones:
        try:
            await end_case(
                temporal=temporal, application=application, reason=reason, actor=actor, on=on, note=None
            )
        except ProblemError:  # decided or ended meanwhile: nothing left to end
            continue
        ended.append(application.id)
    return ended
