"""Record-level access: a (contracted) surveyor sees only persons on cases assigned to them (28条5項)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.task import Task, TaskState
from tests.factories import insured_payload, person_payload


@pytest.fixture
async def two_people(as_staff: Callable[[str], httpx.AsyncClient]) -> tuple[str, str]:
    intake = as_staff("intake")
    first = (await intake.post("/persons", json=person_payload(name_kana="タントウ アリ"))).json()["atena_no"]
    second = (await intake.post("/persons", json=person_payload(name_kana="タントウ ナシ"))).json()[
        "atena_no"
    ]
    await intake.post("/insured", json=insured_payload(first))
    return first, second


async def _assign(
    sessions: async_sessionmaker[AsyncSession], atena_no: str, assignee: str, state: str
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Task(
                case_id="certification-test",
                workflow_id="certification-test",
                kind="survey",
                candidate_role="surveyor",
                assignee=assignee,
                subject_atena_no=atena_no,
                insured_no=insured_payload(atena_no)["insured_no"],
                state=state,
            )
        )


async def test_contractor_reads_only_assigned_people(
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    two_people: tuple[str, str],
) -> None:
    mine, not_mine = two_people
    await _assign(sessions, mine, "contractor", TaskState.OPEN)
    contractor = as_staff("contractor")
    assert (await contractor.get(f"/persons/{mine}")).status_code == 200
    refused = await contractor.get(f"/persons/{not_mine}")
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:kaigo-flow:problem:not-assigned"
    assert refused.json()["detail"] == "担当していないケースの情報は参照できません"
    search = (await contractor.get("/persons", params={"kana": "タントウ"})).json()
    assert [p["atena_no"] for p in search["items"]] == [mine] and search["total"] == 1
    insured = (await contractor.get("/insured", params={"kana": "タントウ"})).json()
    assert [i["atena_no"] for i in insured["items"]] == [mine]


async def test_one_surveyor_cannot_read_another_surveyors_case(
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    two_people: tuple[str, str],
) -> None:
    case_of_contractor, _ = two_people
    await _assign(sessions, case_of_contractor, "contractor", TaskState.OPEN)
    response = await as_staff("surveyor").get(f"/persons/{case_of_contractor}")
    assert response.status_code == 403


async def test_access_ends_when_the_task_is_closed(
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    two_people: tuple[str, str],
) -> None:
    done, _ = two_people
    await _assign(sessions, done, "contractor", TaskState.COMPLETED)
    assert (await as_staff("contractor").get(f"/persons/{done}")).status_code == 403


async def test_unscoped_roles_are_not_limited(
    as_staff: Callable[[str], httpx.AsyncClient], two_people: tuple[str, str]
) -> None:
    _, anyone = two_people
    assert (await as_staff("restriction").get(f"/persons/{anyone}")).status_code == 200
    assert (await as_staff("supervisor").get(f"/persons/{anyone}")).status_code == 200
