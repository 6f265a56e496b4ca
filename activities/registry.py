"""Registry look-ups for workflows. They return keys and statuses only, never names or addresses,
because activity results are stored in the workflow history."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.registry import Insured, Person
from rules.insured_status import InsuredCategory


class InsuredStatus(BaseModel):
    insured_no: str
    atena_no: str
    category: InsuredCategory
    lost_on: date | None
    person_removed_on: date | None

    @property
    def active(self) -> bool:
        return self.lost_on is None and self.person_removed_on is None


class RegistryActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def get_insured_status(self, insured_no: str) -> InsuredStatus:
        async with self._sessions() as session:
            insured = await session.get(Insured, insured_no)
            if insured is None:
                raise ApplicationError(
                    f"insured {insured_no} not found", type="InsuredNotFound", non_retryable=True
                )
            person = await session.get(Person, insured.atena_no)
            assert person is not None  # FK
            return InsuredStatus(
                insured_no=insured.insured_no,
                atena_no=insured.atena_no,
                category=InsuredCategory(insured.category),
                lost_on=insured.lost_on,
                person_removed_on=person.removed_on,
            )
