"""認定申請の受付 under pressure: one open application per insured person even when clerks file at the same
moment, dates that cannot be, and a case header left behind by a crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient

from models.case import CaseRecord, CaseState
from models.certification import CertificationApplication
from tests.factories import insured_payload, person_payload
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]


def _today() -> date:
    return datetime.now(JST).date()


async def _insured(as_staff: Client) -> str:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    return (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]


def _application(insured_no: str, **overrides: Any) -> dict[str, Any]:
    return {
        "insured_no": insured_no,
        "kind": "new",
        "applied_on": _today().isoformat(),
        "applicant_kind": "self",
        **overrides,
    }


async def _workflows_of(temporal: TemporalClient, insured_no: str) -> list[str]:
    query = f"CaseType = 'certification' AND InsuredNumber = '{insured_no}'"
    for _ in range(100):  # the visibility store is eventually consistent
        found = [w.id async for w in temporal.list_workflows(query)]
        if found:
            await asyncio.sleep(0.3)  # give any late duplicate the chance to show up too
            return [w.id async for w in temporal.list_workflows(query)]
        await asyncio.sleep(0.1)
    return []


async def test_27_twenty_clerks_filing_at_once_get_one_application_and_409s_naming_it(
    as_staff: Client,
    running_worker: None,
    sessions: async_sessionmaker[AsyncSession],
    temporal: TemporalClient,
) -> None:
    insured_no = await _insured(as_staff)
    intake = as_staff("intake")

    async def file(n: int) -> httpx.Response:
        key = {"Idempotency-Key": f"clerk-{n:04d}-{uuid.uuid4().hex[:8]}"} if n % 2 else {}
        return await intake.post("/certification-applications", json=_application(insured_no), headers=key)

    responses = await asyncio.gather(*(file(n) for n in range(20)))
    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 409]
    assert len(created) == 1 and len(refused) == 19, [r.status_code for r in responses]
    winner = created[0].json()["id"]
    assert all(
        winner in r.json()["detail"] and r.json()["errors"][0]["field"] == "insured_no" for r in refused
    )
    async with sessions() as session:
        applications = (
            await session.exec(
                select(CertificationApplication).where(CertificationApplication.insured_no == insured_no)
            )
        ).all()
    assert [a.id for a in applications] == [winner]
    assert await _workflows_of(temporal, insured_no) == [f"certification-{winner}"]


async def test_27_a_case_header_left_without_a_workflow_does_not_block_the_person(
    as_staff: Client, running_worker: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The API died between committing the case and starting its workflow: the next application for the
    person clears the orphan instead of answering 409 forever."""
    insured_no = await _insured(as_staff)
    async with sessions() as session, session.begin():
        insured_atena = (await as_staff("intake").get(f"/insured/{insured_no}")).json()["atena_no"]
        session.add(
            CaseRecord(
                id=f"certification-{uuid.uuid4().hex}",
                case_type="certification",
                subject_atena_no=insured_atena,
                insured_no=insured_no,
                office="honcho",
                stage="intake",
                exclusive_key=f"certification:{insured_no}",
                opened_by="intake",
                opened_at=datetime.now(JST) - timedelta(minutes=5),  # the API died minutes ago
            )
        )
    response = await as_staff("intake").post("/certification-applications", json=_application(insured_no))
    assert response.status_code == 201, response.text
    async with sessions() as session:
        headers = (await session.exec(select(CaseRecord).where(CaseRecord.insured_no == insured_no))).all()
    assert sorted((h.state, h.outcome) for h in headers) == [("closed", "abandoned"), ("open", None)]
    assert [h.state for h in headers if h.exclusive_key] == [CaseState.OPEN]


@pytest.mark.parametrize(
    ("applied_on", "code"),
    [
        ((_today() + timedelta(days=1)).isoformat(), "applied-in-future"),
        ("9999-12-31", "applied-in-future"),  # used to overflow the 30-day deadline (500)
        ("2010-05-30", "applied-before-status"),  # the day before the insured status began
        ("0001-01-01", "applied-before-status"),
    ],
)
async def test_27_an_application_date_that_cannot_be_is_refused(
    as_staff: Client, running_worker: None, applied_on: str, code: str
) -> None:
    insured_no = await _insured(as_staff)
    response = await as_staff("intake").post(
        "/certification-applications", json=_application(insured_no, applied_on=applied_on)
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith(code) and response.json()["errors"][0]["field"] == "applied_on"


async def _open_tasks(as_staff: Client, **query: Any) -> list[dict[str, Any]]:
    for _ in range(100):  # the first tasks are written by the workflow's first step
        found = (await as_staff("supervisor").post("/tasks/search", json=query)).json()["items"]
        if found:
            return list(found)
        await asyncio.sleep(0.1)
    return []


async def test_each_case_and_its_tasks_belong_to_the_office_chosen_at_intake(
    as_staff: Client, running_worker: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    chosen, default = await _insured(as_staff), await _insured(as_staff)
    intake = as_staff("intake")
    unknown = await intake.post("/certification-applications", json=_application(chosen, office="nowhere"))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "office"
    assert "honcho (本庁)" in unknown.json()["detail"]  # the offices to choose from

    branch = await intake.post("/certification-applications", json=_application(chosen, office="higashi"))
    assert branch.status_code == 201, branch.text
    plain = await intake.post("/certification-applications", json=_application(default))
    assert plain.status_code == 201, plain.text
    async with sessions() as session:
        offices = {
            c.insured_no: c.office
            for c in (await session.exec(select(CaseRecord).where(CaseRecord.opened_by == "intake"))).all()
        }
    assert (
        offices[chosen] == "higashi" and offices[default] == "honcho"
    )  # the clerk has no office: OFFICE_CODE

    east = await _open_tasks(as_staff, case_id=branch.json()["workflow_id"])
    assert east and {t["office"] for t in east} == {"higashi"}
    only_east = await as_staff("supervisor").post("/tasks/search", json={"office": "higashi", "size": 100})
    assert {t["case_id"] for t in only_east.json()["items"]} == {branch.json()["workflow_id"]}


async def test_a_clerk_of_a_branch_office_files_for_their_office_by_default(
    as_staff: Client, running_worker: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    insured_no = await _insured(as_staff)
    moved = await as_staff("admin").patch("/staff/intake", json={"office": "nagayama"})
    assert moved.status_code == 200 and moved.json()["office"] == "nagayama"
    assert (await as_staff("admin").patch("/staff/intake", json={"office": "mars"})).status_code == 422
    filed = await as_staff("intake").post("/certification-applications", json=_application(insured_no))
    assert filed.status_code == 201, filed.text
    async with sessions() as session:
        case = await session.get(CaseRecord, filed.json()["workflow_id"])
    assert case is not None and case.office == "nagayama"
