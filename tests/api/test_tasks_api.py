"""The task inbox's HTTP contract: search and visibility, optimistic claims (If-Match → 412/428),
completion refusals (409/422 with the field named), Idempotency-Key on intake, endings over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.certification_tasks import CertificationTask as TaskKind
from models.security import AuditEvent
from models.task import Task
from tests.factories import insured_payload, person_payload
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]


def _today() -> date:
    return datetime.now(JST).date()


@pytest.fixture
async def case(as_staff: Client, running_worker: None) -> dict[str, Any]:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    insured_no = (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]
    body = {
        "insured_no": insured_no,
        "kind": "new",
        "applied_on": _today().isoformat(),
        "applicant_kind": "self",
    }
    response = await intake.post("/certification-applications", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "atena_no": atena}


async def _task(client: httpx.AsyncClient, case_id: str, kind: TaskKind) -> dict[str, Any]:
    for _ in range(200):
        items = (await client.post("/tasks/search", json={"case_id": case_id, "kind": kind})).json()["items"]
        if items:
            return items[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} task")


async def test_search_filters_sorts_and_shows_due_dates(as_staff: Client, case: dict[str, Any]) -> None:
    intake = as_staff("intake")
    request = await _task(intake, case["workflow_id"], TaskKind.OPINION_REQUEST)
    assert (
        request["label"] == "主治医意見書の依頼"
        and request["due_at"] is not None
        and request["overdue"] is False
    )
    by_insured = await intake.post("/tasks/search", json={"insured_no": case["insured_no"], "sort": "due"})
    kinds = [t["kind"] for t in by_insured.json()["items"]]
    assert kinds == ["opinion_request"]  # the survey is for surveyors: not in the intake's inbox
    everything = await as_staff("supervisor").post("/tasks/search", json={"insured_no": case["insured_no"]})
    assert sorted(t["kind"] for t in everything.json()["items"]) == ["opinion_request", "survey"]
    none_overdue = await as_staff("supervisor").post(
        "/tasks/search", json={"overdue": True, "case_id": case["workflow_id"]}
    )
    assert none_overdue.json()["total"] == 0
    bad = await intake.post("/tasks/search", json={"kind": "coffee", "size": 1000})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"kind", "size"}


async def test_claim_needs_the_current_version(as_staff: Client, case: dict[str, Any]) -> None:
    intake = as_staff("intake")
    task = await _task(intake, case["workflow_id"], TaskKind.OPINION_REQUEST)
    missing = await intake.post(f"/tasks/{task['id']}/claim")
    assert missing.status_code == 428
    stale = await intake.post(f"/tasks/{task['id']}/claim", headers={"If-Match": '"99"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == task["version"]
    claimed = await intake.post(f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'})
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "intake"
    again = await intake.post(f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'})
    assert again.status_code == 412  # the first claim moved the version on
    released = await intake.delete(
        f"/tasks/{task['id']}/assignee", headers={"If-Match": claimed.headers["etag"]}
    )
    assert released.status_code == 200 and released.json()["assignee"] is None


async def test_surveyors_cannot_claim_and_contractors_cannot_take_new_surveys(
    as_staff: Client, case: dict[str, Any]
) -> None:
    survey = await _task(as_staff("supervisor"), case["workflow_id"], TaskKind.SURVEY)
    self_claim = await as_staff("surveyor").post(f"/tasks/{survey['id']}/claim", headers={"If-Match": '"1"'})
    assert self_claim.status_code in (403, 404)  # surveyors work on what they are assigned
    to_contractor = await as_staff("supervisor").post(
        f"/tasks/{survey['id']}/assignment", json={"assignee": "contractor"}, headers={"If-Match": '"1"'}
    )
    assert to_contractor.status_code == 422 and to_contractor.json()["errors"][0]["field"] == "assignee"
    to_board = await as_staff("supervisor").post(
        f"/tasks/{survey['id']}/assignment", json={"assignee": "board"}, headers={"If-Match": '"1"'}
    )
    assert to_board.status_code == 422 and "担当になれません" in to_board.json()["detail"]


async def test_completion_refusals_name_the_problem(as_staff: Client, case: dict[str, Any]) -> None:
    intake = as_staff("intake")
    task = await _task(intake, case["workflow_id"], TaskKind.OPINION_REQUEST)
    unclaimed = await intake.post(f"/tasks/{task['id']}/completion", json={"payload": {}})
    assert unclaimed.status_code == 409 and "claim" in unclaimed.json()["detail"]
    await intake.post(f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'})
    invalid = await intake.post(
        f"/tasks/{task['id']}/completion",
        json={"payload": {"physician_name": "", "requested_on": "2026-02-30"}},
    )
    assert invalid.status_code == 422
    fields = {e["field"] for e in invalid.json()["errors"]}  # one entry per field, with its path
    assert {"payload.physician_name", "payload.requested_on", "payload.institution_name"} <= fields
    wrong_role = await as_staff("restriction").post(f"/tasks/{task['id']}/completion", json={"payload": {}})
    assert wrong_role.status_code in (403, 404)
    ok = await intake.post(
        f"/tasks/{task['id']}/completion",
        json={
            "payload": {
                "physician_name": "旭川 太郎",
                "institution_name": "旭川中央病院",
                "requested_on": _today().isoformat(),
            }
        },
    )
    assert ok.status_code == 200 and ok.json()["state"] == "completed"
    twice = await intake.post(f"/tasks/{task['id']}/completion", json={"payload": {}})
    assert twice.status_code == 409


async def test_idempotency_key_replays_success_and_refuses_other_content(
    as_staff: Client, running_worker: None
) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    insured_no = (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]
    body = {
        "insured_no": insured_no,
        "kind": "new",
        "applied_on": _today().isoformat(),
        "applicant_kind": "self",
    }
    key = {"Idempotency-Key": "intake-2026-0001"}
    first = await intake.post("/certification-applications", json=body, headers=key)
    replay = await intake.post("/certification-applications", json=body, headers=key)
    assert (first.status_code, replay.status_code) == (201, 201) and first.json()["id"] == replay.json()["id"]
    other = await intake.post(
        "/certification-applications", json={**body, "applicant_kind": "family"}, headers=key
    )
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-mismatch")
    too_short = await intake.post("/certification-applications", json=body, headers={"Idempotency-Key": "x"})
    assert too_short.status_code == 400 and too_short.json()["errors"][0]["field"] == "Idempotency-Key"
    # Another clerk's key space is their own: the same key, with another body, starts their own case.
    account = {
        "login_id": "intake2",
        "display_name": "認定係 二",
        "password": "another-clerk-2026",
        "roles": ["intake"],
    }
    assert (await as_staff("admin").post("/staff", json=account)).status_code == 201
    other_clerk = as_staff("intake2")
    other_atena = (await other_clerk.post("/persons", json=person_payload())).json()["atena_no"]
    other_insured = (await other_clerk.post("/insured", json=insured_payload(other_atena))).json()[
        "insured_no"
    ]
    theirs = await other_clerk.post(
        "/certification-applications", json={**body, "insured_no": other_insured}, headers=key
    )
    assert theirs.status_code == 201, theirs.text
    assert "idempotent-replayed" not in theirs.headers and theirs.json()["id"] != first.json()["id"]
    duplicate = await intake.post("/certification-applications", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["field"] == "insured_no"


async def test_second_category_needs_a_specified_disease(as_staff: Client, running_worker: None) -> None:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload(birth_date="1970-04-03"))).json()["atena_no"]
    insured = insured_payload(atena, category="2", acquired_on="2010-04-02", acquisition_reason="age_40")
    insured_no = (await intake.post("/insured", json=insured)).json()["insured_no"]
    body = {
        "insured_no": insured_no,
        "kind": "new",
        "applied_on": _today().isoformat(),
        "applicant_kind": "self",
    }
    refused = await intake.post("/certification-applications", json=body)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "specified_disease"
    accepted = await intake.post(
        "/certification-applications",
        json={
            **body,
            "specified_disease": "16",
            "medical_insurer_no": "06010014",
            "medical_insurance_symbol": "12-345",
        },
    )
    assert accepted.status_code == 201, accepted.text


async def test_withdrawal_and_death_end_cases_over_http(as_staff: Client, case: dict[str, Any]) -> None:
    intake = as_staff("intake")
    withdrawn = await intake.post(
        f"/certification-applications/{case['id']}/withdrawal",
        json={"reason": "入院のため", "withdrawn_on": _today().isoformat()},
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "ended"
    assert withdrawn.json()["end_reason"] == "withdrawn"
    open_tasks = await as_staff("supervisor").post("/tasks/search", json={"case_id": case["workflow_id"]})
    assert open_tasks.json()["total"] == 0
    # Sent again (a double click, a retry after a timeout): the same withdrawal, not a second one.
    again = await intake.post(
        f"/certification-applications/{case['id']}/withdrawal",
        json={"reason": "入院のため", "withdrawn_on": _today().isoformat()},
    )
    assert again.status_code == 200 and again.json()["end_reason"] == "withdrawn"
    # A different withdrawal of a case that has ended is refused.
    other_day = await intake.post(
        f"/certification-applications/{case['id']}/withdrawal",
        json={"reason": "重複", "withdrawn_on": (_today() - timedelta(days=1)).isoformat()},
    )
    assert other_day.status_code == 409

    # A new application, then the registry records a death: the case ends without a notice.
    body = {
        "insured_no": case["insured_no"],
        "kind": "new",
        "applied_on": _today().isoformat(),
        "applicant_kind": "self",
    }
    second = (await intake.post("/certification-applications", json=body)).json()
    await _task(as_staff("supervisor"), second["workflow_id"], TaskKind.SURVEY)
    death = await intake.post(
        f"/persons/{case['atena_no']}/removal",
        json={"removed_on": _today().isoformat(), "removal_reason": "death"},
    )
    assert death.status_code == 200
    ended = (await intake.get(f"/certification-applications/{second['id']}")).json()
    assert (ended["state"], ended["end_reason"]) == ("ended", "death")


async def test_a_refused_claim_says_why_and_is_audited(
    as_staff: Client, case: dict[str, Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A supervisor sees every task but works only their own role's: claiming the intake's task is refused
    with the real reason, and the refusal is in the audit trail like every other refusal."""
    task = await _task(as_staff("supervisor"), case["workflow_id"], TaskKind.OPINION_REQUEST)
    refused = await as_staff("supervisor").post(
        f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'}
    )
    assert refused.status_code == 403 and "認定係が処理します" in refused.json()["detail"]
    async with sessions() as session:
        rows = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.request_id == refused.json()["request_id"])
            )
        ).all()
    assert [(r.action, r.outcome, r.actor, r.detail["code"]) for r in rows] == [
        ("access.denied", "denied", "supervisor", "not-claimable")
    ]
    # A surveyor-only task refused to the intake says whose it is, not "no permission task:work".
    survey = await _task(as_staff("supervisor"), case["workflow_id"], TaskKind.SURVEY)
    intake_claim = await as_staff("intake").post(f"/tasks/{survey['id']}/claim", headers={"If-Match": '"1"'})
    assert intake_claim.status_code == 403 and "認定調査員" in intake_claim.json()["detail"]


