"""更新案内's side effects: the term read model (patched by the workflow's steps), the reconciliation's pages,
and the listener that hears a certification case (procedures.py `on_certification_event`).

Idempotent, because Temporal retries activities and the announcement activity is retried as a whole: term
ids derive from the certification, signals carry the application or certification they are about and the
workflow ignores what it has already heard.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client

from kaigo.config import get_settings
from models.case import CaseRecord
from models.certification import CertificationEvent, CertificationEventKind
from models.common import utcnow
from models.renewal import (
    ApplicationClosed,
    ApplicationFiled,
    CertificationTerm,
    ReconcilePage,
    ReconcilePageResult,
    RenewalPolicy,
    Replaced,
    TermPatch,
)
from rules.certification import ApplicationKind
from services import renewal as service

# Applications that stop the reminders of the person's current term.
_STOPPING_KINDS = frozenset({ApplicationKind.RENEWAL, ApplicationKind.CHANGE})


class RenewalReadModel:
    """Applies a step's `TermPatch` in the step's transaction (activities/steps.py)."""

    async def apply(self, session: AsyncSession, case_id: str, patch: dict[str, Any]) -> None:
        columns = TermPatch.model_validate(patch).model_dump(exclude_unset=True)
        if columns:
            await session.exec(
                sa.update(CertificationTerm)
                .where(col(CertificationTerm.case_id) == case_id)
                .values(**columns, updated_at=utcnow())
            )


class RenewalActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def reconcile_page(self, page: ReconcilePage) -> ReconcilePageResult:
        """One page of the reconciliation: a term for each active certification that has none, their rows in
        one transaction and their workflows started together (one by one, each waiting for its own
        transaction and Temporal round trip, 25,000 terms took half an hour: bench/bench_renewal.py)."""
        async with self._sessions() as session:
            candidates = await service.reconcile_candidates(
                session, page.as_of, page.after_certification_id, page.limit
            )
        activity.heartbeat(page.after_certification_id)
        results = await service.start_terms(
            sessions=self._sessions,
            temporal=activity.client(),
            certification_ids=candidates,
            policy=page.reconcile.policy,
            office=page.reconcile.office,
            task_queue=page.reconcile.task_queue,
        )
        started = [r.case_id for r in results if r.created and r.case_id]
        last = candidates[-1] if len(candidates) == page.limit else None
        return ReconcilePageResult(checked=len(candidates), started=started, last_certification_id=last)


async def on_certification_event(
    client: Client, sessions: async_sessionmaker[AsyncSession], event: CertificationEvent
) -> None:
    """Runs inside the certification's announcement activity: its task queue is the procedures' queue."""
    settings = get_settings()
    await tell_terms(
        client,
        sessions,
        event,
        policy=settings.renewal_policy,
        office=settings.office_code,
        task_queue=activity.info().task_queue,
    )


async def tell_terms(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    event: CertificationEvent,
    *,
    policy: RenewalPolicy,
    office: str,
    task_queue: str,
) -> None:
    """An application of the person stops their term's reminders, its closing without a certification
    resumes them, a new certification ends the term and starts its own."""
    async with sessions() as session:
        terms = await service.open_terms_of(session, event.insured_no)
        header = await session.get(CaseRecord, event.case_id)
    if event.kind is CertificationEventKind.RECEIVED:
        if event.application_kind in _STOPPING_KINDS:
            filed = ApplicationFiled(
                application_id=event.application_id, kind=event.application_kind, on=event.on
            )
            for term in terms:
                await service.signal_term(client, term.case_id, "application_filed", filed)
    elif event.kind is CertificationEventKind.CLOSED_WITHOUT_CERTIFICATION:
        closed = ApplicationClosed(application_id=event.application_id, on=event.on)
        for term in terms:
            await service.signal_term(client, term.case_id, "application_closed", closed)
    elif event.kind is CertificationEventKind.CERTIFIED and event.certification is not None:
        new_id = event.certification.application_id
        replaced = Replaced(certification_id=new_id, application_kind=event.application_kind, on=event.on)
        for term in terms:
            if term.certification_id != new_id:
                await service.signal_term(client, term.case_id, "replaced", replaced)
        await service.start_term(
            sessions=sessions,
            temporal=client,
            certification_id=new_id,
            policy=policy,
            office=header.office if header else office,
            task_queue=task_queue,
        )
