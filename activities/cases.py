"""Read-model activities shared by the procedures: tasks, case events, the application record, the board.

Each is idempotent (Temporal retries activities): inserts are keyed and skip when the key exists, updates
set values rather than add to them.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.board import (
    BoardAllocation,
    BoardMeeting,
    BoardPanelMember,
    BoardRecusal,
    BoardVote,
    PanelRole,
)
from models.case import CaseEvent
from models.certification import Certification, CertificationApplication
from models.common import utcnow
from models.task import Task, TaskState
from models.workflow_io import (
    AllocationRequest,
    ApplicationPatch,
    BoardSeat,
    BoardSlot,
    CaseEventIn,
    CertificationRecord,
    TaskClose,
    TaskOpen,
    VoteRecord,
)


class CaseActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # ------------------------------------------------------------------------------------------ tasks

    @activity.defn
    async def open_task(self, task: TaskOpen) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                insert(Task)
                .values(
                    id=uuid.UUID(task.task_id),
                    case_id=task.case_id,
                    workflow_id=task.workflow_id,
                    kind=task.kind,
                    candidate_role=task.candidate_role,
                    assignee=task.assignee,
                    subject_atena_no=task.subject_atena_no,
                    insured_no=task.insured_no,
                    state=TaskState.OPEN,
                    priority=task.priority,
                    due_at=task.due_at,
                    version=1,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )

    @activity.defn
    async def close_task(self, close: TaskClose) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                sa.update(Task)
                .where(col(Task.id) == uuid.UUID(close.task_id), col(Task.state) == TaskState.OPEN)
                .values(
                    state=close.state,
                    closed_at=utcnow(),
                    closed_by=close.actor,
                    version=Task.version + 1,
                )
            )

    # ------------------------------------------------------------------------------------ timeline

    @activity.defn
    async def record_case_event(self, event: CaseEventIn) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                insert(CaseEvent)
                .values(**event.model_dump(), at=utcnow())
                .on_conflict_do_nothing(constraint="uq_case_event_once")
            )

    @activity.defn
    async def update_application(self, patch: ApplicationPatch) -> None:
        changes = patch.model_dump(exclude={"application_id"}, exclude_none=True, mode="json")
        async with self._sessions() as session, session.begin():
            await session.exec(
                sa.update(CertificationApplication)
                .where(col(CertificationApplication.id) == patch.application_id)
                .values(**changes, updated_at=utcnow())
            )

    @activity.defn
    async def save_certification(self, record: CertificationRecord) -> None:
        values = record.model_dump(exclude={"application_id"})
        async with self._sessions() as session, session.begin():
            await session.exec(
                insert(Certification)
                .values(id=record.application_id, **values, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["id"])
            )

    # --------------------------------------------------------------------------------------- board

    @activity.defn
    async def allocate_board_meeting(self, request: AllocationRequest) -> BoardSlot | None:
        """Put the case on the next meeting with room (simplified cases also count against their quota)."""
        async with self._sessions() as session, session.begin():
            # One allocation at a time, so two cases never take the last seat of a meeting together.
            await session.exec(sa.text("SELECT pg_advisory_xact_lock(hashtext('board_allocation'))"))  # type: ignore[call-overload]
            existing = (
                await session.exec(
                    select(BoardAllocation, BoardMeeting)
                    .join(BoardMeeting)
                    .where(
                        BoardAllocation.application_id == request.application_id,
                        col(BoardMeeting.held_on) >= request.not_before,
                    )
                )
            ).first()
            if existing is not None:  # an activity retry: the case already has its seat
                return await self._slot(session, existing[1], request)
            meetings = (
                await session.exec(
                    select(BoardMeeting)
                    .where(col(BoardMeeting.held_on) >= request.not_before)
                    .order_by(col(BoardMeeting.held_on), col(BoardMeeting.id))
                )
            ).all()
            for meeting in meetings:
                allocated = (
                    await session.exec(
                        select(BoardAllocation.simplified).where(BoardAllocation.meeting_id == meeting.id)
                    )
                ).all()
                if len(allocated) >= meeting.capacity:
                    continue
                if request.simplified and sum(allocated) >= meeting.simplified_capacity:
                    continue
                slot = await self._slot(session, meeting, request)
                if slot.chair in slot.recused:  # the chair must judge: this panel cannot take the case
                    continue
                session.add(
                    BoardAllocation(
                        application_id=request.application_id,
                        meeting_id=meeting.id,  # type: ignore[arg-type]
                        simplified=request.simplified,
                    )
                )
                await session.flush()
                return slot
            return None

    async def _slot(
        self, session: AsyncSession, meeting: BoardMeeting, request: AllocationRequest
    ) -> BoardSlot:
        members = (
            await session.exec(select(BoardPanelMember).where(BoardPanelMember.panel_id == meeting.panel_id))
        ).all()
        declared = set(
            (
                await session.exec(
                    select(BoardRecusal.login_id).where(BoardRecusal.application_id == request.application_id)
                )
            ).all()
        )
        chair = next((m.login_id for m in members if m.role == PanelRole.CHAIR), None)
        if chair is None:
            raise ApplicationError(f"panel {meeting.panel_id} has no chair", type="PanelWithoutChair")

        def recused(member: BoardPanelMember) -> bool:
            # Members who know the case from another side: its surveyor, the office that applied for it,
            # or a declared conflict (relative, own client).
            same_office = bool(member.affiliation) and member.affiliation == request.applicant_office
            return member.login_id == request.surveyor or same_office or member.login_id in declared

        out = sorted(m.login_id for m in members if recused(m))
        seats = [
            BoardSeat(login_id=m.login_id, chair=m.role == PanelRole.CHAIR) for m in members if not recused(m)
        ]
        return BoardSlot(
            meeting_id=meeting.id,  # type: ignore[arg-type]
            held_on=meeting.held_on,
            panel_size=len(members),
            chair=chair,
            seats=seats,
            recused=out,
        )

    @activity.defn
    async def record_board_vote(self, vote: VoteRecord) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                insert(BoardVote)
                .values(**vote.model_dump(), at=utcnow())
                .on_conflict_do_nothing(constraint="uq_board_vote_key")
            )
