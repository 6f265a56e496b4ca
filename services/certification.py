"""要介護認定 intake: the application, its case, and the workflow that owns its procedure.

No transaction is held while Temporal is called: the rows are committed first, the workflow is started after,
and a start that fails removes the rows again (services/cases.py).
"""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from kaigo.config import Settings
from kaigo.errors import ProblemError
from models.case import CaseRecord, CaseType, case_id_for
from models.certification import (
    ApplicationCreate,
    Certification,
    CertificationApplication,
    CertificationInput,
    SecondCategoryRequirements,
)
from models.certification_tasks import CERTIFICATION
from models.common import today_in_japan
from models.registry import Insured, Person
from models.security import Staff
from rules.certification import (
    ApplicationKind,
    decision_deadline,
    delay_notice_latest,
    validity_months_between,
)
from rules.insured_status import InsuredCategory
from services import cases
from services.staff import check_office
from workflows.certification import CertificationWorkflow
from workflows.procedure import search_attributes_at_start


def application_not_found(application_id: str) -> ProblemError:
    return ProblemError(
        404, "application-not-found", f"申請 {application_id} はありません", field="application_id"
    )


async def get(*, session: AsyncSession, application_id: str) -> tuple[CertificationApplication, CaseRecord]:
    application = await session.get(CertificationApplication, application_id)
    if application is None:
        raise application_not_found(application_id)
    return application, await cases.get(session=session, case_id=application.workflow_id)


async def by_case(*, session: AsyncSession, case_id: str) -> CertificationApplication | None:
    return (
        await session.exec(
            select(CertificationApplication).where(CertificationApplication.workflow_id == case_id)
        )
    ).first()


async def receive(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    data: ApplicationCreate,
    actor: str,
    today: date | None = None,
) -> tuple[CertificationApplication, CaseRecord]:
    """Record the application and its case, then start its workflow (`today`: the business date, by default
    the wall clock's in Japan; tests on the time-skipping server pass theirs).

    409 names the person's open application when there is one — also when another clerk files at the same
    moment (the case header's exclusive key decides). A header whose workflow never started is cleared.
    """
    for attempt in range(2):
        async with sessions() as session, session.begin():
            recorded = await _record(
                session=session, settings=settings, data=data, actor=actor, today=today or today_in_japan()
            )
        if isinstance(recorded, tuple):
            break
        if attempt == 0 and await cases.clear_if_orphaned(
            sessions=sessions, temporal=temporal, case=recorded
        ):
            continue
        raise ProblemError(
            409,
            "application-open",
            f"この被保険者には処理中の申請 ({recorded.id.removeprefix('certification-')}) があります",
            field="insured_no",
            extra={"case_id": recorded.id},
        )
    application, case, inp = recorded

    async def undo(session: AsyncSession) -> None:
        await session.exec(
            sa.delete(CertificationApplication).where(col(CertificationApplication.id) == application.id)
        )

    await cases.start_workflow(
        sessions=sessions,
        temporal=temporal,
        case_id=case.id,
        run=CertificationWorkflow.run,
        arg=inp,
        task_queue=settings.temporal_task_queue,
        search_attributes=search_attributes_at_start(
            CERTIFICATION, inp.insured_no, inp.office, delay_notice_latest(inp.applied_on)
        ),
        summary=f"要介護認定 {data.kind.label} — 被保険者番号 {data.insured_no}",
        details=f"申請日 {data.applied_on} / 決定期限 {application.decision_deadline}",
        undo=undo,
    )
    return application, case


async def _record(
    *, session: AsyncSession, settings: Settings, data: ApplicationCreate, actor: str, today: date
) -> tuple[CertificationApplication, CaseRecord, CertificationInput] | CaseRecord:
    """Insert the application and its case header; the open case instead, when the person has one."""
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
    if data.applied_on > today:
        raise ProblemError(422, "applied-in-future", "申請日に未来の日付は指定できません", field="applied_on")
    if data.applied_on < insured.acquired_on:
        raise ProblemError(
            422,
            "applied-before-status",
            f"申請日が被保険者資格の取得日 ({insured.acquired_on}) より前です",
            field="applied_on",
        )
    office = await _handling_office(session, settings, data.office, actor)
    category = InsuredCategory(insured.category)
    problems = SecondCategoryRequirements.problems(data, category)
    if problems:
        raise ProblemError(422, "second-category", problems[0][1], field=problems[0][0], fields=problems)

    application_id = uuid.uuid4().hex
    case_id = case_id_for(CaseType.CERTIFICATION, application_id)
    case = await cases.insert_header(
        session=session,
        model=CERTIFICATION,
        case_id=case_id,
        atena_no=insured.atena_no,
        insured_no=data.insured_no,
        office=office,
        actor=actor,
        due_on=delay_notice_latest(data.applied_on),
    )
    if case is None:
        open_case = await cases.open_case_of(session=session, model=CERTIFICATION, insured_no=data.insured_no)
        assert open_case is not None  # the exclusive key is taken by a committed open case
        return open_case
    application = CertificationApplication(
        id=application_id,
        workflow_id=case_id,
        atena_no=insured.atena_no,
        category=category,
        decision_deadline=decision_deadline(data.applied_on),
        created_by=actor,
        **data.model_dump(exclude={"previous_level", "office"}),
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
        previous_validity_months=await _previous_validity_months(session, data),
        renewal_delay_consent=data.renewal_delay_consent,
        applicant_office=data.applicant_office,
        office=office,
        policy=settings.certification_policy,
    )
    return application, case, inp


async def _handling_office(session: AsyncSession, settings: Settings, chosen: str | None, actor: str) -> str:
    """The office that handles the case: the one chosen at intake, else the clerk's own, else OFFICE_CODE."""
    if chosen is not None:
        check_office(chosen, settings.office_labels)
        return chosen
    clerk = await session.get(Staff, actor)
    return clerk.office if clerk is not None and clerk.office else settings.office_code


async def _previous_validity_months(session: AsyncSession, data: ApplicationCreate) -> int | None:
    """How long the current certification was set for (簡素化 condition 4): from the city's own record of it,
    or from the dates given at intake when it predates kaigo-flow."""
    if data.kind is not ApplicationKind.RENEWAL or data.previous_valid_to is None:
        return None
    valid_from = (
        await session.exec(
            select(Certification.valid_from)
            .where(
                Certification.insured_no == data.insured_no, Certification.valid_to == data.previous_valid_to
            )
            .order_by(col(Certification.decided_on).desc())
        )
    ).first() or data.previous_valid_from
    if valid_from is None:
        return None
    return validity_months_between(valid_from, data.previous_valid_to)
