"""給付制限 in the web console (in-process app, real PostgreSQL): the restriction case page with its legal
clocks as days left (the 弁明 deadline, then the 1年6か月 date) and its record in Japanese labels, and the
counter payment page — a payment posted through `POST /premium-payments` shows on the ledger, a bad field is
named next to the field, a replayed 領収番号 records nothing twice, a role without it is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import CaseRecord
from models.common import today_in_japan
from models.restriction import PremiumPayment, RestrictionCase
from models.security import AuditEvent
from tests.api.console_client import ConsoleClient, text_of
from tests.factories import insured_payload, person_payload

Browser = Callable[[str], ConsoleClient]
Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def browser(app: FastAPI, staff_tokens: dict[str, str]) -> AsyncIterator[Browser]:
    """`await _logged_in(browser, "restriction")`: a console client per staff member (own cookie jar); the
    staff accounts are those staff_tokens creates."""
    clients: list[httpx.AsyncClient] = []
    made: dict[str, ConsoleClient] = {}

    def new(login_id: str) -> ConsoleClient:
        if login_id not in made:
            transport = httpx.ASGITransport(app=app, client=("192.0.2.43", 50000))
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


async def _resident(as_staff: Client) -> tuple[str, str]:
    intake = as_staff("intake")
    atena = (await intake.post("/persons", json=person_payload(birth_date="1945-06-01"))).json()["atena_no"]
    insured = await intake.post("/insured", json=insured_payload(atena))
    assert insured.status_code == 201, insured.text
    return atena, insured.json()["insured_no"]


def _fiscal_year(day: Any) -> int:
    return day.year if day.month >= 4 else day.year - 1


async def _assessed(as_staff: Client, insured_no: str) -> dict[str, Any]:
    due = today_in_japan() - timedelta(days=40)
    row = {
        "insured_no": insured_no,
        "fiscal_year": _fiscal_year(due),
        "period": 1,
        "due_on": due.isoformat(),
        "amount": 6_200,
    }
    posted = await as_staff("restriction").post("/premium-assessments", json={"assessments": [row]})
    assert posted.status_code == 201, posted.text
    return row


@pytest.fixture
async def restriction_case(as_staff: Client, sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """A 66条 case in its 弁明 period, as the workflow's steps leave it: the case header and its record."""
    atena_no, insured_no = await _resident(as_staff)
    today = today_in_japan()
    case_id = f"restriction-{uuid.uuid4().hex}"
    explanation_due = today + timedelta(days=25)
    arrears = [
        {"fiscal_year": 2023, "period": 3, "due_on": "2023-09-30", "assessed": 6200, "unpaid": 6200},
        {"fiscal_year": 2023, "period": 4, "due_on": "2023-10-31", "assessed": 6200, "unpaid": 3000},
        {"fiscal_year": 2024, "period": 1, "due_on": "2024-07-31", "assessed": 5800, "unpaid": 5800},
    ]
    async with sessions() as session, session.begin():
        session.add(
            CaseRecord(
                id=case_id, case_type="restriction", subject_atena_no=atena_no, insured_no=insured_no,
                office="honcho", stage="explanation", due_on=explanation_due,
                details=f"弁明期限 {explanation_due:%Y/%m/%d}", exclusive_key=f"restriction:{insured_no}",
                opened_by="system",
            )
        )  # fmt: skip
        await session.flush()
        session.add(
            RestrictionCase(
                case_id=case_id, kind="delinquency", insured_no=insured_no, atena_no=atena_no, trigger="scan",
                opened_on=today - timedelta(days=5), advance_notice_on=today - timedelta(days=5),
                explanation_due=explanation_due, arrears=arrears, arrears_total=15_000,
                arrears_checked_at=datetime.now(UTC), created_by="system",
            )
        )  # fmt: skip
    return {"case_id": case_id, "insured_no": insured_no, "explanation_due": explanation_due}


