"""Drive certification cases in tests: payload builders and a `CaseDriver` that finds a case's open tasks
in the read model and completes them through the real workflow update (as the API does)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from models.board import BoardMeeting, BoardPanel, BoardPanelMember, PanelRole
from models.case import CaseRecord
from models.certification import CertificationApplication
from models.certification_tasks import CertificationTask as TaskKind
from models.procedure import TaskCompleted
from models.registry import Insured, Person
from models.security import Staff
from models.task import Task, TaskState
from rules.certification import ApplicationKind
from rules.primary_determination import CareLevel
from services import tasks
from tests.survey_fixtures import complete_opinion_payload, complete_survey_payload

BOARD = ["board-chair", "board-b", "board-c", "board-d", "board-e"]
T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float = 10.0) -> T:
    """The probe's first truthy result: the workflow moves on after an update returns, so tests wait."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {result!r} after {timeout} s")
        await asyncio.sleep(0.05)


def primary_payload(insured_no: str, applied_on: date, level: CareLevel = CareLevel.CARE_2) -> dict[str, Any]:
    """A 一次判定 result consistent with rules.primary_determination for `level` (基準時間 in its band)."""
    minutes = {
        CareLevel.NOT_APPLICABLE: Decimal("20.0"),
        CareLevel.SUPPORT_1: Decimal("28.0"),
        CareLevel.CARE_2: Decimal("55.0"),
        CareLevel.CARE_3: Decimal("75.0"),
    }[level]
    parts = [Decimal("0.0")] * 7
    return {
        "insured_no": insured_no,
        "applied_on": applied_on.isoformat(),
        "determined_on": (applied_on + timedelta(days=12)).isoformat(),
        "level": level.code,
        "total_minutes": str(minutes),
        "meal_minutes": str(minutes),
        **{
            name: str(value)
            for name, value in zip(
                [
                    "excretion_minutes",
                    "transfer_minutes",
                    "hygiene_minutes",
                    "indirect_minutes",
                    "bpsd_minutes",
                    "rehabilitation_minutes",
                    "medical_minutes",
                ],
                parts,
                strict=True,
            )
        },
        **{f"group{i}_score": "80.0" for i in range(1, 6)},
        "stability": None,
        "dementia_probability": None,
    }


def survey_payload(conducted_on: date) -> dict[str, Any]:
    payload = complete_survey_payload()
    payload["overview"] = {**payload["overview"], "conducted_on": conducted_on.isoformat()}
    return payload


def opinion_payload(received_on: date) -> dict[str, Any]:
    return complete_opinion_payload(received_on=received_on.isoformat(), written_on=received_on.isoformat())


async def seed_board(
    sessions: async_sessionmaker[AsyncSession], meeting_days: list[date], password_hash: str = "x"
) -> list[int]:
    """A panel of five (chair + four) and meetings on the given days; returns the meeting ids."""
    async with sessions() as session, session.begin():
        for login in BOARD:
            if await session.get(Staff, login) is None:
                session.add(
                    Staff(
                        login_id=login,
                        display_name=login,
                        password_hash=password_hash,
                        roles=["board_member"],
                    )
                )
        panel = BoardPanel(name=f"第{uuid.uuid4().hex[:4]}合議体")
        session.add(panel)
        await session.flush()
        for login in BOARD:
            role = PanelRole.CHAIR if login == "board-chair" else PanelRole.MEMBER
            affiliation = "あさひ居宅介護支援事業所" if login == "board-e" else None
            session.add(
                BoardPanelMember(panel_id=panel.id, login_id=login, role=role, affiliation=affiliation)
            )  # type: ignore[arg-type]
        meetings = [BoardMeeting(panel_id=panel.id, held_on=day) for day in meeting_days]  # type: ignore[arg-type]
        session.add_all(meetings)
        await session.flush()
        return [m.id for m in meetings]  # type: ignore[misc]


