"""給付制限 cases: opening them (daily scan, a certification application, staff, a medical insurer's request,
a certification for 69条), telling them about payments, and what a person's restrictions are.

A 66・67条 or 68条 case's id is derived from the person and their episode (the number of such cases they had
before), so the daily scan, a certification application and a retried activity all arrive at the same id:
the database allows one open case per person (the header's exclusive key) and Temporal one workflow per id
(USE_EXISTING: a second start returns the running one). A header left without its workflow by a crash is
healed by the next attempt, which computes the same id. No transaction is held while Temporal is called.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from kaigo import temporal_client
from kaigo.errors import ProblemError
from models.case import CaseRecord, CaseState, CaseType, case_id_for
from models.certification import Certification
from models.common import utcnow
from models.registry import Insured, Person
from models.restriction import (
    ArrearsLine,
    BenefitReduction,
    InsurerNoticeRequest,
    LedgerChanged,
    LiftingAccepted,
    LiftingRequest,
    LiftReason,
    Measure,
    Outcome,
    PersonRestrictions,
    PremiumAssessment,
    PremiumPayment,
    RestrictionCase,
    RestrictionInput,
    RestrictionKind,
    RestrictionPolicy,
    RestrictionPublic,
    RestrictionRecord,
    RestrictionStart,
    Trigger,
)
from models.restriction_tasks import RESTRICTION
from rules import restriction as rules
from rules.insured_status import InsuredCategory
from rules.primary_determination import CareLevel
from services import cases, premiums, workflow_updates
from workflows.procedure import search_attributes_at_start
from workflows.restriction import RestrictionWorkflow

log = structlog.get_logger(__name__)

_ID_NAMESPACE = uuid.UUID("6f1c2d0e-2a57-4c1e-9b8e-6d0a3f5b7c21")
# 69条 reductions are recorded per certification and may run beside an open 66条 case.
REDUCTION_MODEL = dataclasses.replace(RESTRICTION, exclusive_per_insured=False)
# Closed without a measure or lifted for a reason other than full payment: the same arrears do not open a
# new case until the policy's quiet period is over.
_QUIET_OUTCOMES = (Outcome.EXPLANATION_ACCEPTED, Outcome.LIFTED)


def case_key(insured_no: str, episode: int, kind: RestrictionKind) -> str:
    return uuid.uuid5(_ID_NAMESPACE, f"{kind}:{insured_no}:{episode}").hex


def reduction_case_id(certification_id: str) -> str:
    return case_id_for(CaseType.RESTRICTION, uuid.uuid5(_ID_NAMESPACE, f"reduction:{certification_id}").hex)


@dataclass(frozen=True)
class Opened:
    """What an attempt to open a case did: `case_id` is the case (new or the open one), `created` whether
    this attempt started it, `skipped` why none was opened."""

    case_id: str | None
    created: bool = False
    skipped: str | None = None


# ------------------------------------------------------------------------------------------ starting


async def _episode(session: AsyncSession, insured_no: str) -> int:
    """1 + the person's 66・67・68条 cases that are closed (an open one keeps its number)."""
    closed = await session.exec(
        select(sa.func.count())
        .select_from(RestrictionCase)
        .join(CaseRecord, col(CaseRecord.id) == RestrictionCase.case_id)
        .where(
            RestrictionCase.insured_no == insured_no,
            col(RestrictionCase.kind).in_([RestrictionKind.DELINQUENCY, RestrictionKind.CATEGORY2]),
            col(CaseRecord.state) == CaseState.CLOSED,
        )
    )
    return int(closed.one()) + 1


async def _recently_closed(session: AsyncSession, insured_no: str, as_of: date, days: int) -> str | None:
    """A 66条 case closed within the quiet period without a full payment (特別の事情, 著しい減少)."""
    if days == 0:
        return None
    since = as_of - timedelta(days=days)
    found = await session.exec(
        select(CaseRecord.id)
        .join(RestrictionCase, col(RestrictionCase.case_id) == CaseRecord.id)
        .where(
            RestrictionCase.insured_no == insured_no,
            RestrictionCase.kind == RestrictionKind.DELINQUENCY,
            col(CaseRecord.outcome).in_(list(_QUIET_OUTCOMES)),
            col(RestrictionCase.lift_reason).is_distinct_from(LiftReason.PAID_IN_FULL),
            col(RestrictionCase.closed_on) >= since,
        )
    )
    return found.first()


