"""更新案内 terms: starting one per certification (at its decision, or by the daily reconciliation), telling a
term about the person's applications and new certifications, and the term's case-page record.

A term's case id is derived from its certification id (`term_case_id`), and the database keeps one term row
per certification: the listener, the reconciliation and a retried activity all arrive at the same id, and
Temporal runs one workflow per id (USE_EXISTING). No transaction is held while Temporal is called.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from kaigo import temporal_client
from models.case import CaseEvent, CaseRecord, CaseState, CaseType, case_id_for
from models.certification import Certification
from models.common import utcnow
from models.registry import Insured
from models.renewal import (
    CertificationTerm,
    RenewalPolicy,
    Stage,
    TermInput,
    TermPublic,
)
from models.renewal_tasks import RENEWAL
from rules.primary_determination import CareLevel
from rules.renewal import last_filing_day
from services import cases
from workflows.procedure import search_attributes_at_start
from workflows.renewal import CertificationTermWorkflow, opened_event, opening_view, reminds

log = structlog.get_logger(__name__)

_ID_NAMESPACE = uuid.UUID("0b7e4f0a-6c3d-4d5e-9a1b-2c8f7e6d5a43")
_HEX32 = re.compile(r"[0-9a-f]{32}")


def term_case_id(certification_id: str) -> str:
    """`renewal-<certification id>` (certification ids are 32 hex digits); any other id is hashed into
    that format (uuid5), so the same certification always gives the same term."""
    key = certification_id if _HEX32.fullmatch(certification_id) else uuid.uuid5(
        _ID_NAMESPACE, certification_id
    ).hex  # fmt: skip
    return case_id_for(CaseType.RENEWAL, key)


@dataclass(frozen=True)
class Started:
    case_id: str | None
    created: bool = False
    skipped: str | None = None


# Workflow starts in flight at once. They hold no database connection (the rows are written before, in one
# transaction per batch), so this is bounded only by what the Temporal frontend absorbs.
START_CONCURRENCY = 32


def _certified(level: str) -> bool:
    try:
        return CareLevel(level) is not CareLevel.NOT_APPLICABLE
    except ValueError:
        return False


def _term_input(cert: Certification, policy: RenewalPolicy, office: str) -> TermInput:
    assert cert.valid_from is not None and cert.valid_to is not None
    inp = TermInput(
        case_id=term_case_id(cert.id),
        certification_id=cert.id,
        insured_no=cert.insured_no,
        atena_no=cert.atena_no,
        office=office,
        care_level=cert.level,
        valid_from=cert.valid_from,
        valid_to=cert.valid_to,
        service_use_last_year=cert.service_use_last_year,
        policy=policy,
    )
    return inp.model_copy(update={"opening": opening_view(inp)})


async def _write_terms(
    session: AsyncSession, certification_ids: Sequence[str], policy: RenewalPolicy, office: str, actor: str
) -> tuple[dict[str, Started], list[TermInput]]:
    """The terms' rows and opening step (header, term row, "opened" event) in the caller's transaction;
    (what each certification got, the inputs of the terms whose workflow is not yet known to run)."""
    found = await session.exec(
        select(Certification, Insured)
        .join(Insured, col(Insured.insured_no) == Certification.insured_no, isouter=True)
        .where(col(Certification.id).in_(certification_ids))
    )
    outcome: dict[str, Started] = {c: Started(None, skipped="no_validity_period") for c in certification_ids}
    inputs: list[TermInput] = []
    for cert, insured in found.all():
        if cert.valid_from is None or cert.valid_to is None or not _certified(cert.level):
            continue
        if insured is None or insured.lost_on is not None:
            outcome[cert.id] = Started(None, skipped="not_insured")
            continue
        inputs.append(_term_input(cert, policy, office))
    if not inputs:
        return outcome, []
    headers = [
        cases.NewHeader(
            case_id=inp.case_id, atena_no=inp.atena_no, insured_no=inp.insured_no, office=office,
            due_on=inp.opening.due, stage=inp.opening.stage, details=inp.opening.details,
        )
        for inp in inputs
        if inp.opening is not None
    ]  # fmt: skip
    created = await cases.insert_headers(session=session, model=RENEWAL, headers=headers, actor=actor)
    now = utcnow()
    await session.exec(
        insert(CertificationTerm)
        .values(
            [
                {
                    "case_id": inp.case_id,
                    "certification_id": inp.certification_id,
                    "insured_no": inp.insured_no,
                    "atena_no": inp.atena_no,
                    "expiry": inp.valid_to,
                    "last_filing_day": last_filing_day(inp.valid_to),
                    "next_reminder_on": inp.opening.due if inp.opening else None,
                    "state": Stage.WAITING,
                    "reminded": reminds(inp, policy),
                    "workflow_started": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for inp in inputs
            ]
        )
        .on_conflict_do_nothing()
    )
    events = [
        {
            **opened_event(inp).model_dump(),
            "case_id": inp.case_id,
            "subject_atena_no": inp.atena_no,
            "at": now,
        }
        for inp in inputs
        if inp.case_id in created
    ]
    if events:
        await session.exec(
            insert(CaseEvent).values(events).on_conflict_do_nothing(constraint="uq_case_event_once")
        )
    unstarted = set(
        (
            await session.exec(
                select(CertificationTerm.case_id).where(
                    col(CertificationTerm.case_id).in_([inp.case_id for inp in inputs]),
                    ~col(CertificationTerm.workflow_started),
                )
            )
        ).all()
    )
    for inp in inputs:
        outcome[inp.certification_id] = Started(inp.case_id, created=inp.case_id in created)
    # Rows written by an earlier try show that try's opening (perhaps under another policy): such a term
    # writes its own view once it runs.
    return outcome, [
        inp if inp.case_id in created else inp.model_copy(update={"opening": None})
        for inp in inputs
        if inp.case_id in unstarted
    ]


async def _start_workflow(temporal: Client, inp: TermInput, task_queue: str) -> None:
    try:
        async with temporal_client.bounded():
            await temporal.start_workflow(
                CertificationTermWorkflow.run,
                inp,
                id=inp.case_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes_at_start(
                    RENEWAL, inp.insured_no, inp.office, inp.opening.due if inp.opening else None
                ),
                static_summary=f"更新案内 — 被保険者番号 {inp.insured_no}",
                static_details=f"有効期間 {inp.valid_from}〜{inp.valid_to}",
                rpc_timeout=temporal_client.CALL_TIMEOUT,
                # Started from a worker of the same queue (the reconciliation, a decision's listener): the
                # server hands its first task back with the start, not through the task queue (a third of the
                # dev server's work per term, bench/bench_renewal.py).
                request_eager_start=True,
            )
    except WorkflowAlreadyStartedError:
        pass  # the term ran and closed: never a second one


async def start_terms(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    certification_ids: Sequence[str],
    policy: RenewalPolicy,
    office: str,
    task_queue: str,
    actor: str = "system",
) -> list[Started]:
    """The terms of these certifications, in their order: rows and opening step in one transaction, then the
    workflows (START_CONCURRENCY at a time, no transaction held), then one write marking them started.

    Safe to repeat and to run at once: ids derive from the certification, rows insert once, Temporal runs
    one workflow per id (USE_EXISTING). If a start fails, the others are still marked and the error is
    raised; the unmarked ones are started by the next try (a retried activity, the reconciliation)."""
    async with sessions() as session, session.begin():
        outcome, to_start = await _write_terms(session, certification_ids, policy, office, actor)
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def start(inp: TermInput) -> None:
        async with gate:
            await _start_workflow(temporal, inp, task_queue)

    results = await asyncio.gather(*(start(inp) for inp in to_start), return_exceptions=True)
    started = [inp.case_id for inp, result in zip(to_start, results, strict=True) if result is None]
    if started:
        async with sessions() as session, session.begin():
            await session.exec(
                sa.update(CertificationTerm)
                .where(col(CertificationTerm.case_id).in_(started))
                .values(workflow_started=True)
            )
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        raise failed
    return [outcome[c] for c in certification_ids]


async def start_term(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    certification_id: str,
    policy: RenewalPolicy,
    office: str,
    task_queue: str,
    actor: str = "system",
) -> Started:
    """The term of one certification (a decision's listener): `start_terms` of one."""
    [started] = await start_terms(
        sessions=sessions, temporal=temporal, certification_ids=[certification_id], policy=policy,
        office=office, task_queue=task_queue, actor=actor,
    )  # fmt: skip
    return started


async def open_terms_of(session: AsyncSession, insured_no: str) -> list[CertificationTerm]:
    rows = await session.exec(
        select(CertificationTerm)
        .join(CaseRecord, col(CaseRecord.id) == CertificationTerm.case_id)
        .where(CertificationTerm.insured_no == insured_no, col(CaseRecord.state) == CaseState.OPEN)
        .order_by(col(CertificationTerm.expiry))
    )
    return list(rows.all())


async def signal_term(temporal: Client, case_id: str, signal: str, message: object) -> bool:
    """Signal a term by id; a term that closed meanwhile has nothing left to hear (False)."""
    try:
        async with temporal_client.bounded():
            await temporal.get_workflow_handle(case_id).signal(
                signal, message, rpc_timeout=temporal_client.CALL_TIMEOUT
            )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            log.info("renewal_term_already_closed", case_id=case_id, signal=signal)
            return False
        raise
    return True


async def reconcile_candidates(session: AsyncSession, as_of: date, after: str, limit: int) -> list[str]:
    """Active certifications (valid_to ≥ as_of) without a running term, each the person's latest, keyset by
    id. A term whose rows were written but whose workflow is not known to run (the process died, or Temporal
    was unreachable, between the commit and the start) counts as missing: starting it again is safe (same
    id, USE_EXISTING)."""
    newer = sa.orm.aliased(Certification)
    has_term = select(CertificationTerm.certification_id).where(
        CertificationTerm.certification_id == Certification.id, col(CertificationTerm.workflow_started)
    )
    has_newer = select(newer.id).where(
        newer.insured_no == Certification.insured_no,
        sa.or_(
            newer.decided_on > Certification.decided_on,
            sa.and_(newer.decided_on == Certification.decided_on, newer.id > Certification.id),
        ),
    )
    rows = await session.exec(
        select(Certification.id)
        .where(
            col(Certification.valid_to) >= as_of,
            col(Certification.id) > after,
            ~has_term.exists(),
            ~has_newer.exists(),
        )
        .order_by(col(Certification.id))
        .limit(limit)
    )
    return list(rows.all())


async def record_of(session: AsyncSession, case: CaseRecord) -> TermPublic | None:
    term = await session.get(CertificationTerm, case.id)
    return TermPublic.model_validate(term) if term else None
