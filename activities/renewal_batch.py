"""The day's print batch of renewal reminders: plan it (one transaction), then produce its files.

Both are idempotent, so Temporal may retry either: planning finds the day's batch if it exists, producing
skips the print files and the issue list already made (services/renewal_batch.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from models.renewal_batch import DayPlan, RenewalBatchInput, RenewalBatchResult
from services import renewal_batch as service


class RenewalBatchActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def plan_renewal_batch(self, run: RenewalBatchInput) -> DayPlan:
        assert run.day is not None  # the workflow fixes the day before it plans
        async with self._sessions() as session, session.begin():
            return await service.plan_day(session=session, day=run.day, policy=run.policy)

    @activity.defn
    async def produce_renewal_batch(self, day: date) -> RenewalBatchResult:
        return await service.produce_day(self._sessions, day=day)
