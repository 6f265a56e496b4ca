"""Drive certification terms (CertificationTermWorkflow, 更新案内) in tests: certifications to remind of, a
`Term` that reads a term's rows and workflow, and the certification events the listener tells the terms.

The modules that use these give each test a person of its own (closed workflows outlive the database rows),
so every helper takes that person's insured number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.renewal import tell_terms
from kaigo.config import Settings
from models.case import CaseRecord
from models.certification import (
    Certification,
    CertificationEvent,
    CertificationEventKind,
    CertificationRecord,
)
from models.renewal import CertificationTerm, RenewalPolicy, TermOutcome
from models.renewal_tasks import RenewalTask
from models.task import Task, TaskState
from rules.calendar import add_months, is_city_holiday, month_end
from rules.certification import ApplicationKind
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel
from services import renewal
from tests.case_view import CaseView
from tests.restriction_helpers import eventually
from tests.workflows.time_skipping import today


def month_end_after(day: date, *, closed: bool = False) -> date:
    """The first month end on or after `day` (validity periods end on one); `closed`: one on which the
    city office is closed, so the last filing day moves (地方自治法4条の2第4項)."""
    end = month_end(day)
    while closed and not is_city_holiday(end):
        end = month_end(end + timedelta(days=1))
    return end


def valid_from(valid_to: date) -> date:
    """A 12-month period ending on `valid_to`."""
    year, month = add_months(valid_to.year, valid_to.month, -11)
    return date(year, month, 1)


def twelve_months_after(valid_to: date) -> date:
    year, month = add_months(valid_to.year, valid_to.month, 12)
    return month_end(date(year, month, 1))


async def certify(
    sessions: async_sessionmaker[AsyncSession],
    insured_no: str,
    atena_no: str,
    valid_to: date,
    *,
    suffix: str = "0",
    service_use: bool = True,
    decided_on: date | None = None,
) -> str:
    """A 12-month certification ending on `valid_to`; its id is the insured number, then `suffix`."""
    certification_id = f"{insured_no}{suffix * 22}"
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=certification_id,
                atena_no=atena_no,
                insured_no=insured_no,
                level="要介護2",
                valid_from=valid_from(valid_to),
                valid_to=valid_to,
                decided_on=decided_on or valid_to - timedelta(days=380),
                service_use_last_year=service_use,
            )
        )
    return certification_id


class Term(CaseView):
    """A term as staff see it (its case, term row, notices, steps, open follow-up) and its workflow."""

    async def record(self) -> CertificationTerm:
        async with self.sessions() as session:
            row = await session.get(CertificationTerm, self.case_id)
            assert row is not None
            return row

    async def asleep(self) -> bool:
        """Its workflow has run its first task: the history holds the timer it sleeps on."""
        history = await self.client.get_workflow_handle(self.case_id).fetch_history()
        return any(event.HasField("timer_started_event_attributes") for event in history.events)

    async def until(self, probe: Callable[[CaseRecord, CertificationTerm], bool]) -> CaseRecord:
        async def reached() -> CaseRecord | None:
            case, record = await self.case(), await self.record()
            return case if probe(case, record) else None

        found: CaseRecord = await eventually(reached)
        return found

    async def until_stage(self, stage: str) -> CaseRecord:
        return await self.until(lambda case, _: case.stage == stage)

    async def open_follow_up(self) -> Task | None:
        async with self.sessions() as session:
            return (
                await session.exec(
                    select(Task).where(
                        Task.case_id == self.case_id,
                        Task.kind == RenewalTask.FOLLOW_UP,
                        col(Task.state) == TaskState.OPEN,
                    )
                )
            ).first()

    async def outcome(self) -> TermOutcome:
        return await self.client.get_workflow_handle(self.case_id, result_type=TermOutcome).result()


async def open_term(
    worker: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    opened: list[str],
    certification_id: str,
    policy: RenewalPolicy | None = None,
) -> Term:
    """The certification's term, started by `renewal.start_term`, once its workflow sleeps on its timer."""
    started = await renewal.start_term(
        sessions=sessions,
        temporal=worker,
        certification_id=certification_id,
        policy=policy or RenewalPolicy(),
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
    )
    assert started.created and started.case_id, started
    opened.append(started.case_id)
    term = Term(worker, sessions, started.case_id)
    assert await eventually(term.asleep)  # its first run set the timer to its next date
    return term


def certification_event(
    kind: CertificationEventKind,
    application_id: str,
    insured_no: str,
    atena_no: str,
    on: date,
    *,
    application_kind: ApplicationKind = ApplicationKind.RENEWAL,
    certification: CertificationRecord | None = None,
) -> CertificationEvent:
    return CertificationEvent(
        kind=kind,
        case_id=f"certification-{application_id}",
        application_id=application_id,
        application_kind=application_kind,
        atena_no=atena_no,
        insured_no=insured_no,
        category=InsuredCategory.FIRST,
        on=on,
        certification=certification,
    )


async def announce(
    worker: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings, event: CertificationEvent
) -> None:
    """What the certification case's announcement activity does (twice: it is retried as a whole)."""
    for _ in range(2):
        await tell_terms(
            worker,
            sessions,
            event,
            policy=RenewalPolicy(),
            office=settings.office_code,
            task_queue=settings.temporal_task_queue,
        )


async def decide(
    worker: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    insured_no: str,
    atena_no: str,
    application_id: str,
    old_valid_to: date,
    application_kind: ApplicationKind,
) -> str:
    """A new certification decided on that application: its row, then the announcement."""
    on = await today()
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=application_id,
                atena_no=atena_no,
                insured_no=insured_no,
                level="要介護3",
                valid_from=old_valid_to + timedelta(days=1),
                valid_to=twelve_months_after(old_valid_to),
                decided_on=on,
            )
        )
    record = CertificationRecord(
        application_id=application_id,
        atena_no=atena_no,
        insured_no=insured_no,
        level=CareLevel("要介護3"),
        valid_from=old_valid_to + timedelta(days=1),
        valid_to=twelve_months_after(old_valid_to),
        board_opinion=None,
        service_types=[],
        decided_on=on,
    )
    event = certification_event(
        CertificationEventKind.CERTIFIED,
        application_id,
        insured_no,
        atena_no,
        on,
        application_kind=application_kind,
        certification=record,
    )
    await announce(worker, sessions, settings, event)
    return application_id