# ------------------------------------------------------------------------------- paging (keyset, capped)


async def _inbox_rows(sessions: async_sessionmaker[AsyncSession], count: int, *, undated: int = 0) -> str:
    """`count` open intake tasks of one case with due dates (some equal), `undated` without; the case id."""
    case_id = f"certification-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        for i in range(count + undated):
            session.add(
                Task(
                    case_id=case_id,
                    workflow_id=case_id,
                    kind=TaskKind.OPINION_REQUEST,
                    candidate_role="intake",
                    subject_atena_no="100000000099",
                    insured_no="0100000099",
                    due_at=now + timedelta(days=i // 3) if i < count else None,  # three per due date
                    created_at=now - timedelta(seconds=i % 2),
                )
            )
    return case_id


async def _all_pages(client: httpx.AsyncClient, body: dict[str, Any]) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        response = await client.post("/tasks/search", json={**body, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append([t["id"] for t in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize(("sort", "order"), [("due", "asc"), ("due", "desc"), ("priority", "asc")])
async def test_cursor_pages_cover_every_task_once_in_the_same_order_as_one_big_page(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession], sort: str, order: str
) -> None:
    case_id = await _inbox_rows(sessions, 23, undated=4)
    intake = as_staff("intake")
    body = {"case_id": case_id, "sort": sort, "order": order}
    whole = (await intake.post("/tasks/search", json={**body, "size": 100})).json()
    assert whole["total"] == 27 and whole["total_capped"] is False and whole["next_cursor"] is None
    pages = await _all_pages(intake, {**body, "size": 5})
    assert [len(p) for p in pages] == [5, 5, 5, 5, 5, 2]
    assert [i for p in pages for i in p] == [t["id"] for t in whole["items"]]
    if sort == "due":  # undated tasks come last in both directions
        assert [t["due_at"] for t in whole["items"][-4:]] == [None] * 4
    # The offset form still works and agrees.
    second = await intake.post("/tasks/search", json={**body, "size": 5, "page": 2})
    assert [t["id"] for t in second.json()["items"]] == pages[1]


async def test_a_task_added_meanwhile_does_not_shift_the_next_page(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await _inbox_rows(sessions, 10)
    intake = as_staff("intake")
    first = (await intake.post("/tasks/search", json={"case_id": case_id, "size": 4})).json()
    async with sessions() as session, session.begin():  # a task due before everything shown so far
        session.add(
            Task(
                case_id=case_id,
                workflow_id=case_id,
                kind=TaskKind.OPINION_REQUEST,
                candidate_role="intake",
                subject_atena_no="100000000099",
                insured_no="0100000099",
                due_at=datetime.now(UTC) - timedelta(days=1),
            )
        )
    second = (
        await intake.post(
            "/tasks/search", json={"case_id": case_id, "size": 4, "cursor": first["next_cursor"]}
        )
    ).json()
    shown = {t["id"] for t in first["items"]}
    assert not shown & {t["id"] for t in second["items"]} and len(second["items"]) == 4


async def test_the_total_stops_counting_at_a_thousand(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await _inbox_rows(sessions, 1001)
    found = (await as_staff("intake").post("/tasks/search", json={"case_id": case_id, "size": 1})).json()
    assert (found["total"], found["total_capped"], len(found["items"])) == (1000, True, 1)


def _cursor(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


async def test_a_bad_or_foreign_cursor_is_a_422_naming_the_field(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await _inbox_rows(sessions, 3)
    intake = as_staff("intake")
    cursor = (await intake.post("/tasks/search", json={"case_id": case_id, "size": 1})).json()["next_cursor"]
    for body in (
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64 of "[]"
        {"cursor": cursor, "sort": "created"},  # from another sort order
        {"cursor": "x" * 301},
        # Hand-made positions: out-of-range numbers and naive times are refused, not passed to SQL.
        {
            "cursor": _cursor(["priority", "asc", 10**100, "2026-01-01T00:00:00+00:00", str(uuid.uuid4())]),
            "sort": "priority",
        },
        {"cursor": _cursor(["due", "asc", "2026-01-01T00:00:00", "2026-01-01T00:00:00", str(uuid.uuid4())])},
        {"cursor": _cursor(["due", "asc", "'; DROP TABLE task; --", "x", "y"])},
        {"cursor": _cursor("abcde")},
    ):
        response = await intake.post("/tasks/search", json={"case_id": case_id, **body})
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == ["cursor"]
