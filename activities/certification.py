"""要介護認定's side effects: its read model (patched by the workflow's steps) and the board allocation.

Idempotent, because Temporal retries activities: inserts are keyed and skip existing keys, updates set values.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.board import BoardAllocation, BoardMeeting, BoardPanelMember, BoardRecusal, BoardVote, PanelRole
from models.certification import (
    AllocationRequest,
    BoardSeat,
    BoardSlot,
    Certification,
    CertificationApplication,
    CertificationPatch,
)
from models.common import utcnow


class CertificationReadModel:
    """Applies a step's `CertificationPatch` in the step's transaction (activities/steps.py)."""

    async def apply(self, session: AsyncSession, case_id: str, patch: dict[str, Any]) -> None:
        changes = CertificationPatch.model_validate(patch)
        now = utcnow()
        columns = changes.model_dump(exclude={"certification", "votes"}, exclude_unset=True, mode="json")
        if columns:
            await session.exec(
                sa.update(CertificationApplication)
                .where(col(CertificationApplication.workflow_id) == case_id)
                .values(**columns, updated_at=now)
            )
        if changes.certification is not None:
            record = changes.certification
            await session.exec(
                insert(Certification)
                .values(
                    id=record.application_id, **record.model_dump(exclude={"application_id"}), created_at=now
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
        if changes.votes:
            await session.exec(
                insert(BoardVote)
                .values([{**vote.model_dump(), "at": now} for vote in changes.votes])
                .on_conflict_do_nothing(constraint="uq_board_vote_key")
            )


class CertificationActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def allocate_board_meeting(self, request: AllocationRequest) -> BoardSlot | None:
        """Put the case on the next meeting with room (simplified cases also count against their quota).

        Each meeting is locked on its own row while its seats are counted, so two cases never take its last
        seat together, and allocations to different meetings never wait for each other.
        """
        async with self._sessions() as session, session.begin():
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
                return await _slot(session, existing[1], existing[0].agenda_no, request)
            meeting_ids = (
                await session.exec(
                    select(BoardMeeting.id)
                    .where(col(BoardMeeting.held_on) >= request.not_before)
                    .order_by(col(BoardMeeting.held_on), col(BoardMeeting.id))
                )
            ).all()
            for meeting_id in meeting_ids:
                meeting = (
                    await session.exec(
                        select(BoardMeeting).where(BoardMeeting.id == meeting_id).with_for_update()
                    )
                ).one()
                allocated = (
                    await session.exec(
                        select(BoardAllocation.simplified).where(BoardAllocation.meeting_id == meeting.id)
                    )
                ).all()
                if len(allocated) >= meeting.capacity:
                    continue
                if request.simplified and sum(allocated) >= meeting.simplified_capacity:
                    continue
                agenda_no = len(allocated) + 1
                slot = await _slot(session, meeting, agenda_no, request)
                if slot.chair in slot.recused:  # the chair must judge: this panel cannot take the case
                    continue
                session.add(
                    BoardAllocation(
                        application_id=request.application_id,
                        meeting_id=meeting.id,  # type: ignore[arg-type]
                        agenda_no=agenda_no,
                        simplified=request.simplified,
                    )
                )
                await session.flush()
                return slot
            return None


async def _slot(
    session: AsyncSession, meeting: BoardMeeting, agenda_no: int, request: AllocationRequest
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
        agenda_no=agenda_no,
        panel_size=len(members),
        chair=chair,
        seats=seats,
        recused=out,
    )
