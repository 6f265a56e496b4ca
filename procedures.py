"""The registry of procedures: one entry per case type, read by the worker, the generic case and task routes
and the Temporal UI's search attributes. Adding a procedure = its files + one entry here.

Each entry binds a procedure's description (models: task kinds, stages, whether one case per person) to its
workflow, the read model its steps patch, its own activities, and how its case page shows its record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.certification import CertificationActivities, CertificationReadModel
from activities.certification_events import CertificationEventActivities, Listener
from activities.renewal import RenewalActivities, RenewalReadModel
from activities.renewal import on_certification_event as renewal_listener
from activities.renewal_batch import RenewalBatchActivities
from activities.restriction import RestrictionActivities, RestrictionReadModel
from activities.restriction_triggers import RestrictionTriggerActivities, on_certification_event
from activities.steps import ReadModel
from kaigo.config import Settings
from kaigo.schedules import ensure_schedule
from models.case import CaseRecord, CaseType, parse_case_id
from models.certification import ApplicationPublic
from models.certification_tasks import CERTIFICATION
from models.procedure import KERNEL_TASK_KINDS, ProcedureModel, TaskKindSpec
from models.renewal import ReconcileInput
from models.renewal_batch import RenewalBatchInput
from models.renewal_tasks import RENEWAL
from models.restriction import ScanInput
from models.restriction_tasks import RESTRICTION
from services import certification, renewal, restriction
from workflows.certification import CertificationWorkflow
from workflows.renewal import RECONCILE_SCHEDULE_ID, CertificationTermWorkflow
from workflows.renewal_batch import BATCH_SCHEDULE_ID, RenewalBatchWorkflow
from workflows.renewal_reconcile import RenewalReconcileWorkflow
from workflows.restriction import RestrictionWorkflow
from workflows.restriction_scan import SCAN_SCHEDULE_ID, RestrictionScanWorkflow

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Procedure:
    model: ProcedureModel
    workflow: type
    read_model: ReadModel
    activities: Callable[[Sessions], list[Callable[..., Any]]]
    record: Callable[[AsyncSession, CaseRecord], Awaitable[BaseModel | None]]  # the case page's record
    # Periodic work (a daily scan, a reconciliation): its Temporal Schedules, created or updated idempotently
    # by every worker at start (kaigo.schedules.ensure_schedule); with the workflows they start.
    schedules: Callable[[Client, Settings], Awaitable[None]] | None = None
    periodic_workflows: tuple[type, ...] = ()
    # What the procedure does when a certification case announces an event (certification_events.py).
    on_certification_event: Listener | None = None


async def _certification_record(session: AsyncSession, case: CaseRecord) -> BaseModel | None:
    application = await certification.by_case(session=session, case_id=case.id)
    return ApplicationPublic.of(application, case) if application else None


def _certification_activities(sessions: Sessions) -> list[Callable[..., Any]]:
    listeners = [p.on_certification_event for p in PROCEDURES.values() if p.on_certification_event]
    events = CertificationEventActivities(sessions, listeners)
    return [CertificationActivities(sessions).allocate_board_meeting, events.announce_certification_event]


async def _restriction_record(session: AsyncSession, case: CaseRecord) -> BaseModel | None:
    return await restriction.record_of(session, case)


def _restriction_activities(sessions: Sessions) -> list[Callable[..., Any]]:
    own, triggers = RestrictionActivities(sessions), RestrictionTriggerActivities(sessions)
    return [
        own.arrears_snapshot,
        own.reduction_facts,
        own.post_offset,
        triggers.scan_page,
        triggers.reconcile_open_cases,
    ]


async def _restriction_schedules(client: Client, settings: Settings) -> None:
    """The daily arrears scan (66条), at the policy's hour in Asia/Tokyo."""
    policy = settings.restriction_policy
    scan = ScanInput(office=settings.office_code, task_queue=settings.temporal_task_queue, policy=policy)
    await ensure_schedule(
        client,
        SCAN_SCHEDULE_ID,
        RestrictionScanWorkflow.run,
        scan,
        task_queue=settings.temporal_task_queue,
        cron=policy.scan_cron,
        workflow_id="restriction-scan",
    )


