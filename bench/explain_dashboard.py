"""The dashboard's queries at a city's volume: their plans (EXPLAIN ANALYZE) and their times.

    .venv/bin/python bench/explain_dashboard.py [--cases 20000]

Uses DATABASE_URL if set (a scratch database, please: it adds rows), else a throw-away embedded PostgreSQL.
It writes read-model rows directly (persons, applications, case headers, board allocations, certifications;
no workflows): a few years of a city's certifications, 5 % of them still open, over three offices and two
合議体. Then ANALYZE, and each chart's query three times; the plan of the last run is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.console import charts
from api.console import renewal as renewal_console
from kaigo import embedded, migrate
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from models.board import BoardAllocation, BoardMeeting, BoardPanel
from models.case import CaseRecord
from models.certification import Certification, CertificationApplication
from models.registry import Person
from models.renewal import CertificationTerm, Stage
from rules.primary_determination import CareLevel

TODAY = date(2026, 12, 1)
LEVELS = [level.value for level in CareLevel]


def _database(tmp: Path) -> tuple[str, Any]:
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


def _term(
    rng: random.Random, certification_id: str, atena_no: str, insured_no: str, expiry: date
) -> list[Any]:
    """The certification's renewal term (its header and its row), in a state that fits its expiry."""
    if expiry < TODAY:
        state = rng.choice([Stage.RENEWED, Stage.RENEWED, Stage.RENEWED, Stage.LAPSED, Stage.ENDED])
    elif expiry <= TODAY + timedelta(days=30):
        state = rng.choice([Stage.SECOND_NOTIFIED, Stage.APPLICATION_PENDING, Stage.RENEWED])
    elif expiry <= TODAY + timedelta(days=60):
        state = rng.choice([Stage.NOTIFIED, Stage.APPLICATION_PENDING])
    else:
        state = Stage.WAITING
    closed = state in (Stage.RENEWED, Stage.LAPSED, Stage.ENDED)
    case_id = f"renewal-{certification_id}"
    return [
        CaseRecord(
            id=case_id, case_type="renewal", subject_atena_no=atena_no, insured_no=insured_no,
            office="honcho", state="closed" if closed else "open", stage=state, opened_by="bench",
        ),
        CertificationTerm(
            case_id=case_id, certification_id=certification_id, insured_no=insured_no, atena_no=atena_no,
            expiry=expiry, last_filing_day=expiry, state=state,
        ),
    ]  # fmt: skip


