"""One 新規 case driven end to end over HTTP, as staff work it: the API, the real worker on the Temporal dev
server, PostgreSQL — from the application to the 結果通知書 PDF. Also the task inbox's HTTP contract."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient

from kaigo import search_attributes
from models.certification_tasks import CertificationTask as TaskKind
from rules.primary_determination import CareLevel
from tests.certification_helpers import BOARD, primary_payload, survey_payload
from tests.factories import insured_payload, person_payload
from tests.survey_fixtures import complete_opinion_payload
from workflows.calendar import JST

Client = Callable[[str], httpx.AsyncClient]


def _today() -> date:
    return datetime.now(JST).date()


async def _resident(as_staff: Client) -> tuple[str, str]:
    intake = as_staff("intake")
    person = (
        await intake.post(
            "/persons", json=person_payload(name_kanji="髙﨑 𠮷子", name_kana="タカサキ ヨシコ")
        )
    ).json()
    insured = await intake.post("/insured", json=insured_payload(person["atena_no"]))
    assert insured.status_code == 201
    return person["atena_no"], insured.json()["insured_no"]


async def _board(
    as_staff: Client, demo_password_hash: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from models.security import Staff

    async with sessions() as session, session.begin():
        for login in BOARD:
            session.add(
                Staff(
                    login_id=login,
                    display_name=login,
                    password_hash=demo_password_hash,
                    roles=["board_member"],
                )
            )
    secretariat = as_staff("intake")
    members = [{"login_id": m, "role": "chair" if m == "board-chair" else "member"} for m in BOARD]
    panel = await secretariat.post("/board/panels", json={"name": "第1合議体", "members": members})
    assert panel.status_code == 201, panel.text
    meeting = await secretariat.post(
        "/board/meetings",
        json={"panel_id": panel.json()["id"], "held_on": _today().isoformat()},
    )
    assert meeting.status_code == 201, meeting.text


async def _wait_task(
    client: httpx.AsyncClient, case_id: str, kind: TaskKind, **filters: Any
) -> dict[str, Any]:
    for _ in range(200):
        found = await client.post("/tasks/search", json={"case_id": case_id, "kind": kind, **filters})
        assert found.status_code == 200, found.text
        if found.json()["items"]:
            return found.json()["items"][0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} task appeared")


async def _claim_and_complete(
    client: httpx.AsyncClient, case_id: str, kind: TaskKind, payload: dict[str, Any]
) -> None:
    task = await _wait_task(client, case_id, kind)
    if task["assignee"] is None:
        claimed = await client.post(
            f"/tasks/{task['id']}/claim", headers={"If-Match": f'"{task["version"]}"'}
        )
        assert claimed.status_code == 200, claimed.text
    done = await client.post(f"/tasks/{task['id']}/completion", json={"payload": payload})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"


async def test_27_new_case_over_http_from_application_to_result_notice_pdf(
    as_staff: Client,
    running_worker: None,
    demo_password_hash: str,
    sessions: async_sessionmaker[AsyncSession],
    temporal: TemporalClient,
) -> None:
    intake, supervisor, surveyor = as_staff("intake"), as_staff("supervisor"), as_staff("surveyor")
    atena_no, insured_no = await _resident(as_staff)
    await _board(as_staff, demo_password_hash, sessions)
    applied = _today()

    # 1. 申請 (retried with the same Idempotency-Key: one case, the same response).
    body = {
        "insured_no": insured_no,
        "kind": "new",
        "applied_on": applied.isoformat(),
        "applicant_kind": "self",
    }
    first = await intake.post(
        "/certification-applications", json=body, headers={"Idempotency-Key": "walk-0001"}
    )
    again = await intake.post(
        "/certification-applications", json=body, headers={"Idempotency-Key": "walk-0001"}
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    case_id = first.json()["workflow_id"]
    assert first.json()["decision_deadline"] == (applied + timedelta(days=30)).isoformat()

    # 2. 認定調査: the supervisor assigns a city surveyor (a contractor may not take a 新規 survey).
    survey = await _wait_task(supervisor, case_id, TaskKind.SURVEY)
    refused = await supervisor.post(
        f"/tasks/{survey['id']}/assignment",
        json={"assignee": "contractor"},
        headers={"If-Match": f'"{survey["version"]}"'},
    )
    assert refused.status_code == 422 and "28条5項" in refused.json()["detail"]
    assigned = await supervisor.post(
        f"/tasks/{survey['id']}/assignment",
        json={"assignee": "surveyor"},
        headers={"If-Match": f'"{survey["version"]}"'},
    )
    assert assigned.status_code == 200 and assigned.headers["etag"] == f'"{survey["version"] + 1}"'
    assert (await surveyor.get(f"/persons/{atena_no}")).status_code == 200  # assigned: may read the person
    done = await surveyor.post(f"/tasks/{survey['id']}/completion", json={"payload": survey_payload(applied)})
    assert done.status_code == 200, done.text
    assert (await surveyor.get(f"/persons/{atena_no}")).status_code == 403  # task closed: access ends

    # 3. 主治医意見書: request, then receipt. A completion answers once the workflow's next step is written,
    #    so the receipt task is already in the inbox when the request's completion returns (no polling).
    await _claim_and_complete(
        intake,
        case_id,
        TaskKind.OPINION_REQUEST,
        {
            "physician_name": "旭川 太郎",
            "institution_name": "旭川中央病院",
            "requested_on": applied.isoformat(),
        },
    )
    receipts = await intake.post("/tasks/search", json={"case_id": case_id, "kind": TaskKind.OPINION_RECEIPT})
    (receipt,) = receipts.json()["items"]
    # The due date the request left open comes from the policy the case started with (14 days).
    assert receipt["due_at"].startswith((applied + timedelta(days=14)).isoformat())
    await _claim_and_complete(
        intake,
        case_id,
        TaskKind.OPINION_RECEIPT,
        complete_opinion_payload(received_on=applied.isoformat(), written_on=applied.isoformat()),
    )

    # 4. 一次判定: export the 申請情報 CSV, import the national software's result CSV.
    await _wait_task(intake, case_id, TaskKind.PRIMARY_RESULT)
    application_id = first.json()["id"]
    export = await intake.get(f"/certification-applications/{application_id}/alwaysj-export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert insured_no in export.text and "髙﨑" not in export.text  # no names leave for the 一次判定
    result = primary_payload(insured_no, applied, CareLevel.CARE_2)
    csv_text = _result_csv(result)
    imported = await intake.post(
        f"/certification-applications/{application_id}/primary-result",
        content=csv_text.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text

    # 5. 審査会: each member votes from their own inbox; the chair closes.
    for member in ["board-chair", "board-b", "board-c"]:
        member_client = as_staff(member)
        vote = await _wait_task(member_client, case_id, TaskKind.BOARD_VOTE, assignee="me")
        # Board members see the meeting's reference for the case, never the insured person's number.
        assert vote["insured_no"] is None and vote["reference"] == f"審査会 {applied:%m/%d} 第1号"
        material = await member_client.get(f"/board/cases/{application_id}")
        assert material.status_code == 200 and "髙﨑" not in material.text  # anonymised case file
        response = await member_client.post(
            f"/tasks/{vote['id']}/completion", json={"payload": {"level": "要介護2", "validity_months": 12}}
        )
        assert response.status_code == 200, response.text
    chair = as_staff("board-chair")
    close = await _wait_task(chair, case_id, TaskKind.BOARD_CLOSE, assignee="me")
    closed = await chair.post(
        f"/tasks/{close['id']}/completion", json={"payload": {"board_opinion": "特になし"}}
    )
    assert closed.status_code == 200, closed.text

    # 6. 決定・通知: the case closes with a 結果通知書 PDF, and its timeline names every step.
    case = await _until_decided(intake, case_id)
    assert case["case"]["state"] == "closed" and case["case"]["due_on"] is None
    # The Temporal UI no longer lists the meeting as the case's due date.
    described = await temporal.get_workflow_handle(case_id).describe()
    assert described.typed_search_attributes.get(search_attributes.DUE_DATE) is None
    assert described.typed_search_attributes.get(search_attributes.CASE_STAGE) == "decided"
    steps = [(e["step"], e["actor"]) for e in case["timeline"]]
    assert ("survey.completed", "surveyor") in steps and ("board_close.completed", "board-chair") in steps
    assert steps[-1] == ("certification.decided", "system")
    notices = (await intake.get("/notices", params={"case_id": case_id})).json()["items"]
    assert [n["kind"] for n in notices] == ["certification_result"]
    pdf = await intake.get(f"/notices/{notices[0]['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "髙﨑" in text and "要介護２" in text.replace("2", "２") and insured_no in text


def _result_csv(result: dict[str, Any]) -> str:
    from models.alwaysj import RESULT_COLUMNS

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return (
            str(value).replace("-", "")
            if isinstance(value, str) and len(value) == 10 and value[4] == "-"
            else str(value)
        )

    by_field = {field: cell(result.get(field)) for _, field, _ in RESULT_COLUMNS}
    header = ",".join(column for column, _, _ in RESULT_COLUMNS)
    return header + "\r\n" + ",".join(by_field[field] for _, field, _ in RESULT_COLUMNS) + "\r\n"


async def _until_decided(client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    for _ in range(200):
        case = (await client.get(f"/cases/{case_id}")).json()
        if case["case"]["stage"] == "decided":
            return case
        await asyncio.sleep(0.05)
    raise AssertionError(f"case not decided: {case}")
