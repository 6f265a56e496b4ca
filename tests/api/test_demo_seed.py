"""The demo data `make dev` seeds lets the README walkthrough decide a case on any day of the week."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cli.seed import seed_demo_board, seed_demo_staff
from models.board import BoardMeeting


@pytest.mark.parametrize("today", [date(2026, 12, 1), date(2026, 12, 3), date(2026, 12, 6)])  # Tue, Thu, Sun
async def test_demo_board_meets_today_and_on_the_next_thursdays(
    sessions: async_sessionmaker[AsyncSession], today: date
) -> None:
    await seed_demo_staff(sessions)
    await seed_demo_board(sessions, today)
    again = await seed_demo_board(sessions, today)  # make dev seeds at every start: nothing doubles
    async with sessions() as session:
        days = sorted((await session.exec(select(BoardMeeting.held_on))).all())
    assert again == 0 and days[0] == today and len(days) == len(set(days))
    assert all(d.weekday() == 3 for d in days if d != today)
    assert len([d for d in days if d.weekday() == 3]) == 8  # eight weeks of Thursdays
