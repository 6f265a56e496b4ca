"""Fictional insured residents in bulk, and certification CSV files, for the import tests and benchmark."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.certification_import import COLUMNS
from models.common import utcnow
from models.registry import Insured, Person

HEADER = ",".join(COLUMNS)


async def insured_residents(
    sessions: async_sessionmaker[AsyncSession], count: int, *, first: int = 300_000_000_001
) -> list[str]:
    """`count` persons with insured status (第1号); their 被保険者番号, in order."""
    numbers = [str(first + n) for n in range(count)]
    now = utcnow()
    persons = [
        {
            "atena_no": atena_no,
            "name_kanji": "試験 太郎",
            "name_kana": "シケン タロウ",
            "kana_key": "シケンタロウ",
            "birth_date": date(1940, 4, 2),
            "sex": "1",
            "postal_code": "0700031",
            "address": "北海道旭川市一条通9丁目",
            "created_at": now,
            "updated_at": now,
        }
        for atena_no in numbers
    ]
    insured = [
        {
            "insured_no": atena_no[-10:],
            "atena_no": atena_no,
            "category": "1",
            "acquired_on": date(2005, 4, 1),
            "acquisition_reason": "age_65",
            "jusho_tokurei": False,
            "created_at": now,
            "updated_at": now,
        }
        for atena_no in numbers
    ]
    async with sessions() as session, session.begin():
        connection = await session.connection()
        for start in range(0, count, 5_000):
            await connection.execute(sa.insert(Person), persons[start : start + 5_000])
            await connection.execute(sa.insert(Insured), insured[start : start + 5_000])
    return [row["insured_no"] for row in insured]


def csv_text(lines: list[str], *, newline: str = "\r\n") -> str:
    return newline.join([HEADER, *lines]) + newline