def renewal_batch_activities(sessions: Sessions) -> list[Callable[..., Any]]:
    own = RenewalBatchActivities(sessions)
    return [own.plan_renewal_batch, own.produce_renewal_batch]


async def renewal_batch_schedules(client: Client, settings: Settings) -> None:
    """The day's print batch, at the policy's time in Asia/Tokyo (after the terms' wake hour)."""
    policy = settings.renewal_batch_policy
    await ensure_schedule(
        client,
        BATCH_SCHEDULE_ID,
        RenewalBatchWorkflow.run,
        RenewalBatchInput(policy=policy),
        task_queue=settings.temporal_task_queue,
        cron=policy.run_cron,
        workflow_id="renewal-batch",
    )


async def _renewal_record(session: AsyncSession, case: CaseRecord) -> BaseModel | None:
    return await renewal.record_of(session, case)


def _renewal_activities(sessions: Sessions) -> list[Callable[..., Any]]:
    return [RenewalActivities(sessions).reconcile_page, *renewal_batch_activities(sessions)]


async def _renewal_schedules(client: Client, settings: Settings) -> None:
    """The daily reconciliation (a term for every active certification without one) and the day's print
    batch of the reminders the terms issued."""
    await renewal_batch_schedules(client, settings)
    policy = settings.renewal_policy
    reconcile = ReconcileInput(
        office=settings.office_code, task_queue=settings.temporal_task_queue, policy=policy
    )
    await ensure_schedule(
        client,
        RECONCILE_SCHEDULE_ID,
        RenewalReconcileWorkflow.run,
        reconcile,
        task_queue=settings.temporal_task_queue,
        cron=policy.reconcile_cron,
        workflow_id="renewal-reconciliation",
    )


PROCEDURES: dict[CaseType, Procedure] = {
    CaseType.CERTIFICATION: Procedure(
        model=CERTIFICATION,
        workflow=CertificationWorkflow,
        read_model=CertificationReadModel(),
        activities=_certification_activities,
        record=_certification_record,
    ),
    CaseType.RESTRICTION: Procedure(
        model=RESTRICTION,
        workflow=RestrictionWorkflow,
        read_model=RestrictionReadModel(),
        activities=_restriction_activities,
        record=_restriction_record,
        schedules=_restriction_schedules,
        periodic_workflows=(RestrictionScanWorkflow,),
        on_certification_event=on_certification_event,
    ),
    CaseType.RENEWAL: Procedure(
        model=RENEWAL,
        workflow=CertificationTermWorkflow,
        read_model=RenewalReadModel(),
        activities=_renewal_activities,
        record=_renewal_record,
        schedules=_renewal_schedules,
        periodic_workflows=(RenewalReconcileWorkflow, RenewalBatchWorkflow),
        on_certification_event=renewal_listener,
    ),
}


def procedure_of(case_id: str) -> Procedure | None:
    parsed = parse_case_id(case_id)
    return PROCEDURES.get(parsed[0]) if parsed else None


def _all_task_kinds() -> dict[str, TaskKindSpec]:
    kinds = dict(KERNEL_TASK_KINDS)
    for procedure in PROCEDURES.values():
        for kind, spec in procedure.model.task_kinds.items():
            if kinds.get(kind, spec) != spec:
                raise ValueError(f"task kind {kind!r} is declared twice with different specs")
            kinds[str(kind)] = spec
    return kinds


TASK_KINDS: dict[str, TaskKindSpec] = _all_task_kinds()


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Every procedure's periodic work, scheduled (idempotent: any number of workers may call it at once)."""
    for procedure in PROCEDURES.values():
        if procedure.schedules is not None:
            await procedure.schedules(client, settings)
