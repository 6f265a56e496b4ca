"""A 新規 application from intake to its 結果通知書, entirely through the web console's forms (in-process
app, real worker, real PostgreSQL and Temporal): what each person sees, the refusals they get, what is
recorded."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.schema_form import flatten
from models.console import TaskDraft
from models.security import AuditEvent
from models.task import Task, TaskState
from tests.api.console_client import ConsoleClient, text_of
from tests.certification_helpers import BOARD, seed_board
from tests.factories import insured_payload, person_payload
from tests.survey_fixtures import complete_survey_payload
from workflows.calendar import JST

WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "walkthrough"
Browser = Callable[[str], ConsoleClient]


def _today() -> str:
    return datetime.now(JST).date().isoformat()


def walkthrough_body(name: str, **values: str) -> Any:
    text = (WALKTHROUGH / name).read_text()
    for key, value in {"TODAY": _today(), "TODAY_YYYYMMDD": _today().replace("-", ""), **values}.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text) if name.endswith(".json") else text


@pytest.fixture
async def browser(app: FastAPI, staff_tokens: dict[str, str]) -> AsyncIterator[Browser]:
    """`await browser("intake")`-style: a logged-in console client per staff member (own cookie jar)."""
    clients: list[httpx.AsyncClient] = []
    logged_in: dict[str, ConsoleClient] = {}

    def new(login_id: str) -> ConsoleClient:
        if login_id not in logged_in:
            transport = httpx.ASGITransport(app=app, client=("192.0.2.40", 50000))
            client = httpx.AsyncClient(transport=transport, base_url="http://kaigo.test")
            clients.append(client)
            logged_in[login_id] = ConsoleClient(client)
        return logged_in[login_id]

    yield new
    for client in clients:
        await client.aclose()


async def _logged_in(browser: Browser, login_id: str) -> ConsoleClient:
    me = browser(login_id)
    if not me.csrf:
        response = await me.login(login_id)
        assert response.status_code == 303, text_of(response.text)[:400]
    return me


async def _open_task(
    sessions: async_sessionmaker[AsyncSession], case_id: str, kind: str, **where: Any
) -> Task:
    deadline = asyncio.get_running_loop().time() + 60  # the workflow's next step writes it
    while asyncio.get_running_loop().time() < deadline:
        async with sessions() as session:
            query = select(Task).where(
                Task.case_id == case_id, Task.kind == kind, col(Task.state) == TaskState.OPEN
            )
            for name, value in where.items():
                query = query.where(getattr(Task, name) == value)
            task = (await session.exec(query)).first()
        if task is not None:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {kind} task on {case_id}")


def _version(page: str, task_id: object) -> str:
    found = re.search(
        rf'action="/console/tasks/{task_id}/(?:claim|assignment|release)"[\s\S]*?'
        r'name="version" value="(\d+)"',
        page,
    )
    assert found is not None, "no versioned form for the task on the page"
    return found.group(1)


async def _claim(me: ConsoleClient, task: Task) -> None:
    page = await me.page(f"/console/tasks/{task.id}")
    claimed = await me.post(f"/console/tasks/{task.id}/claim", {"version": _version(page, task.id)})
    assert claimed.status_code == 303, text_of(claimed.text)[:400]


async def _submit(me: ConsoleClient, task: Task, payload: dict[str, Any], **files: Any) -> httpx.Response:
    await me.page(f"/console/tasks/{task.id}")
    return await me.post(f"/console/tasks/{task.id}/completion", flatten(payload), **files)


@pytest.fixture
async def resident(as_staff: Callable[[str], httpx.AsyncClient]) -> dict[str, str]:
    intake = as_staff("intake")
    person = (await intake.post("/persons", json=person_payload(name_kanji="試験 <b>花子</b>"))).json()
    insured = (await intake.post("/insured", json=insured_payload(person["atena_no"]))).json()
    linked = await intake.put(f"/persons/{person['atena_no']}/my-number", json={"my_number": "123456789018"})
    assert linked.status_code == 200, linked.text
    return {"atena_no": person["atena_no"], "insured_no": insured["insured_no"]}


async def test_a_new_application_goes_from_intake_to_its_notice_in_the_console(
    browser: Browser,
    running_worker: None,
    resident: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
    demo_password_hash: str,
) -> None:
    await seed_board(sessions, [datetime.now(JST).date()], password_hash=demo_password_hash)
    insured_no = resident["insured_no"]

    # 1. The intake clerk finds the resident and files a 新規 application.
    intake = await _logged_in(browser, "intake")
    form = await intake.page("/console/applications/new", params={"insured_no": insured_no})
    assert "試験 &lt;b&gt;花子&lt;/b&gt;" in form  # a name is text, never markup
    filed = await intake.post(
        "/console/applications",
        {"insured_no": insured_no, "application.kind": "new", "application.applied_on": _today(),
         "application.applicant_kind": "self", "application.office": "higashi"},
    )  # fmt: skip
    assert filed.status_code == 303, text_of(filed.text)[:500]
    case_url = filed.headers["location"].split("?")[0]
    case_id = case_url.rsplit("/", 1)[1]
    raw_case = await intake.page(filed.headers["location"])
    assert "<b>花子</b>" not in raw_case and "試験 &lt;b&gt;花子&lt;/b&gt;" in raw_case
    case_page = text_of(raw_case)
    assert "申請を受け付けました" in case_page and "決定期限" in case_page and "あと" in case_page
    assert "東旭川支所" in case_page and "********9018" in case_page  # masked for mynumber:read
    again = await intake.post(
        "/console/applications",
        {"insured_no": insured_no, "application.kind": "new", "application.applied_on": _today(),
         "application.applicant_kind": "self"},
    )  # fmt: skip
    assert again.status_code == 409 and "処理中の申請" in text_of(again.text) and case_url in again.text

    # 2. The supervisor gives the survey to a city surveyor (新規: not a contractor, 28条5項).
    survey = await _open_task(sessions, case_id, "survey")
    supervisor = await _logged_in(browser, "supervisor")
    page = await supervisor.page(f"/console/tasks/{survey.id}")
    contractor = await supervisor.post(
        f"/console/tasks/{survey.id}/assignment",
        {"version": _version(page, survey.id), "assignee": "contractor"},
    )
    assert contractor.status_code == 422 and "28条5項" in text_of(contractor.text)
    assigned = await supervisor.post(
        f"/console/tasks/{survey.id}/assignment",
        {"version": _version(contractor.text, survey.id), "assignee": "surveyor"},
    )
    assert assigned.status_code == 303

    # 3. The surveyor: the form is built from the schema (74 items), a draft waits on the server, and
    #    missing answers come back next to their items.
    surveyor = await _logged_in(browser, "surveyor")
    inbox = text_of(await surveyor.page("/console/inbox"))
    assert "認定調査" in inbox and insured_no in inbox
    form = await surveyor.page(f"/console/tasks/{survey.id}")
    assert form.count('type="radio" name="payload.answers.') == sum(
        len(item.scale.choices)
        for item in __import__("models.survey", fromlist=["x"]).list_item_definitions()
    )
    assert "回答済み 0 / 74" in text_of(form)
    payload = complete_survey_payload()
    payload["overview"] = {**payload["overview"], "conducted_on": _today()}
    partial = {**payload, "answers": dict(list(payload["answers"].items())[:40])}
    saved = await surveyor.post(f"/console/tasks/{survey.id}/draft", flatten(partial))
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    resumed = await surveyor.page(saved.headers["location"])
    assert "下書きを保存しました" in text_of(resumed) and "回答済み 40 / 74" in text_of(resumed)
    assert 'name="payload.answers.1-1-1" value="1" checked' in resumed
    assert "下書き保存" not in await supervisor.page(f"/console/tasks/{survey.id}")  # only the assignee's
    refused = await surveyor.post(f"/console/tasks/{survey.id}/completion", flatten(partial))
    assert refused.status_code == 422
    assert (
        '<span class="field-error" id="err-payload-answers-4-1" role="alert">'
        "基本調査 4-1 (被害的) が未回答です" in refused.text
    )
    assert 'name="payload.answers.1-1-1" value="1" checked' in refused.text  # what was typed stays
    done = await surveyor.post(f"/console/tasks/{survey.id}/completion", flatten(payload))
    # A surveyor reads the case only while a task of it is theirs: the task page says it is done.
    assert done.status_code == 303 and done.headers["location"] == f"/console/tasks/{survey.id}?done=1"
    assert "完了しました" in text_of(await surveyor.page(done.headers["location"]))
    assert (await surveyor.get(case_url)).status_code == 403
    async with sessions() as session:
        assert await session.get(TaskDraft, survey.id) is None  # the free text left with the record

    # 4. The clerk requests and receives the physician's opinion (claim, then the generic forms).
    request = await _open_task(sessions, case_id, "opinion_request")
    await _claim(intake, request)
    sent = await _submit(intake, request, walkthrough_body("opinion_request.json"))
    assert sent.status_code == 303, text_of(sent.text)[:500]
    receipt = await _open_task(sessions, case_id, "opinion_receipt")
    await _claim(intake, receipt)
    wrong = await _submit(intake, receipt, {**walkthrough_body("opinion.json"), "written_on": "2999-01-01"})
    assert wrong.status_code == 422 and 'id="err-payload-written_on" role="alert"' in wrong.text
    received = await _submit(intake, receipt, walkthrough_body("opinion.json"))
    assert received.status_code == 303, text_of(received.text)[:500]

    # 5. 一次判定: the 申請情報 CSV out, the result CSV in.
    primary = await _open_task(sessions, case_id, "primary_result")
    export = await intake.get(f"{case_url}/alwaysj-export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    await _claim(intake, primary)
    csv_text = walkthrough_body("primary_result.csv", INSURED_NO=insured_no)
    other = csv_text.replace(insured_no, "0999999999")
    none = await intake.post(
        f"/console/tasks/{primary.id}/completion", {}, files={"csv": ("r.csv", other.encode(), "text/csv")}
    )
    assert none.status_code == 422 and "この申請の一次判定結果がファイルにありません" in text_of(none.text)
    imported = await intake.post(
        f"/console/tasks/{primary.id}/completion", {}, files={"csv": ("r.csv", csv_text.encode(), "text/csv")}
    )
    assert imported.status_code == 303, text_of(imported.text)[:500]

    # 6. The secretariat marks a 特記事項 for the board after taking a name out of it.
    material = text_of(await intake.page(case_url))
    assert "審査会資料の準備" in material and "右手指に軽いしびれ" in material
    marked = await intake.post(
        f"{case_url}/board-material",
        {
            "include.1-1": "1",
            "note.1-1": "右手指に軽いしびれ。<script>alert(1)</script>",
            "opinion_points": "膝痛のため歩行に見守り",
        },
    )
    assert marked.status_code == 200 and "審査会資料を登録しました" in text_of(marked.text)

    # 7. The board: three members vote from their screens, the chair sees the tally and closes.
    for member, level in (("board-chair", "要介護2"), ("board-b", "要介護2"), ("board-c", "要介護1")):
        me = await _logged_in(browser, member)
        board = text_of(await me.page("/console/board"))
        assert "第1号" in board and insured_no not in board and "花子" not in board
        vote = await _open_task(sessions, case_id, "board_vote", assignee=member)
        raw = await me.page(f"/console/tasks/{vote.id}")
        assert "<script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;" in raw  # text, not markup
        screen = text_of(raw)
        assert (
            "右手指に軽いしびれ。" in screen and "膝痛のため歩行に見守り" in screen and "花子" not in screen
        )
        voted = await _submit(me, vote, {"level": level, "validity_months": 12})
        assert voted.status_code == 303, text_of(voted.text)[:500]
    chair = await _logged_in(browser, "board-chair")
    close = await _open_task(sessions, case_id, "board_close")
    screen = text_of(await chair.page(f"/console/tasks/{close.id}"))
    assert "定足数・過半数を満たしています。決定: 要介護2" in screen
    assert "board-d: 未判定" in screen and "board-e" in screen
    closed = await _submit(chair, close, walkthrough_body("board_close.json"))
    assert closed.status_code == 303, text_of(closed.text)[:500]
    assert (await chair.get(case_url)).status_code == 403  # board members never open the case page

    # 8. The decision and its notice on the case page (HTML preview and the PDF).
    deadline = asyncio.get_running_loop().time() + 90  # the PDF is rendered by the notice worker
    # The stage becomes 決定済み in the step after the notice is issued: wait for both.
    while not {"認定結果通知書", "決定済み"} <= set(
        re.findall("認定結果通知書|決定済み", decided := await intake.page(case_url))
    ):
        assert asyncio.get_running_loop().time() < deadline, "no notice after 90 s"
        await asyncio.sleep(0.2)
    assert "決定済み" in text_of(decided) and "要介護2" in text_of(decided)
    notice_id = re.search(r"/console/notices/([0-9a-f]{32})/pdf", decided)
    assert notice_id is not None
    pdf = await intake.get(f"/console/notices/{notice_id.group(1)}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    preview = await intake.get(f"/console/notices/{notice_id.group(1)}/html")
    assert preview.status_code == 200 and "要介護2" in preview.text
    assert BOARD[0] == "board-chair"

    # 9. The supervisor's dashboard counts it: decided today (0 days), no change from the 一次判定.
    supervisor = await _logged_in(browser, "supervisor")
    dashboard = await supervisor.page("/console/dashboard")
    assert dashboard.count("<svg") == 6 and "<script" not in dashboard
    days = (await supervisor.get("/console/dashboard/days-to-decision.csv")).content.decode("utf-8-sig")
    assert days.splitlines()[0] == "月,決定件数,平均日数,中央値,90パーセンタイル,最長,30日超"
    assert days.splitlines()[1].endswith(",1,0.0,0,0,0,0")
    rates = (await supervisor.get("/console/dashboard/change-rates.csv")).content.decode("utf-8-sig")
    assert rates.splitlines()[1].endswith(",1,0,0.0,0,0.0")
    assert (await intake.get("/console/dashboard")).status_code == 403


async def test_a_stale_claim_shows_who_has_the_task_now(
    browser: Browser,
    running_worker: None,
    resident: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    intake = await _logged_in(browser, "intake")
    filed = await intake.post(
        "/console/applications",
        {"insured_no": resident["insured_no"], "application.kind": "new", "application.applied_on": _today(),
         "application.applicant_kind": "self"},
    )  # fmt: skip
    case_id = filed.headers["location"].split("?")[0].rsplit("/", 1)[1]
    request = await _open_task(sessions, case_id, "opinion_request")
    first_tab = await intake.page(f"/console/tasks/{request.id}")
    second_tab = first_tab  # the same page, open twice
    claimed = await intake.post(
        f"/console/tasks/{request.id}/claim", {"version": _version(first_tab, request.id)}
    )
    released = await intake.post(
        f"/console/tasks/{request.id}/release",
        {"version": _version(await intake.page(claimed.headers["location"]), request.id)},
    )
    assert released.status_code == 303
    stale = await intake.post(
        f"/console/tasks/{request.id}/claim", {"version": _version(second_tab, request.id)}
    )
    assert stale.status_code == 412
    shown = text_of(stale.text)
    assert "他の職員が先にこのタスクを更新しました (現在の版 3)" in shown
    assert "担当 未着手" in shown and "このタスクを取得する" in shown  # the fresh state, ready to claim again


async def test_the_full_my_number_needs_a_reason_and_is_audited(
    browser: Browser,
    running_worker: None,
    resident: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    intake = await _logged_in(browser, "intake")
    filed = await intake.post(
        "/console/applications",
        {"insured_no": resident["insured_no"], "application.kind": "new", "application.applied_on": _today(),
         "application.applicant_kind": "self"},
    )  # fmt: skip
    case_url = filed.headers["location"].split("?")[0]
    restricted = await _logged_in(browser, "restriction")  # reads the registry, but not the 個人番号
    page = text_of(await restricted.page(case_url))
    assert "登録あり (表示する権限がありません)" in page and "9018" not in page
    assert "個人番号を全桁表示する" not in page
    assert (await restricted.post(f"{case_url}/my-number", {"reason": "確認"})).status_code == 403

    await intake.page(case_url)
    no_reason = await intake.post(f"{case_url}/my-number", {"reason": ""})
    assert no_reason.status_code == 422 and "理由を2文字以上" in text_of(no_reason.text)
    shown = await intake.post(f"{case_url}/my-number", {"reason": "本人からの電話照会"})
    assert shown.status_code == 200 and "123456789018" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    async with sessions() as session:
        rows = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "mynumber.reveal", AuditEvent.actor == "intake")
            )
        ).all()
    assert (
        rows[-1].detail["reason"] == "本人からの電話照会"
        and rows[-1].subject_atena_no == resident["atena_no"]
    )
    assert "123456789018" not in (await intake.page(case_url))  # shown once, masked again afterwards
