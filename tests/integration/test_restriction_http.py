"""One 給付制限 case end to end over HTTP, as the README walkthrough does it: the API, the real worker on the
Temporal dev server, PostgreSQL. A certified 第1号 person 13 months in arrears → the daily scan → 予告 →
an oral 弁明, not accepted → 支払方法変更 → the collection system posts the payments → 解除. Every notice
once, the case in the Temporal UI's search attributes, the person's restrictions over the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient

from kaigo import search_attributes
from models.certification import Certification
from models.restriction_tasks import RestrictionTask as T
from rules.calendar import add_months
from tests.factories import insured_payload, person_payload
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]


def _today() -> date:
    return datetime.now(JST).date()


def _fiscal_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


async def _wait(probe: Callable[[], Any], what: str) -> Any:
    for _ in range(300):
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen")


async def _task(client: httpx.AsyncClient, case_id: str, kind: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = await client.post("/tasks/search", json={"case_id": case_id, "kind": kind})
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        return items[0] if items else None

    task: dict[str, Any] = await _wait(probe, f"a {kind} task")
    return task


async def _complete(client: httpx.AsyncClient, case_id: str, kind: str, payload: dict[str, Any]) -> None:
    task = await _task(client, case_id, kind)
    claimed = await client.post(f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'})
    assert claimed.status_code == 200, claimed.text
    done = await client.post(f"/tasks/{task['id']}/completion", json={"payload": payload})
    assert done.status_code == 200, done.text


async def test_66_from_the_daily_scan_to_the_payment_method_change_and_lifting_after_payment_over_http(
    as_staff: Client,
    running_worker: None,
    sessions: async_sessionmaker[AsyncSession],
    temporal: TemporalClient,
) -> None:
    intake, staff, collection = as_staff("intake"), as_staff("restriction"), as_staff("collection")
    today = _today()
    person = (await intake.post("/persons", json=person_payload())).json()
    insured = await intake.post("/insured", json=insured_payload(person["atena_no"]))
    assert insured.status_code == 201, insured.text
    insured_no = insured.json()["insured_no"]
    async with sessions() as session, session.begin():  # certified (the scan looks at certified persons)
        session.add(
            Certification(
                id="f" * 32,
                atena_no=person["atena_no"],
                insured_no=insured_no,
                level="要介護2",
                valid_from=today - timedelta(days=90),
                valid_to=today + timedelta(days=270),
                decided_on=today - timedelta(days=90),
            )
        )

    # 調定: four monthly instalments, the oldest 13 months past its 納期限, none paid.
    rows, periods = [], {}
    day = min(today.day, 28) - 1 or 28  # the day before today's date: 13 whole months have passed
    for n in range(4):
        year, month = add_months(today.year, today.month, n - 13 - (today.day == 1))
        due = date(year, month, day)
        periods[_fiscal_year(due)] = periods.get(_fiscal_year(due), 0) + 1
        rows.append(
            {
                "insured_no": insured_no,
                "fiscal_year": _fiscal_year(due),
                "period": periods[_fiscal_year(due)],
                "due_on": due.isoformat(),
                "amount": 6_200,
            }
        )
    posted = await staff.post("/premium-assessments", json={"assessments": rows})
    assert posted.status_code == 201, posted.text
    ledger = (await staff.get(f"/insured/{insured_no}/premiums")).json()
    assert ledger["months_in_arrears"] == 13 and ledger["arrears_total"] == 4 * 6_200

    # The daily scan, run now (twice: the second finds the case open and opens nothing).
    scan = await staff.post("/restriction-scans", json={"note": "walkthrough"})
    assert scan.status_code == 200, scan.text
    (case_id,) = scan.json()["opened"]
    assert (await staff.post("/restriction-scans", json={})).json()["opened"] == []
    advance_due = (await _task(staff, case_id, T.EXPLANATION))["due_at"]
    assert advance_due is not None
    restrictions = (await intake.get(f"/insured/{insured_no}/restrictions")).json()["items"]
    assert [(r["measure"], r["status"]) for r in restrictions] == [("payment_method_change", "planned")]

    # 弁明: heard orally at the counter; reviewed, not accepted.
    await _complete(
        staff,
        case_id,
        T.EXPLANATION,
        {
            "received_on": today.isoformat(),
            "form": "oral",
            "claims_special_circumstances": False,
            "summary": "納付を失念していた。特別の事情の申出なし。",
        },
    )
    await _complete(
        staff, case_id, T.EXPLANATION_REVIEW, {"accepted": False, "reasons": ["特別の事情は認められない。"]}
    )

    async def restricted() -> dict[str, Any] | None:
        case = (await staff.get(f"/cases/{case_id}")).json()
        return case if case["case"]["stage"] == "restricted" else None

    case = await _wait(restricted, "支払方法変更")
    assert case["record"]["payment_method_change_from"] is not None
    assert case["stage_label"] == "支払方法変更 (償還払い)"
    described = await temporal.get_workflow_handle(case_id).describe()
    attributes = described.typed_search_attributes
    assert attributes.get(search_attributes.CASE_TYPE) == "restriction"
    assert attributes.get(search_attributes.CASE_STAGE) == "restricted"
    assert attributes.get(search_attributes.INSURED_NUMBER) == insured_no
    assert attributes.get(search_attributes.DUE_DATE) is not None  # the 1年6か月 date

    # The collection system posts every instalment; the case lifts the restriction at once.
    for n, row in enumerate(rows):
        body = {
            "receipt_no": f"W-{insured_no}-{n}",
            "insured_no": insured_no,
            "fiscal_year": row["fiscal_year"],
            "period": row["period"],
            "amount": row["amount"],
            "paid_on": today.isoformat(),
        }
        paid = await collection.post("/premium-payments", json=body)
        assert paid.status_code == 201, paid.text
        assert paid.json()["case_notified"] == case_id

    async def lifted() -> dict[str, Any] | None:
        case = (await staff.get(f"/cases/{case_id}")).json()
        return case if case["case"]["state"] == "closed" else None

    case = await _wait(lifted, "解除")
    assert (case["case"]["stage"], case["case"]["outcome"]) == ("lifted", "lifted")
    assert case["record"]["lift_reason"] == "paid_in_full"
    notices = (await staff.get("/notices", params={"case_id": case_id})).json()["items"]
    assert sorted(n["kind"] for n in notices) == sorted(
        [
            "payment_method_change_advance",
            "explanation_review_result",
            "payment_method_change",
            "restriction_lifted",
        ]
    )  # every notice once
    described = await temporal.get_workflow_handle(case_id).describe()
    assert described.typed_search_attributes.get(search_attributes.CASE_STAGE) == "lifted"
    restrictions = (await intake.get(f"/insured/{insured_no}/restrictions")).json()["items"]
    assert [(r["measure"], r["status"]) for r in restrictions] == [("payment_method_change", "ended")]
    steps = [e["step"] for e in case["timeline"]]
    assert steps[0] == "restriction.opened" and steps[-1] == "restriction.lifted"
