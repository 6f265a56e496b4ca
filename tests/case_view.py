"""A case as staff see it in the database — its header, notices and timeline — by its case id. The procedure
drivers of the tests (restriction_helpers.RestrictionDriver, workflows/renewal_helpers.Term) build on it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from models.case import CaseEvent, CaseRecord
from models.notice import NoticeRecord


@dataclass
class CaseView:
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    case_id: str

    async def case(self) -> CaseRecord:
        async with self.sessions() as session:
            case = await session.get(CaseRecord, self.case_id)
            assert case is not None
            return case

    async def notices(self) -> list[NoticeRecord]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(NoticeRecord)
                .where(NoticeRecord.case_id == self.case_id)
                .order_by(col(NoticeRecord.created_at))
            )
            return list(rows.all())

    async def steps(self) -> list[str]:
        """The timeline's steps, oldest first."""
        async with self.sessions() as session:
            rows = await session.exec(
                select(CaseEvent.step).where(CaseEvent.case_id == self.case_id).order_by(col(CaseEvent.id))
            )
            return list(rows.all())
