"""Drive 給付制限 cases in tests: a ledger with arrears, payments posted as the API posts them (ledger, then
the case is told), and a driver that completes the case's tasks through the real workflow update."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from models.case import CaseRecord
from models.certification import Certification
from models.procedure import TaskCompleted
from models.restriction import AssessmentBatch, AssessmentIn, PaymentIn, RestrictionCase
from models.task import Task, TaskState
from rules.calendar import add_months
from services import premiums, restriction, tasks
from services.notices import fiscal_year_of
from tests.case_view import CaseView


def monthly_dues(first_due: date, count: int) -> list[date]:
    """`count` 納期限 a month apart, the first on `first_due` (each the same day of its month, or its end)."""
    dues = []
    for n in range(count):
        year, month = add_months(first_due.year, first_due.month, n)
        day = min(first_due.day, 28)
        dues.append(date(year, month, day))
    return dues


async def seed_ledger(
    sessions: async_sessionmaker[AsyncSession], insured_no: str, dues: list[date], amount: int = 6_200
) -> list[AssessmentIn]:
    """One 調定 per 納期限 (期別 numbered within each 年度), nothing paid."""
    items: list[AssessmentIn] = []
    periods: dict[int, int] = {}
    for due in dues:
        year = fiscal_year_of(due)
        periods[year] = periods.get(year, 0) + 1
        items.append(
            AssessmentIn(
                insured_no=insured_no, fiscal_year=year, period=periods[year], due_on=due, amount=amount
            )
        )
    async with sessions() as session, session.begin():
        await premiums.post_assessments(
            session=session, batch=AssessmentBatch(assessments=items), actor="test"
        )
    return items


async def seed_certification(
    sessions: async_sessionmaker[AsyncSession],
    insured_no: str,
    atena_no: str,
    valid_from: date,
    valid_to: date,
) -> str:
    certification_id = f"{insured_no}{'0' * 22}"
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=certification_id,
                atena_no=atena_no,
                insured_no=insured_no,
                level="要介護2",
                valid_from=valid_from,
                valid_to=valid_to,
                decided_on=valid_from,
            )
        )
    return certification_id


async def pay(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    item: AssessmentIn,
    *,
    receipt_no: str,
    paid_on: date,
    amount: int | None = None,
) -> str | None:
    """Post a payment as POST /premium-payments does: the ledger first, then the open case is told."""
    payment = PaymentIn(
        receipt_no=receipt_no,
        insured_no=item.insured_no,
        fiscal_year=item.fiscal_year,
        period=item.period,
        amount=amount if amount is not None else item.amount,
        paid_on=paid_on,
    )
    async with sessions() as session, session.begin():
        await premiums.post_payment(
            session=session, payment=payment, actor="collection", today=paid_on, source="api"
        )
    async with sessions() as session:
        case_id = (await restriction.open_delinquency_cases(session, [item.insured_no])).get(item.insured_no)
    if case_id is not None:
        await restriction.signal_case(temporal, case_id, "payment")
    return case_id


async def eventually(probe: Any, *, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {result!r} after {timeout} s")
        await asyncio.sleep(0.05)


@dataclass
class RestrictionDriver(CaseView):
    async def open_task(self, kind: str, timeout: float = 15.0) -> Task:
        async def find() -> Task | None:
            async with self.sessions() as session:
                return (
                    await session.exec(
                        select(Task).where(
                            Task.case_id == self.case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN
                        )
                    )
                ).first()

        found: Task = await eventually(find, timeout=timeout)
        return found

    async def has_open(self, kind: str) -> bool:
        async with self.sessions() as session:
            return (
                await session.exec(
                    select(Task.id).where(
                        Task.case_id == self.case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN
                    )
                )
            ).first() is not None

    async def complete(self, kind: str, payload: dict[str, Any], actor: str = "restriction") -> TaskCompleted:
        task = await self.open_task(kind)
        return await tasks.complete(temporal=self.client, task=task, actor=actor, payload=payload)

    async def record(self) -> RestrictionCase:
        async with self.sessions() as session:
            row = await session.get(RestrictionCase, self.case_id)
            assert row is not None
            return row

    async def notice_kinds(self) -> list[str]:
        return [n.kind for n in await self.notices()]

    async def until_stage(self, stage: str, timeout: float = 15.0) -> CaseRecord:
        async def reached() -> CaseRecord | None:
            case = await self.case()
            return case if case.stage == stage else None

        found: CaseRecord = await eventually(reached, timeout=timeout)
        return found

    async def until_notices(self, count: int, timeout: float = 15.0) -> list[str]:
        async def enough() -> list[str] | None:
            kinds = await self.notice_kinds()
            return kinds if len(kinds) >= count else None

        found: list[str] = await eventually(enough, timeout=timeout)
        return found


def days_before(day: date, days: int) -> date:
    return day - timedelta(days=days)