async def seed_insured(
    sessions: async_sessionmaker[AsyncSession], *, insured_no: str = "0300000001", category: str = "1"
) -> str:
    atena_no = "3" + insured_no[1:] + "01"
    async with sessions() as session, session.begin():
        session.add(
            Person(
                atena_no=atena_no,
                name_kanji="髙橋 ハナ",
                name_kana="タカハシ ハナ",
                kana_key="タカハシハナ",
                birth_date=date(1940, 4, 3) if category == "1" else date(1970, 4, 3),
                sex="2",
                postal_code="0700031",
                address="北海道旭川市一条通8丁目",
            )
        )
        await session.flush()
        session.add(
            Insured(
                insured_no=insured_no,
                atena_no=atena_no,
                category=category,
                acquired_on=date(2005, 4, 2) if category == "1" else date(2010, 4, 2),
                acquisition_reason="age_65" if category == "1" else "age_40",
            )
        )
    return atena_no


@dataclass
class CaseDriver:
    """Plays the staff side of one case."""

    client: Client
    sessions: async_sessionmaker[AsyncSession]
    application_id: str

    @property
    def case_id(self) -> str:
        return f"certification-{self.application_id}"

    async def open_task(self, kind: TaskKind, *, assignee: str | None = None, timeout: float = 10.0) -> Task:
        """Wait (real time) for the workflow's activity to put the task in the read model."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.sessions() as session:
                query = select(Task).where(
                    Task.case_id == self.case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN
                )
                if assignee is not None:
                    query = query.where(Task.assignee == assignee)
                found = (await session.exec(query)).first()
            if found is not None:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"no open {kind} task for {self.case_id}{' / ' + assignee if assignee else ''}"
                )
            await asyncio.sleep(0.05)

    async def has_open(self, kind: TaskKind) -> bool:
        async with self.sessions() as session:
            query = select(Task.id).where(
                Task.case_id == self.case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN
            )
            return (await session.exec(query)).first() is not None

    async def has_open_for(self, member: str) -> bool:
        async with self.sessions() as session:
            query = select(Task.id).where(
                Task.case_id == self.case_id, Task.assignee == member, col(Task.state) == TaskState.OPEN
            )
            return (await session.exec(query)).first() is not None

    async def complete(
        self, kind: TaskKind, payload: dict[str, Any], *, actor: str = "intake", assignee: str | None = None
    ) -> TaskCompleted:
        task = await self.open_task(kind, assignee=assignee)
        return await tasks.complete(temporal=self.client, task=task, actor=actor, payload=payload)

    async def case(self) -> CaseRecord:
        """The case header: state, stage, due date (written by the workflow's steps)."""
        async with self.sessions() as session:
            case = await session.get(CaseRecord, self.case_id)
            assert case is not None
            return case

    async def application(self) -> CertificationApplication:
        async with self.sessions() as session:
            application = await session.get(CertificationApplication, self.application_id)
            assert application is not None
            return application

    async def evidence(self, applied_on: date, *, surveyor: str = "surveyor") -> None:
        """Survey, opinion request and receipt, all on the application day (a date after today is refused)."""
        await self.complete(TaskKind.SURVEY, survey_payload(applied_on), actor=surveyor)
        await self.complete(
            TaskKind.OPINION_REQUEST,
            {
                "physician_name": "旭川 太郎",
                "institution_name": "旭川中央病院",
                "requested_on": applied_on.isoformat(),
                "due_on": (applied_on + timedelta(days=14)).isoformat(),
            },
        )
        await self.complete(TaskKind.OPINION_RECEIPT, opinion_payload(applied_on))

    async def vote(self, member: str, level: CareLevel, months: int | None) -> None:
        await self.complete(
            TaskKind.BOARD_VOTE,
            {"level": level, "validity_months": months},
            actor=member,
            assignee=member,
        )

    async def close_board(self, **payload: Any) -> None:
        await self.complete(TaskKind.BOARD_CLOSE, payload, actor="board-chair", assignee="board-chair")


def renewal_fields(previous_valid_to: date) -> dict[str, Any]:
    return {
        "kind": ApplicationKind.RENEWAL,
        "previous_level": CareLevel.CARE_2,
        "previous_valid_to": previous_valid_to,
        "applicant_kind": "care_manager_office",
        "applicant_office": "あさひ居宅介護支援事業所",
    }