async def _seed(engine: AsyncEngine, cases: int) -> None:
    rng = random.Random(12)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        panels = [BoardPanel(name=name) for name in ("第1合議体", "第2合議体")]
        session.add_all(panels)
        await session.flush()
        meetings: dict[date, BoardMeeting] = {}
        day = TODAY - timedelta(days=3 * 365)
        while day <= TODAY + timedelta(days=30):
            if day.weekday() == 3:
                meetings[day] = BoardMeeting(panel_id=rng.choice(panels).id, held_on=day, capacity=60)  # type: ignore[arg-type]
            day += timedelta(days=1)
        session.add_all(meetings.values())
        await session.flush()
    meeting_days = sorted(meetings)
    agenda: dict[int, int] = {}
    for start in range(0, cases, 2000):
        async with sessions() as session, session.begin():
            rows: list[Any] = []
            for i in range(start, min(start + 2000, cases)):
                atena_no, insured_no = str(800000000001 + i), str(8000000000 + i)
                applied_on = TODAY - timedelta(days=rng.randrange(3 * 365))
                application_id = uuid.uuid4().hex
                case_id = f"certification-{application_id}"
                open_ = applied_on > TODAY - timedelta(days=45) and rng.random() < 0.6
                primary = rng.choice(LEVELS[1:])
                rows.append(
                    Person(
                        atena_no=atena_no, name_kanji="試験 太郎", name_kana="シケン タロウ",
                        kana_key="シケンタロウ", birth_date=date(1945, 1, 1), sex="1", postal_code="0700031",
                        address="北海道旭川市",
                    )
                )  # fmt: skip
                rows.append(
                    CaseRecord(
                        id=case_id, case_type="certification", subject_atena_no=atena_no,
                        insured_no=insured_no, office=rng.choice(["honcho", "higashi", "nagayama"]),
                        state="open" if open_ else "closed",
                        stage=rng.choice(["survey_opinion", "primary", "board"]) if open_ else "decided",
                        opened_by="bench",
                    )
                )  # fmt: skip
                rows.append(
                    CertificationApplication(
                        id=application_id, workflow_id=case_id, insured_no=insured_no, atena_no=atena_no,
                        kind="new", category="1", applied_on=applied_on, applicant_kind="self",
                        decision_deadline=applied_on + timedelta(days=30), primary_result={"level": primary},
                        created_by="bench",
                    )
                )  # fmt: skip
                if open_:
                    continue
                held_on = next(
                    (d for d in meeting_days if d >= applied_on + timedelta(days=rng.randrange(18, 40))),
                    meeting_days[-1],
                )
                meeting = meetings[held_on]
                agenda[meeting.id] = agenda.get(meeting.id, 0) + 1  # type: ignore[index,arg-type]
                change = rng.random()
                index = LEVELS.index(primary)
                final = (
                    LEVELS[min(index + 1, 7)]
                    if change < 0.08
                    else LEVELS[max(index - 1, 1)]
                    if change < 0.12
                    else primary
                )
                rows.append(
                    BoardAllocation(
                        application_id=application_id, meeting_id=meeting.id, agenda_no=agenda[meeting.id]
                    )
                )  # type: ignore[index,arg-type]
                rows.append(
                    Certification(
                        id=application_id, atena_no=atena_no, insured_no=insured_no, level=final,
                        valid_from=held_on, valid_to=held_on + timedelta(days=365), decided_on=held_on,
                    )
                )  # fmt: skip
                rows.extend(_term(rng, application_id, atena_no, insured_no, held_on + timedelta(days=365)))
            for kind in (
                Person, CaseRecord, CertificationApplication, BoardAllocation, Certification,
                CertificationTerm,
            ):  # fmt: skip
                session.add_all([r for r in rows if isinstance(r, kind)])
                await session.flush()
    async with engine.connect() as conn:
        await conn.execute(sa.text("COMMIT"))
        await conn.execute(sa.text("ANALYZE"))


QUERIES = {
    "open-cases": (charts.OPEN_BY_STAGE, {}),
    "thirty-day-limit": (charts.DEADLINES, {"horizon": TODAY + timedelta(days=charts.NEAR_DAYS)}),
    "days-to-decision": (charts.DAYS_TO_DECISION, {"since": date(TODAY.year - 1, TODAY.month, 1)}),
    "change-rates": (charts.CHANGE_RATES, {"since": TODAY - timedelta(days=365)}),
    "renewals-due": (renewal_console.RENEWALS_DUE, {"today": TODAY, "until": TODAY + timedelta(days=60)}),
}


async def _explain(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        for chart_id, (query, params) in QUERIES.items():
            times = []
            for _ in range(3):
                started = time.perf_counter()
                await conn.execute(sa.text(query), params)
                times.append((time.perf_counter() - started) * 1000)
            plan = (
                (await conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {query}"), params)).scalars().all()
            )
            print(f"\n== {chart_id}: median {statistics.median(times):.1f} ms (3 runs)")
            print("\n".join(plan))


async def main(cases: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kaigo-bench-dashboard-"))
    url, server = _database(tmp)
    engine = make_engine(url, pool_size=2)
    try:
        started = time.perf_counter()
        await _seed(engine, cases)
        print(f"seeded {cases} certification cases in {time.perf_counter() - started:.1f} s")
        await _explain(engine)
    finally:
        await engine.dispose()
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20000)
    asyncio.run(main(parser.parse_args().cases))
