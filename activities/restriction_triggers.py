"""What opens 給付制限 cases: the daily scan's pages and its reconciliation, and the listener that hears a
certification case (procedures.py `on_certification_event`): an application of a person in arrears gets the
same check as the scan (66条), a certification of a person with time-barred premiums a 69条 reduction.

Idempotent: case ids derive from the person and episode (or the certification), so a retried page or a
repeated announcement opens nothing twice.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client

from kaigo.config import get_settings
from models.case import CaseRecord
from models.certification import CertificationEvent, CertificationEventKind
from models.restriction import ScanPage, ScanPageResult, Trigger
from rules.insured_status import InsuredCategory
from services import restriction as service


class RestrictionTriggerActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def scan_page(self, page: ScanPage) -> ScanPageResult:
        """One page of the daily scan: open a case for each person newly past the threshold."""
        async with self._sessions() as session:
            candidates = await service.scan_candidates(
                session,
                page.as_of,
                page.after_insured_no,
                page.limit,
                page.scan.policy.payment_method_change_months,
            )
        opened = []
        for insured_no in candidates:
            activity.heartbeat(insured_no)
            result = await service.open_delinquency_case(
                sessions=self._sessions,
                temporal=activity.client(),
                insured_no=insured_no,
                as_of=page.as_of,
                trigger=Trigger.SCAN,
                policy=page.scan.policy,
                office=page.scan.office,
                task_queue=page.scan.task_queue,
                actor="system",
            )
            if result.created and result.case_id:
                opened.append(result.case_id)
        last = candidates[-1] if len(candidates) == page.limit else None
        return ScanPageResult(checked=len(candidates), opened=opened, last_insured_no=last)

    @activity.defn
    async def reconcile_open_cases(self, as_of: date) -> int:
        """Open cases whose recorded arrears differ from the ledger are told to read it again."""
        return await service.reconcile(sessions=self._sessions, temporal=activity.client(), as_of=as_of)


async def on_certification_event(
    client: Client, sessions: async_sessionmaker[AsyncSession], event: CertificationEvent
) -> None:
    """Runs inside the certification's announcement activity: its task queue is the procedures' queue."""
    if event.category is not InsuredCategory.FIRST:
        return
    policy = get_settings().restriction_policy
    async with sessions() as session:
        header = await session.get(CaseRecord, event.case_id)
    office = header.office if header else get_settings().office_code
    task_queue = activity.info().task_queue
    if event.kind is CertificationEventKind.RECEIVED:
        await service.open_delinquency_case(
            sessions=sessions,
            temporal=client,
            insured_no=event.insured_no,
            as_of=event.on,
            trigger=Trigger.APPLICATION,
            policy=policy,
            office=office,
            task_queue=task_queue,
            actor="system",
        )
    elif event.kind is CertificationEventKind.CERTIFIED and event.certification is not None:
        await service.open_reduction_case(
            sessions=sessions,
            temporal=client,
            certification_id=event.certification.application_id,
            insured_no=event.insured_no,
            certified_on=event.certification.decided_on,
            policy=policy,
            office=office,
            task_queue=task_queue,
        )
