"""Shared by bench_notices.py and bench_print_export.py: a scratch database with insured residents, and
issuing notices the way the notice worker does (through services.notices, rendering in a process pool)."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo import embedded, migrate
from kaigo.config import Settings
from models.registry import InsuredCreate, PersonCreate
from notices.models.common import Issuer
from notices.pool import Renderer
from services import notices, registry

KIND = "expiry_reminder"
DATA = {"care_level": "要介護2", "valid_from": "2025-03-01", "valid_to": "2027-02-28", "second_notice": False}
ISSUED_ON = date(2026, 12, 1)

Sessions = async_sessionmaker[AsyncSession]


def database(tmp: Path) -> tuple[str, Any]:
    """The database URL, and the embedded server we started (None with DATABASE_URL).

    DATABASE_URL must name a scratch database: the bench adds persons and notices.
    """
    server = None
    url = os.environ.get("DATABASE_URL")
    if url:
        url = Settings(database_url=url, _env_file=None).require_database_url()  # type: ignore[call-arg]
    else:
        server = embedded.start_postgres(tmp / "pg")
        url = embedded.socket_url(server, f"bench_{uuid.uuid4().hex[:8]}")
    embedded.ensure_database(url)
    migrate.upgrade_to_head(url)
    return url, server


async def people(sessions: Sessions, count: int, first: int = 700000000001) -> list[str]:
    rng = random.Random(4)  # reproducible spread of postal codes: the export must sort them
    atena_numbers = []
    async with sessions() as session, session.begin():
        for i in range(count):
            atena_no = str(first + i)
            await registry.create_person(
                session=session,
                data=PersonCreate(
                    atena_no=atena_no,
                    name_kanji="試験 太郎",
                    name_kana="シケン タロウ",
                    birth_date=date(1950, 4, 1),
                    sex="1",
                    postal_code=f"07{rng.randrange(100000):05d}",
                    address="北海道旭川市6条通9丁目",
                ),
            )
            await registry.create_insured(
                session=session,
                data=InsuredCreate(
                    insured_no=f"{9000000000 + (first + i) % 1000000000}",
                    atena_no=atena_no,
                    category="1",
                    acquired_on=date(2015, 3, 31),
                    acquisition_reason="age_65",
                ),
            )
            atena_numbers.append(atena_no)
    return atena_numbers


async def issue_all(
    sessions: Sessions,
    atena_numbers: list[str],
    render: Renderer,
    concurrency: int,
    on_issued: Callable[[], None] | None = None,
) -> tuple[float, int, list[int]]:
    """Issue one notice per person, `concurrency` at a time (as the notice worker's activity slots do).

    Returns wall seconds, total pages and the sequence numbers taken.
    """
    issuer = Issuer.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    slots = asyncio.Semaphore(concurrency)
    pages: list[int] = []
    numbers: list[int] = []

    async def one(atena_no: str) -> None:
        async with slots:
            issued = await notices.issue(
                sessions,
                idempotency_key=f"bench:{uuid.uuid4().hex}",
                kind=KIND,
                recipient_atena_no=atena_no,
                issued_on=ISSUED_ON,
                data=DATA,
                issuer=issuer,
                issued_by="bench",
                render=render,
            )
        pages.append(issued.pages)
        numbers.append(issued.sequence)
        if on_issued is not None:
            on_issued()

    start = time.perf_counter()
    await asyncio.gather(*(one(a) for a in atena_numbers))
    return time.perf_counter() - start, sum(pages), numbers
