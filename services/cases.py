"""Cases of every procedure: opening one (its header row, then its workflow), reading one, ending them.

The rules every procedure shares live here once:
- a case id is its workflow id (`models.case.case_id_for`);
- "one open case of a kind per insured person" is a unique key in the database, so two clerks filing at
  once get one case and a 409 naming it — never two;
- the header row is committed before the workflow starts and no transaction is held while Temporal is
  called; a start that fails is undone, and a header left behind by a crash (no workflow) is cleared the
  next time someone opens a case for that person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from kaigo import temporal_client
from kaigo.errors import ProblemError
from models.case import CaseEvent, CaseRecord, CaseState
from models.common import utcnow
from models.procedure import CaseClosed, EndCase, ProcedureModel
from services import workflow_updates
from workflows.procedure import ProcedureWorkflow

log = structlog.get_logger(__name__)

# A start is bounded by temporal_client.CALL_TIMEOUT (5 s); a header this old without a workflow is orphaned.
ORPHAN_AFTER = timedelta(seconds=30)


def case_not_found(case_id: str) -> ProblemError:
    return ProblemError(404, "case-not-found", f"ケース {case_id} はありません", field="case_id")


async def get(*, session: AsyncSession, case_id: str) -> CaseRecord:
    case = await session.get(CaseRecord, case_id)
    if case is None:
        raise case_not_found(case_id)
    return case


async def timeline(*, session: AsyncSession, case_id: str) -> list[CaseEvent]:
    rows = await session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
    )
    return list(rows.all())


def _exclusive_key(model: ProcedureModel, insured_no: str) -> str | None:
    return f"{model.case_type}:{insured_no}" if model.exclusive_per_insured else None


@dataclass(frozen=True)
class NewHeader:
    """A case header to insert; stage and details default to the model's opening stage."""

    case_id: str
    atena_no: str
    insured_no: str
    office: str
    due_on: date | None = None
    stage: str | None = None
    details: str | None = None


async def insert_headers(
    *, session: AsyncSession, model: ProcedureModel, headers: Sequence[NewHeader], actor: str
) -> set[str]:
    """Insert case headers in one statement; the ids inserted (an existing id or exclusive key is skipped).

    A concurrent insert of the same exclusive key waits for the other transaction and then skips, so the
    caller can name the case that won.
    """
    if not headers:
        return set()
    now = utcnow()
    rows = await session.exec(
        insert(CaseRecord)
        .values(
            [
                {
                    "id": header.case_id,
                    "case_type": model.case_type,
                    "subject_atena_no": header.atena_no,
                    "insured_no": header.insured_no,
                    "office": header.office,
                    "state": CaseState.OPEN,
                    "stage": header.stage or model.open_stage,
                    "details": header.details or model.stages[header.stage or model.open_stage],
                    "due_on": header.due_on,
                    "exclusive_key": _exclusive_key(model, header.insured_no),
                    "opened_by": actor,
                    "opened_at": now,
                    "updated_at": now,
                }
                for header in headers
            ]
        )
        .on_conflict_do_nothing()
        .returning(CaseRecord.id)
    )
    return set(rows.scalars().all())


async def insert_header(
    *,
    session: AsyncSession,
    model: ProcedureModel,
    case_id: str,
    atena_no: str,
    insured_no: str,
    office: str,
    actor: str,
    due_on: date | None,
) -> CaseRecord | None:
    """Insert one case's header; None if the person already has an open case of this kind (exclusive)."""
    header = NewHeader(
        case_id=case_id, atena_no=atena_no, insured_no=insured_no, office=office, due_on=due_on
    )
    if not await insert_headers(session=session, model=model, headers=[header], actor=actor):
        return None
    return await session.get(CaseRecord, case_id)


async def open_case_of(*, session: AsyncSession, model: ProcedureModel, insured_no: str) -> CaseRecord | None:
    key = _exclusive_key(model, insured_no)
    if key is None:
        return None
    return (await session.exec(select(CaseRecord).where(CaseRecord.exclusive_key == key))).first()


async def clear_if_orphaned(
    *, sessions: async_sessionmaker[AsyncSession], temporal: Client, case: CaseRecord
) -> bool:
    """A header whose workflow never started (the API died between commit and start) blocks the person's
    next case: close it as `abandoned`. True if it was cleared.

    A header younger than ORPHAN_AFTER may be a start still in flight (another clerk filing at this moment):
    it is never cleared, or both clerks would get a case."""
    if utcnow() - case.opened_at < ORPHAN_AFTER:
        return False
    try:
        await temporal.get_workflow_handle(case.id).describe()
        return False
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    async with sessions() as session, session.begin():
        await session.exec(
            sa.update(CaseRecord)
            .where(col(CaseRecord.id) == case.id, col(CaseRecord.state) == CaseState.OPEN)
            .values(state=CaseState.CLOSED, outcome="abandoned", exclusive_key=None, closed_at=utcnow())
        )
    log.warning("case_header_orphaned", case_id=case.id)
    return True


async def start_workflow(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    case_id: str,
    run: Callable[..., Awaitable[Any]],
    arg: Any,
    task_queue: str,
    search_attributes: TypedSearchAttributes,
    summary: str,
    details: str,
    undo: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    """Start the case's workflow (its id is the case id); if the start fails, `undo` the committed rows."""
    try:
        async with temporal_client.bounded():  # a paused Temporal answers 503 in seconds, not minutes
            await temporal.start_workflow(
                run,
                arg,
                id=case_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes,
                static_summary=summary,
                static_details=details,
                rpc_timeout=temporal_client.CALL_TIMEOUT,
            )
    except BaseException:
        async with sessions() as session, session.begin():
            await undo(session)
            await session.exec(sa.delete(CaseRecord).where(col(CaseRecord.id) == case_id))
        raise


async def open_cases_of(*, session: AsyncSession, atena_no: str) -> list[CaseRecord]:
    rows = await session.exec(
        select(CaseRecord).where(
            CaseRecord.subject_atena_no == atena_no, col(CaseRecord.state) == CaseState.OPEN
        )
    )
    return list(rows.all())


async def end_case(*, temporal: Client, case_id: str, request: EndCase) -> CaseClosed:
    """取下げ, death or loss of status: the workflow cancels its tasks, records why and sends nothing more."""
    # The same end (reason, day, staff) twice is one end: a retry after a timeout whose first attempt did
    # reach the workflow gets that outcome, not a 409. The free-text note stays out of the id (history).
    update_id = f"end-case:{request.reason}:{request.on.isoformat()}:{request.actor}"
    return await workflow_updates.execute(
        temporal, case_id, ProcedureWorkflow.end_case, request, update_id=update_id
    )


async def end_open_cases(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    atena_no: str,
    reason: str,
    actor: str,
    on: date,
) -> list[CaseRecord]:
    """Registry events (death, loss of status) end every open case of the person, of every procedure.

    The open cases are read in a short transaction of their own; the workflows are told afterwards.
    """
    async with sessions() as session:
        cases = await open_cases_of(session=session, atena_no=atena_no)
    ended = []
    for case in cases:
        try:
            await end_case(
                temporal=temporal, case_id=case.id, request=EndCase(reason=reason, actor=actor, on=on)
            )
        except ProblemError as problem:
            if problem.status != 409:  # 409: decided or ended meanwhile, nothing left to end
                raise
            continue
        ended.append(case)
    return ended