async def _insert_case(
    session: AsyncSession,
    *,
    case_id: str,
    kind: RestrictionKind,
    insured: Insured,
    trigger: Trigger,
    opened_on: date,
    office: str,
    actor: str,
    exclusive: bool = True,
    medical_insurer: str | None = None,
    insurer_request_on: date | None = None,
) -> CaseRecord | None:
    """Header and restriction row; None when the person has another open case (its id: open_case_of)."""
    header = await cases.insert_header(
        session=session,
        model=RESTRICTION if exclusive else REDUCTION_MODEL,
        case_id=case_id,
        atena_no=insured.atena_no,
        insured_no=insured.insured_no,
        office=office,
        actor=actor,
        due_on=None,
    )
    if header is None:
        return None
    await session.exec(
        insert(RestrictionCase)
        .values(
            case_id=case_id,
            kind=kind,
            insured_no=insured.insured_no,
            atena_no=insured.atena_no,
            trigger=trigger,
            opened_on=opened_on,
            medical_insurer=medical_insurer,
            insurer_request_on=insurer_request_on,
            arrears=[],
            created_by=actor,
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    return header


async def _start(
    sessions: async_sessionmaker[AsyncSession], temporal: Client, inp: RestrictionInput, task_queue: str
) -> None:
    """Start the case's workflow; a running one with this id is the same case (retries, concurrent scans)."""
    labels = {
        RestrictionKind.DELINQUENCY: "66・67条 保険料滞納",
        RestrictionKind.CATEGORY2: "68条 第2号 差止",
        RestrictionKind.REDUCTION: "69条 給付額減額",
    }
    try:
        async with temporal_client.bounded():
            await temporal.start_workflow(
                RestrictionWorkflow.run,
                inp,
                id=inp.case_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes_at_start(RESTRICTION, inp.insured_no, inp.office, None),
                static_summary=f"給付制限 {labels[inp.kind]} — 被保険者番号 {inp.insured_no}",
                static_details=f"開始 {inp.opened_on} ({inp.trigger})",
                rpc_timeout=temporal_client.CALL_TIMEOUT,
            )
    except WorkflowAlreadyStartedError:
        # Temporal ran a case of this id and closed it, but the database has it open (restored from a
        # backup, say): close the header so the next attempt counts another episode and gets a new id.
        log.error("restriction_case_id_already_used", case_id=inp.case_id)
        async with sessions() as session, session.begin():
            await session.exec(
                sa.update(CaseRecord)
                .where(col(CaseRecord.id) == inp.case_id, col(CaseRecord.state) == CaseState.OPEN)
                .values(state=CaseState.CLOSED, outcome="abandoned", exclusive_key=None, closed_at=utcnow())
            )
        raise


async def open_delinquency_case(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    insured_no: str,
    as_of: date,
    trigger: Trigger,
    policy: RestrictionPolicy,
    office: str,
    task_queue: str,
    actor: str,
    retry: bool = True,
) -> Opened:
    """66条: open a case for a certified 第1号 person 1 year in arrears; idempotent (see the module doc)."""
    async with sessions() as session, session.begin():
        insured = await session.get(Insured, insured_no)
        if insured is None:
            return Opened(None, skipped="not_insured")
        person = await session.get(Person, insured.atena_no)
        if insured.lost_on is not None or (person is not None and person.removed_on is not None):
            return Opened(None, skipped="not_insured")
        if insured.category != InsuredCategory.FIRST:
            return Opened(None, skipped="not_first_category")
        ledger = await premiums.instalments(session, insured_no)
        if not rules.payment_method_change_applies(ledger, as_of, policy.payment_method_change_months):
            return Opened(None, skipped="threshold_not_met")
        quiet = await _recently_closed(session, insured_no, as_of, policy.reopen_after_days)
        if quiet is not None:
            return Opened(quiet, skipped="recently_closed")
        case_id = case_id_for(
            CaseType.RESTRICTION,
            case_key(insured_no, await _episode(session, insured_no), RestrictionKind.DELINQUENCY),
        )
        header = await _insert_case(
            session,
            case_id=case_id,
            kind=RestrictionKind.DELINQUENCY,
            insured=insured,
            trigger=trigger,
            opened_on=as_of,
            office=office,
            actor=actor,
        )
        if header is None:
            open_case = await cases.open_case_of(session=session, model=RESTRICTION, insured_no=insured_no)
            if open_case is None or open_case.id != case_id:
                return Opened(open_case.id if open_case else None, skipped="already_open")
            # the same episode's header, left by an attempt that did not start its workflow: start it now
    inp = RestrictionInput(
        case_id=case_id,
        kind=RestrictionKind.DELINQUENCY,
        insured_no=insured_no,
        atena_no=insured.atena_no,
        office=office,
        opened_on=as_of,
        trigger=trigger,
        policy=policy,
    )
    try:
        await _start(sessions, temporal, inp, task_queue)
    except WorkflowAlreadyStartedError:
        if not retry:
            raise
        return await open_delinquency_case(
            sessions=sessions, temporal=temporal, insured_no=insured_no, as_of=as_of, trigger=trigger,
            policy=policy, office=office, task_queue=task_queue, actor=actor, retry=False,
        )  # fmt: skip
    return Opened(case_id, created=header is not None)


async def open_category2_case(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    data: RestrictionStart,
    today: date,
    policy: RestrictionPolicy,
    office: str,
    task_queue: str,
    actor: str,
) -> Opened:
    """68条: record the medical insurer's 差止依頼 and start the case (a failed start undoes the rows)."""
    assert data.medical_insurer is not None and data.request_received_on is not None
    if data.request_received_on > today:
        raise ProblemError(
            422, "future-date", "差止依頼書の受理日に未来の日付は指定できません", field="request_received_on"
        )
    async with sessions() as session, session.begin():
        insured, person = await premiums.person_exists(session, data.insured_no)
        if insured.lost_on is not None or person.removed_on is not None:
            raise ProblemError(422, "not-insured", "資格を喪失した被保険者です", field="insured_no")
        if insured.category != InsuredCategory.SECOND:
            message = "68条の差止は第2号被保険者が対象です (第1号は66条: kind delinquency)"
            raise ProblemError(422, "not-second-category", message, field="kind")
        case_id = case_id_for(
            CaseType.RESTRICTION,
            case_key(data.insured_no, await _episode(session, data.insured_no), RestrictionKind.CATEGORY2),
        )
        header = await _insert_case(
            session,
            case_id=case_id,
            kind=RestrictionKind.CATEGORY2,
            insured=insured,
            trigger=Trigger.INSURER,
            opened_on=today,
            office=office,
            actor=actor,
            medical_insurer=data.medical_insurer,
            insurer_request_on=data.request_received_on,
        )
        if header is None:
            open_case = await cases.open_case_of(
                session=session, model=RESTRICTION, insured_no=data.insured_no
            )
            raise _already_open(open_case)
    inp = RestrictionInput(
        case_id=case_id,
        kind=RestrictionKind.CATEGORY2,
        insured_no=data.insured_no,
        atena_no=insured.atena_no,
        office=office,
        opened_on=today,
        trigger=Trigger.INSURER,
        policy=policy,
        medical_insurer=data.medical_insurer,
        insurer_request_on=data.request_received_on,
        insurer_arrears=[ArrearsLine.model_validate(a.model_dump()) for a in data.insurer_arrears],
    )
    try:
        await _start(sessions, temporal, inp, task_queue)
    except BaseException:
        async with sessions() as session, session.begin():
            await session.exec(sa.delete(CaseRecord).where(col(CaseRecord.id) == case_id))  # cascades
        raise
    return Opened(case_id, created=True)


def _already_open(case: CaseRecord | None) -> ProblemError:
    return ProblemError(
        409,
        "restriction-open",
        f"この被保険者には処理中の給付制限ケース ({case.id if case else '?'}) があります",
        field="insured_no",
        extra={"case_id": case.id if case else None},
    )


async def start_by_staff(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    data: RestrictionStart,
    today: date,
    policy: RestrictionPolicy,
    office: str,
    task_queue: str,
    actor: str,
) -> str:
    if data.kind == "category2":
        opened = await open_category2_case(
            sessions=sessions, temporal=temporal, data=data, today=today, policy=policy,
            office=office, task_queue=task_queue, actor=actor,
        )  # fmt: skip
        assert opened.case_id is not None
        return opened.case_id
    opened = await open_delinquency_case(
        sessions=sessions, temporal=temporal, insured_no=data.insured_no, as_of=today, trigger=Trigger.STAFF,
        policy=policy, office=office, task_queue=task_queue, actor=actor,
    )  # fmt: skip
    if opened.skipped == "not_insured":
        async with sessions() as session:
            await premiums.person_exists(session, data.insured_no)  # 404 when unknown
        raise ProblemError(422, "not-insured", "資格を喪失した被保険者です", field="insured_no")
    if opened.skipped == "not_first_category":
        message = "66条の支払方法変更は第1号被保険者が対象です (第2号は kind category2: 68条)"
        raise ProblemError(422, "not-first-category", message, field="kind")
    if opened.skipped == "threshold_not_met":
        months = policy.payment_method_change_months
        raise ProblemError(
            422,
            "no-arrears",
            f"納期限から{months}か月を経過した滞納 (時効消滅分を除く) がありません (66条1項)",
            field="insured_no",
        )
    if opened.skipped == "recently_closed":
        raise ProblemError(
            409,
            "restriction-recently-closed",
            f"特別の事情等により終了したケース ({opened.case_id}) から"
            f"{policy.reopen_after_days}日を経過していません",
            field="insured_no",
            extra={"case_id": opened.case_id},
        )
    if opened.skipped == "already_open" or not opened.created:  # another case, or this episode's already
        async with sessions() as session:
            open_case = await cases.open_case_of(
                session=session, model=RESTRICTION, insured_no=data.insured_no
            )
        raise _already_open(open_case)
    assert opened.case_id is not None
    return opened.case_id


async def open_reduction_case(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    certification_id: str,
    insured_no: str,
    certified_on: date,
    policy: RestrictionPolicy,
    office: str,
    task_queue: str,
) -> Opened:
    """69条: a certified 第1号 person with time-barred premiums gets a reduction case (one per
    certification)."""
    case_id = reduction_case_id(certification_id)
    async with sessions() as session, session.begin():
        insured = await session.get(Insured, insured_no)
        if insured is None or insured.category != InsuredCategory.FIRST:
            return Opened(None, skipped="not_first_category")
        years = rules.lookback_premiums(await premiums.instalments(session, insured_no), certified_on)
        if rules.reduction_period(years) is None:
            return Opened(None, skipped="nothing_time_barred")
        header = await _insert_case(
            session,
            case_id=case_id,
            kind=RestrictionKind.REDUCTION,
            insured=insured,
            trigger=Trigger.CERTIFIED,
            opened_on=certified_on,
            office=office,
            actor="system",
            exclusive=False,
        )
    inp = RestrictionInput(
        case_id=case_id,
        kind=RestrictionKind.REDUCTION,
        insured_no=insured_no,
        atena_no=insured.atena_no,
        office=office,
        opened_on=certified_on,
        trigger=Trigger.CERTIFIED,
        policy=policy,
        certification_id=certification_id,
        certified_on=certified_on,
    )
    try:
        await _start(sessions, temporal, inp, task_queue)
    except WorkflowAlreadyStartedError:
        return Opened(case_id, skipped="already_recorded")
    return Opened(case_id, created=header is not None)


# ------------------------------------------------------------------------------------ the daily scan


async def scan_candidates(
    session: AsyncSession, as_of: date, after: str, limit: int, months: int
) -> list[str]:
    """Certified 第1号 persons, still insured, with an unpaid 期別 that may be `months` past its 納期限 and
    no open case — a superset (by whole days); the rules decide on each one."""
    coarse_cutoff = as_of - timedelta(days=28 * months - 1)
    paid = (
        select(PremiumPayment.assessment_id, sa.func.sum(PremiumPayment.amount).label("paid"))
        .group_by(col(PremiumPayment.assessment_id))
        .subquery()
    )
    certified = (
        select(Certification.insured_no)
        .where(
            col(Certification.valid_from) <= as_of,
            col(Certification.valid_to) >= as_of,
            Certification.level != CareLevel.NOT_APPLICABLE,
        )
        .subquery()
    )
    query = (
        select(PremiumAssessment.insured_no)
        .join(Insured, col(Insured.insured_no) == PremiumAssessment.insured_no)
        .join(Person, col(Person.atena_no) == Insured.atena_no)
        .join(paid, paid.c.assessment_id == PremiumAssessment.id, isouter=True)
        .where(
            col(PremiumAssessment.insured_no).in_(select(certified.c.insured_no)),
            col(PremiumAssessment.insured_no) > after,
            col(PremiumAssessment.due_on) < coarse_cutoff,
            PremiumAssessment.amount > sa.func.coalesce(paid.c.paid, 0),
            Insured.category == InsuredCategory.FIRST,
            col(Insured.lost_on).is_(None),
            col(Person.removed_on).is_(None),
            ~sa.exists().where(
                CaseRecord.exclusive_key == sa.func.concat("restriction:", PremiumAssessment.insured_no)
            ),
        )
        .group_by(col(PremiumAssessment.insured_no))
        .order_by(col(PremiumAssessment.insured_no))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def reconcile(*, sessions: async_sessionmaker[AsyncSession], temporal: Client, as_of: date) -> int:
    """Tell every open 66・67条 case whose recorded arrears differ from the ledger (a payment signal lost
    while Temporal was down, an instalment newly due): the case reads the ledger again."""
    async with sessions() as session:
        rows = (
            await session.exec(
                select(RestrictionCase.case_id, RestrictionCase.insured_no, RestrictionCase.arrears)
                .join(CaseRecord, col(CaseRecord.id) == RestrictionCase.case_id)
                .where(
                    RestrictionCase.kind == RestrictionKind.DELINQUENCY,
                    col(CaseRecord.state) == CaseState.OPEN,
                    col(RestrictionCase.arrears_checked_at).is_not(None),
                )
            )
        ).all()
        stale = []
        for case_id, insured_no, recorded in rows:
            current = await premiums.snapshot(session, insured_no, as_of)
            if [line.model_dump(mode="json") for line in current.lines] != recorded:
                stale.append(case_id)
    for case_id in stale:
        await signal_case(temporal, case_id, "reconcile")
    return len(stale)


# --------------------------------------------------------------------------------- payments → cases


async def open_delinquency_cases(session: AsyncSession, insured_nos: Iterable[str]) -> dict[str, str]:
    """insured_no → its open 66・67条 case."""
    rows = await session.exec(
        select(RestrictionCase.insured_no, RestrictionCase.case_id)
        .join(CaseRecord, col(CaseRecord.id) == RestrictionCase.case_id)
        .where(
            col(RestrictionCase.insured_no).in_(list(set(insured_nos))),
            RestrictionCase.kind == RestrictionKind.DELINQUENCY,
            col(CaseRecord.state) == CaseState.OPEN,
        )
    )
    return dict(rows.all())


async def signal_case(temporal: Client, case_id: str, source: str) -> bool:
    """Tell a case its ledger changed. False when it could not be told now (the daily reconciliation will)."""
    handle: WorkflowHandle[RestrictionWorkflow, object] = temporal.get_workflow_handle(case_id)
    try:
        async with temporal_client.bounded():
            await handle.signal(
                RestrictionWorkflow.ledger_changed,
                LedgerChanged(source=source),  # type: ignore[arg-type]
                rpc_timeout=temporal_client.CALL_TIMEOUT,
            )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:  # closed meanwhile, or the header awaits its workflow
            return False
        if temporal_client.unavailable(error) is None:
            raise
        log.warning("restriction_signal_failed", case_id=case_id, status=str(error.status))
        return False
    except Exception as error:  # the payment is committed: an outage must not turn it into an error
        if temporal_client.unavailable(error) is None:
            raise
        log.warning("restriction_signal_failed", case_id=case_id, status="unavailable")
        return False
    return True


# ------------------------------------------------------------------------------- updates to a case


async def _update(temporal: Client, case_id: str, update: Any, request: Any) -> Any:
    """Send an update; a field the workflow refuses is named as the request names it (no `payload.`)."""
    try:
        return await workflow_updates.execute(temporal, case_id, update, request)
    except ProblemError as problem:
        if problem.code != "invalid-payload":
            raise
        fields = [(field.removeprefix("payload."), message) for field, message in problem.fields]
        raise ProblemError(422, "invalid", fields[0][1], field=fields[0][0], fields=fields) from None


async def apply_for_lifting(*, temporal: Client, case_id: str, request: LiftingRequest) -> LiftingAccepted:
    """終了申請: the case opens a review task (refused before a 支払方法変更 is in force)."""
    update = RestrictionWorkflow.apply_for_lifting
    accepted: LiftingAccepted = await _update(temporal, case_id, update, request)
    return accepted


async def record_insurer_notice(*, temporal: Client, case_id: str, request: InsurerNoticeRequest) -> None:
    """68条2項: the medical insurer's notice that the premiums are paid; the case lifts the 差止."""
    await _update(temporal, case_id, RestrictionWorkflow.record_insurer_notice, request)


# ------------------------------------------------------------------------------- reading restrictions


async def record_of(session: AsyncSession, case: CaseRecord) -> RestrictionRecord | None:
    row = await session.get(RestrictionCase, case.id)
    if row is None:
        return None
    reduction = (
        await session.exec(select(BenefitReduction).where(BenefitReduction.case_id == case.id))
    ).first()
    return RestrictionRecord.model_validate(
        {**row.model_dump(), "reduction": reduction.model_dump(mode="json") if reduction else None}
    )


async def restrictions_of(session: AsyncSession, insured_no: str, as_of: date) -> PersonRestrictions:
    """A person's restrictions: planned (予告済み), in force, and ended, newest first."""
    rows = (
        await session.exec(
            select(RestrictionCase, CaseRecord)
            .join(CaseRecord, col(CaseRecord.id) == RestrictionCase.case_id)
            .where(
                RestrictionCase.insured_no == insured_no, RestrictionCase.kind != RestrictionKind.REDUCTION
            )
            .order_by(col(RestrictionCase.opened_on).desc())
        )
    ).all()
    items: list[RestrictionPublic] = []
    for row, case in rows:
        open_ = case.state == CaseState.OPEN
        # Lifted before it took effect (paid between the notice and the 1st): it never applied.
        until = (row.lifted_on - timedelta(days=1)) if row.lifted_on else None
        if row.kind == RestrictionKind.CATEGORY2:
            if row.suspension_from or (open_ and row.advance_notice_on):
                items.append(
                    _item(Measure.CATEGORY2_SUSPENSION, row.suspension_from, until, open_, as_of, row)
                )
            continue
        if row.payment_method_change_from or (open_ and row.advance_notice_on):
            items.append(
                _item(Measure.PAYMENT_METHOD_CHANGE, row.payment_method_change_from, until, open_, as_of, row)
            )
        if row.suspension_from:
            items.append(_item(Measure.BENEFIT_SUSPENSION, row.suspension_from, until, open_, as_of, row))
    reductions = (
        await session.exec(
            select(BenefitReduction)
            .where(BenefitReduction.insured_no == insured_no)
            .order_by(col(BenefitReduction.reduction_from).desc())
        )
    ).all()
    for reduction in reductions:
        status = (
            "ended"
            if reduction.reduction_to < as_of
            else ("active" if reduction.reduction_from <= as_of else "planned")
        )
        items.append(
            RestrictionPublic(
                measure=Measure.BENEFIT_REDUCTION,
                label=Measure.BENEFIT_REDUCTION.label,
                status=status,  # type: ignore[arg-type]
                valid_from=reduction.reduction_from,
                valid_to=reduction.reduction_to,
                case_id=reduction.case_id,
                certification_id=reduction.certification_id,
                benefit_rate=reduction.benefit_rate,
            )
        )
    return PersonRestrictions(insured_no=insured_no, as_of=as_of, items=items)


def _item(
    measure: Measure, since: date | None, until: date | None, open_: bool, as_of: date, row: RestrictionCase
) -> RestrictionPublic:
    if since is None:
        status = "planned" if open_ else "ended"
    elif not open_:
        status = "ended"
    else:
        status = "active" if since <= as_of else "planned"
    never_applied = since is not None and until is not None and until < since
    return RestrictionPublic(
        measure=measure,
        label=measure.label,
        status=status,  # type: ignore[arg-type]
        valid_from=since,
        valid_to=None if never_applied else until,
        lifted_on=row.lifted_on,
        case_id=row.case_id,
    )
