"""更新案内 terms: starting one per certification (at its decision, or by the daily reconciliation), telling a
term about the person's applications and new certifications, and the term's case-page record.

A term's case id is derived from its certification id (`term_case_id`), and the database keeps one term row
per certification: the listener, the reconciliation and a retried activity all arrive at the same id, and
Temporal runs one workflow per id (USE_EXISTING). No transaction is held while Temporal is called.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

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
from models.case import CaseRecord, CaseState, CaseType, case_id_for
from models.certification import Certification
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
from workflows.renewal import CertificationTermWorkflow

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


def _certified(level: str) -> bool:
    try:
        return CareLevel(level) is not CareLevel.NOT_APPLICABLE
    except ValueError:
        return False


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
    """The term of one certification: header and term row (once), then its workflow (once)."""
    case_id = term_case_id(certification_id)
    async with sessions() as session, session.begin():
        cert = await session.get(Certification, certification_id)
        if cert is None or cert.valid_from is None or cert.valid_to is None or not _certified(cert.level):
            return Started(None, skipped="no_validity_period")
        insured = await session.get(Insured, cert.insured_no)
        if insured is None or insured.lost_on is not None:
            return Started(None, skipped="not_insured")
        header = await cases.insert_header(
            session=session,
            model=RENEWAL,
            case_id=case_id,
            atena_no=cert.atena_no,
            insured_no=cert.insured_no,
            office=office,
            actor=actor,
            due_on=None,
        )
        reminded = cert.service_use_last_year or not policy.only_service_users
        await session.exec(
            insert(CertificationTerm)
            .values(
                case_id=case_id,
                certification_id=certification_id,
                insured_no=cert.insured_no,
                atena_no=cert.atena_no,
                expiry=cert.valid_to,
                last_filing_day=last_filing_day(cert.valid_to),
                state=Stage.WAITING,
                reminded=reminded,
            )
            .on_conflict_do_nothing()
        )
        inp = TermInput(
            case_id=case_id,
            certification_id=certification_id,
            insured_no=cert.insured_no,
            atena_no=cert.atena_no,
            office=office,
            care_level=cert.level,
            valid_from=cert.valid_from,
            valid_to=cert.valid_to,
            service_use_last_year=cert.service_use_last_year,
            policy=policy,
        )
    try:
        async with temporal_client.bounded():
            await temporal.start_workflow(
                CertificationTermWorkflow.run,
                inp,
                id=case_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes_at_start(RENEWAL, inp.insured_no, office, None),
                static_summary=f"更新案内 — 被保険者番号 {inp.insured_no}",
                static_details=f"有効期間 {inp.valid_from}〜{inp.valid_to}",
                rpc_timeout=temporal_client.CALL_TIMEOUT,
            )
    except WorkflowAlreadyStartedError:
        return Started(case_id, skipped="already_closed")  # the term ran and closed: never a second one
    return Started(case_id, created=header is not None)


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


STALLED_AFTER = timedelta(minutes=10)  # far beyond a term's first step (one activity after its start)


async def reconcile_candidates(session: AsyncSession, as_of: date, after: str, limit: int) -> list[str]:
    """Active certifications (valid_to ≥ as_of) without a running term, each the person's latest, keyset by
    id. A term whose rows were written but whose workflow never took its first step (the process died
    between the commit and the start: its header is still open without a due date after STALLED_AFTER)
    counts as missing: starting it again is safe (same id, USE_EXISTING)."""
    newer = sa.orm.aliased(Certification)
    stalled = sa.and_(
        col(CaseRecord.state) == CaseState.OPEN,
        col(CaseRecord.due_on).is_(None),
        col(CaseRecord.opened_at) < sa.func.now() - STALLED_AFTER,
    )
    has_term = (
        select(CertificationTerm.certification_id)
        .join(CaseRecord, col(CaseRecord.id) == CertificationTerm.case_id)
        .where(CertificationTerm.certification_id == Certification.id, ~stalled)
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