async def test_the_restriction_case_page_shows_the_bemmei_clock_and_the_record_in_japanese(
    browser: Browser, restriction_case: dict[str, Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    me = await _logged_in(browser, "restriction")
    case_id = restriction_case["case_id"]
    page = await me.page(f"/console/cases/{case_id}")
    text = text_of(page)
    assert re.search(r"弁明書の提出期限.*? あと25日 令和", text), text[:1500]
    assert "行政手続法30条" in text
    assert f"({restriction_case['explanation_due'].isoformat()})" in text  # 和暦 with 西暦 beside
    assert "保険料滞納 (第1号) — 66条・67条" in text and "日次の滞納確認" in text
    assert re.search(r"2023年度 2期 9,200円 2024年度 1期 5,800円 合計 15,000円", text), text[:3000]
    assert "弁明 未受付" in text and "保険給付の一時差止 なし" in text
    for raw_key in ("explanation_due", "arrears_total", "advance_notice_on"):
        assert raw_key not in text  # not the generic panel's raw field keys
    link = f'href="/console/payments/new?insured_no={restriction_case["insured_no"]}"'
    assert link in page  # 給付制限担当 may post a counter payment

    # 償還払い: the workflow's next date is the 1年6か月 decision day (67条)
    decision_day = today_in_japan() + timedelta(days=40)
    async with sessions() as session, session.begin():
        case = await session.get(CaseRecord, case_id)
        assert case is not None
        case.stage, case.due_on = "restricted", decision_day
    text = text_of(await me.page(f"/console/cases/{case_id}"))
    assert re.search(r"一時差止の判定日 \(1年6か月\).*? あと40日 令和", text), text[:1500]
    assert "67条1項" in text and "弁明書の提出期限 あと" not in text


async def _ledger_paid(as_staff: Client, insured_no: str) -> int:
    ledger = await as_staff("restriction").get(f"/insured/{insured_no}/premiums")
    assert ledger.status_code == 200, ledger.text
    return sum(i["paid"] for i in ledger.json()["instalments"])


async def test_a_counter_payment_posts_once_shows_on_the_ledger_and_names_a_bad_field(
    browser: Browser, as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, insured_no = await _resident(as_staff)
    row = await _assessed(as_staff, insured_no)
    me = await _logged_in(browser, "restriction")
    form_page = await me.page(f"/console/payments/new?insured_no={insured_no}")
    assert 'href="/console/payments/new"' in form_page  # in the nav
    assert re.search(rf'name="payment.insured_no" value="{insured_no}"', form_page)
    for label in ("領収番号", "被保険者番号", "年度", "期別", "納付額", "納付日"):
        assert label in text_of(form_page)
    receipt = f"W-{insured_no}"
    payment = {
        "payment.receipt_no": receipt,
        "payment.insured_no": insured_no,
        "payment.fiscal_year": str(row["fiscal_year"]),
        "payment.period": "1",
        "payment.amount": "２,０００",  # as typed at a counter: 全角, with a separator
        "payment.paid_on": today_in_japan().isoformat(),
    }

    future = today_in_japan() + timedelta(days=1)
    bad = await me.post("/console/payments", payment | {"payment.paid_on": future.isoformat()})
    assert bad.status_code == 422, text_of(bad.text)[:400]
    slot = re.search(r'id="err-payment-paid_on"[^>]*>([^<]+)<', bad.text)
    assert slot is not None and "納付日" in slot.group(1), "the message sits next to the 納付日 field"
    assert re.search(rf'name="payment.receipt_no" value="{receipt}"', bad.text)  # what was typed is kept
    assert await _ledger_paid(as_staff, insured_no) == 0

    posted = await me.post("/console/payments", payment)
    assert posted.status_code == 200, text_of(posted.text)[:400]
    assert "納付を記録しました" in text_of(posted.text) and "2,000円" in text_of(posted.text)
    assert await _ledger_paid(as_staff, insured_no) == 2_000

    again = await me.post("/console/payments", payment)
    assert again.status_code == 200 and "登録済み" in text_of(again.text)
    assert await _ledger_paid(as_staff, insured_no) == 2_000  # not twice
    async with sessions() as session:
        rows = (await session.exec(select(PremiumPayment).where(PremiumPayment.receipt_no == receipt))).all()
        audit = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "premium.payment").order_by(col(AuditEvent.id))
            )
        ).all()
    assert len(rows) == 1 and rows[0].posted_by == "restriction"
    assert [
        (a.actor, a.outcome, a.detail.get("replayed")) for a in audit if a.detail.get("receipt_no") == receipt
    ] == [
        ("restriction", "failure", None),  # the future 納付日, refused by the API and audited
        ("restriction", "success", False),
        ("restriction", "success", True),
    ]  # audited under the staff login

    changed = await me.post("/console/payments", payment | {"payment.amount": "3000"})
    assert changed.status_code == 409
    slot = re.search(r'id="err-payment-receipt_no"[^>]*>([^<]+)<', changed.text)
    assert slot is not None and slot.group(1).strip()  # the same 領収番号 with another amount: named


async def test_a_role_without_premium_payment_gets_the_polite_refusal(browser: Browser) -> None:
    me = await _logged_in(browser, "intake")
    refused = await me.get("/console/payments/new")
    assert refused.status_code == 403 and "権限がありません" in text_of(refused.text)
    posted = await me.post("/console/payments", {"payment.receipt_no": "R-1"})
    assert posted.status_code == 403
    home = await me.page("/console/inbox")
    assert "/console/payments/new" not in home  # not in the nav either
