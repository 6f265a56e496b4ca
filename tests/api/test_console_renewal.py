"""更新案内 in the web console (in-process app, real worker, real PostgreSQL and Temporal): the term's case
page with its renewal window as days left and its reminder notice, the follow-up call form (refusals next
to the field, a draft kept on the server, the result recorded on the term), the inbox's kind filter, and the
dashboard's "renewals due in the next 60 days" CSV counted by week of expiry and state."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient
from temporalio.service import RPCError

from kaigo.config import Settings
from models.certification import Certification
from models.console import TaskDraft
from models.renewal import CertificationTerm, RenewalPolicy
from models.renewal_tasks import RenewalTask
from models.task import Task, TaskState
from rules.calendar import add_months, month_end
from services import renewal
from tests.api.console_client import ConsoleClient, text_of
from tests.factories import insured_payload, person_payload
from workflows.calendar import JST

Browser = Callable[[str], ConsoleClient]


@pytest.fixture
async def browser(app: FastAPI, staff_tokens: dict[str, str]) -> AsyncIterator[Browser]:
    """`await _logged_in(browser, "intake")`: a console client per staff member (own cookie jar)."""
    clients: list[httpx.AsyncClient] = []
    made: dict[str, ConsoleClient] = {}

    def new(login_id: str) -> ConsoleClient:
        if login_id not in made:
            transport = httpx.ASGITransport(app=app, client=("192.0.2.41", 50000))
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://kaigo.test"))
            made[login_id] = ConsoleClient(clients[-1])
        return made[login_id]

    yield new
    for client in clients:
        await client.aclose()


async def _logged_in(browser: Browser, login_id: str) -> ConsoleClient:
    me = browser(login_id)
    if not me.csrf:
        response = await me.login(login_id)
        assert response.status_code == 303, text_of(response.text)[:400]
    return me


async def _eventually(probe: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("not reached")


def _today() -> date:
    return datetime.now(JST).date()


async def _certified(
    as_staff: Callable[[str], httpx.AsyncClient], sessions: async_sessionmaker[AsyncSession], valid_to: date
) -> str:
    """A person with a certification that ends on `valid_to`; its id."""
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    insured_no = (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]
    year, month = add_months(valid_to.year, valid_to.month, -11)
    certification_id = f"{valid_to:%Y%m%d}".ljust(22, "f") + insured_no
    async with sessions() as session, session.begin():
        session.add(
            Certification(
                id=certification_id,
                atena_no=atena,
                insured_no=insured_no,
                level="要介護1",
                valid_from=date(year, month, 1),
                valid_to=valid_to,
                decided_on=date(year, month, 1) - timedelta(days=20),
            )
        )
    return certification_id


@pytest.fixture
async def term(
    as_staff: Callable[[str], httpx.AsyncClient], running_worker: None, temporal: TemporalClient,
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[dict[str, Any]]:  # fmt: skip
    """A term in its renewal window with no application: its reminder is issued at once and the 認定係's
    follow-up call opens (the policy's second-notice day is already past)."""
    valid_to = month_end(_today() + timedelta(days=20))
    certification_id = await _certified(as_staff, sessions, valid_to)
    started = await renewal.start_term(
        sessions=sessions,
        temporal=temporal,
        certification_id=certification_id,
        policy=RenewalPolicy(second_notice_days_before_expiry=59),
        office=settings.office_code,
        task_queue=settings.temporal_task_queue,
    )
    case_id = started.case_id
    assert case_id is not None

    async def follow_up() -> Task | None:
        async with sessions() as session:
            query = select(Task).where(
                Task.case_id == case_id, Task.kind == RenewalTask.FOLLOW_UP, col(Task.state) == TaskState.OPEN
            )
            return (await session.exec(query)).first()

    task = await _eventually(follow_up)
    async with sessions() as session:
        row = await session.get(CertificationTerm, case_id)
        assert row is not None
    try:
        yield {"case_id": case_id, "task": task, "expiry": valid_to, "last_filing_day": row.last_filing_day}
    finally:
        with contextlib.suppress(RPCError):
            await temporal.get_workflow_handle(case_id).terminate("test finished")


async def test_the_renewal_case_page_shows_the_window_as_days_left_its_notice_and_the_temporal_link(
    browser: Browser, term: dict[str, Any]
) -> None:
    me = await _logged_in(browser, "intake")
    case_id = term["case_id"]

    async def noticed() -> str | None:
        page = await me.page(f"/console/cases/{case_id}")
        return page if "/console/notices/" in page else None

    page = await _eventually(noticed)
    text = text_of(page)
    assert "更新案内を送付済み" in text
    days = (term["last_filing_day"] - _today()).days
    assert re.search(rf"更新申請の最終日.*? あと{days}日 令和", text), text[:1500]
    expiry = term["expiry"]
    assert f"({expiry.isoformat()})" in text and "有効期間の終了" in text  # 和暦 with 西暦 beside
    assert f"({(expiry - timedelta(days=60)).isoformat()})" in text  # the window's opening, in the panel
    assert "更新案内の対象として登録" in text  # the timeline in the desk's words
    notice = re.search(r'href="/console/notices/([0-9a-f]{32})/html"', page)
    assert notice is not None and f"/console/notices/{notice.group(1)}/pdf" in page
    preview = await me.get(f"/console/notices/{notice.group(1)}/html")
    assert preview.status_code == 200 and "更新" in text_of(preview.text)
    assert "/namespaces/" in page and f"/workflows/{case_id}" in page  # the case in the Temporal UI


async def test_the_follow_up_form_keeps_a_draft_refuses_a_missing_outcome_and_records_the_call(
    browser: Browser, term: dict[str, Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    me = await _logged_in(browser, "intake")
    task: Task = term["task"]
    page = await me.page(f"/console/tasks/{task.id}")
    assert "更新申請の最終日は 令和" in text_of(page)  # the term's dates beside the form, in 和暦
    version = re.search(rf'action="/console/tasks/{task.id}/claim"[\s\S]*?name="version" value="(\d+)"', page)
    assert version is not None
    claimed = await me.post(f"/console/tasks/{task.id}/claim", {"version": version.group(1)})
    assert claimed.status_code == 303, text_of(claimed.text)[:400]

    page = await me.page(f"/console/tasks/{task.id}")
    assert 'name="payload.outcome"' in page and 'name="payload.contacted"' in page
    assert "連絡の結果" in text_of(page) and "更新を申請する予定" in text_of(page)
    draft = await me.post(
        f"/console/tasks/{task.id}/draft", {"payload.contacted": "person", "payload.note": "午後に再度電話"}
    )
    assert draft.status_code in (200, 303), text_of(draft.text)[:400]
    async with sessions() as session:
        saved = await session.get(TaskDraft, task.id)
        assert saved is not None  # on the server, with the task
    resumed = await me.page(f"/console/tasks/{task.id}")
    assert "午後に再度電話" in resumed and re.search(r'<option value="person" selected>', resumed)

    refused = await me.post(
        f"/console/tasks/{task.id}/completion",
        {"payload.contacted": "person", "payload.outcome": "", "payload.note": "午後に再度電話"},
    )
    assert refused.status_code == 422
    slot = re.search(r'id="err-payload-outcome"[^>]*>([^<]+)<', refused.text)
    assert slot is not None and slot.group(1).strip(), "the message sits next to the outcome field"
    assert re.search(r'<select id="f-payload-outcome"[^>]*aria-invalid="true"', refused.text)
    async with sessions() as session:
        still = await session.get(Task, task.id)
        assert still is not None and still.state == TaskState.OPEN  # nothing half-written

    done = await me.post(
        f"/console/tasks/{task.id}/completion",
        {"payload.contacted": "care_manager", "payload.outcome": "will_apply", "payload.note": "来週申請"},
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/console/cases/{term['case_id']}")

    async def recorded() -> str | None:
        page = await me.page(f"/console/cases/{term['case_id']}")
        return page if "更新を申請する予定" in text_of(page) else None

    await _eventually(recorded)


async def test_the_inbox_offers_the_follow_up_kind_and_filters_by_it(
    browser: Browser, term: dict[str, Any]
) -> None:
    me = await _logged_in(browser, "intake")
    inbox = await me.page("/console/inbox")
    assert re.search(r'<option value="renewal_follow_up"[^>]*>更新申請の勧奨', inbox)
    filtered = await me.page("/console/inbox", params={"kind": "renewal_follow_up"})
    assert f"/console/tasks/{term['task'].id}" in filtered
    others = await me.page("/console/inbox", params={"kind": "survey"})
    assert f"/console/tasks/{term['task'].id}" not in others


async def _renewals_csv(me: ConsoleClient) -> list[list[str]]:
    response = await me.get("/console/dashboard/renewals-due.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # Excel on a city PC reads it as UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_renewals_due_counts_terms_by_week_of_expiry_and_state_within_60_days(
    browser: Browser, as_staff: Callable[[str], httpx.AsyncClient], running_worker: None,
    temporal: TemporalClient, settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:  # fmt: skip
    me = await _logged_in(browser, "supervisor")
    open_before = (await me.get("/console/dashboard/open-cases.csv")).content
    before = await _renewals_csv(me)
    header, weeks = before[0], before[1:]
    states = ["案内前", "案内済み", "再度の案内済み", "申請を審査中", "更新済み", "その他の終了"]
    assert header == ["週 (月曜)", *states, "合計"]
    mondays = [date.fromisoformat(row[0]) for row in weeks]
    today = _today()
    assert mondays[0] == today - timedelta(days=today.weekday()) and mondays[-1] <= today + timedelta(days=60)
    # every week of the horizon, a quiet one too
    assert all(b - a == timedelta(days=7) for a, b in zip(mondays, mondays[1:], strict=False))

    # Two terms still waiting for their first reminder: one ends in 40 days, one in 61 (beyond the horizon).
    inside = today + timedelta(days=40)
    policy = RenewalPolicy(first_notice_offset_days=30)
    started = []
    for valid_to in (inside, today + timedelta(days=61)):
        certification_id = await _certified(as_staff, sessions, valid_to)
        found = await renewal.start_term(
            sessions=sessions, temporal=temporal, certification_id=certification_id, policy=policy,
            office=settings.office_code, task_queue=settings.temporal_task_queue,
        )  # fmt: skip
        started.append(found.case_id)
    try:
        after = await _renewals_csv(me)
        week = (inside - timedelta(days=inside.weekday())).isoformat()
        for old, new in zip(before[1:], after[1:], strict=True):
            delta = [int(n) - int(o) for o, n in zip(old[1:], new[1:], strict=True)]
            assert delta == ([1, 0, 0, 0, 0, 0, 1] if new[0] == week else [0] * 7), (new[0], delta)
        # a term sleeping until its window is not work in progress: the open-cases chart leaves it out
        assert (await me.get("/console/dashboard/open-cases.csv")).content == open_before
        dashboard = text_of(await me.page("/console/dashboard"))
        assert "60日以内に更新を迎える認定" in dashboard and "満了日の週" in dashboard
    finally:
        for case_id in started:
            with contextlib.suppress(RPCError):
                await temporal.get_workflow_handle(case_id or "").terminate("test finished")
