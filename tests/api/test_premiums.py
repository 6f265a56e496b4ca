"""The premium ledger over HTTP: 調定 by restriction staff, payments by the collection system's service
account only — idempotent by receipt number, every posting audited, hostile input refused with a clear 4xx,
nothing half-written (a 消込 file with one bad line records nothing)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client as TemporalClient

from api.deps import Resources
from api.main import create_app
from kaigo import temporal_client
from models.case import CaseRecord
from models.common import today_in_japan
from models.restriction import PremiumPayment, RestrictionCase
from models.security import AuditEvent
from tests.factories import insured_payload, person_payload

Client = Callable[[str], httpx.AsyncClient]
HEADER = "領収番号,被保険者番号,年度,期別,納付額,納付日"


async def _resident(as_staff: Client, category: str = "1") -> tuple[str, str]:
    intake = as_staff("intake")
    birth = "1945-06-01" if category == "1" else "1975-06-01"
    person = (await intake.post("/persons", json=person_payload(birth_date=birth))).json()
    acquired = {"acquired_on": "2015-06-01", "acquisition_reason": "age_40"} if category == "2" else {}
    insured = await intake.post(
        "/insured", json=insured_payload(person["atena_no"], category=category, **acquired)
    )
    assert insured.status_code == 201, insured.text
    return person["atena_no"], insured.json()["insured_no"]


def _fiscal_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


async def _ledger(as_staff: Client, insured_no: str, dues: list[date], amount: int = 6_200) -> list[dict]:
    periods: dict[int, int] = {}
    rows = []
    for due in dues:
        year = _fiscal_year(due)
        periods[year] = periods.get(year, 0) + 1
        rows.append(
            {
                "insured_no": insured_no,
                "fiscal_year": year,
                "period": periods[year],
                "due_on": due.isoformat(),
                "amount": amount,
            }
        )
    posted = await as_staff("restriction").post("/premium-assessments", json={"assessments": rows})
    assert posted.status_code == 201, posted.text
    return rows


def _payment(row: dict, receipt: str, **overrides: object) -> dict:
    return {
        "receipt_no": receipt,
        "insured_no": row["insured_no"],
        "fiscal_year": row["fiscal_year"],
        "period": row["period"],
        "amount": row["amount"],
        "paid_on": today_in_japan().isoformat(),
    } | overrides


async def _audit(sessions: async_sessionmaker[AsyncSession], receipt_no: str) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "premium.payment").order_by(col(AuditEvent.id))
            )
        ).all()
    return [(r.actor, r.outcome) for r in rows if r.detail.get("receipt_no") == receipt_no]


async def test_only_the_collection_systems_account_posts_payments_and_every_posting_is_audited(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, insured_no = await _resident(as_staff)
    rows = await _ledger(as_staff, insured_no, [today_in_japan() - timedelta(days=40)])
    collection = as_staff("collection")
    receipt = f"R-{insured_no}"
    assert (
        await as_staff("intake").post("/premium-payments", json=_payment(rows[0], receipt))
    ).status_code == 403  # 給付制限担当 may also post (the counter), the 認定係 not
    assert (await collection.get(f"/insured/{insured_no}/premiums")).status_code == 403  # it reads nothing
    assert (await collection.post("/premium-assessments", json={"assessments": rows})).status_code == 403
    first = await collection.post("/premium-payments", json=_payment(rows[0], receipt, amount=1_000))
    assert first.status_code == 201, first.text
    again = await collection.post("/premium-payments", json=_payment(rows[0], receipt, amount=1_000))
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["receipt_no"] == receipt and again.json()["amount"] == 1_000
    other = await collection.post("/premium-payments", json=_payment(rows[0], receipt, amount=2_000))
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "receipt_no"
    assert await _audit(sessions, receipt) == [
        ("collection", "success"),
        ("collection", "success"),
        ("collection", "failure"),
    ]
    ledger = (await as_staff("restriction").get(f"/insured/{insured_no}/premiums")).json()
    assert ledger["instalments"][0]["paid"] == 1_000 and ledger["arrears_total"] == 5_200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": -6200}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 10**12}, "amount"),
        ({"amount": "6200"}, "amount"),  # strict: a string is not an amount
        ({"amount": 6200.5}, "amount"),
        ({"paid_on": "2026-02-30"}, "paid_on"),
        ({"paid_on": "1999-12-31"}, "paid_on"),
        ({"paid_on": (today_in_japan() + timedelta(days=1)).isoformat()}, "paid_on"),
        ({"receipt_no": "R 1"}, "receipt_no"),
        ({"receipt_no": "x" * 33}, "receipt_no"),
        ({"period": 13}, "period"),
        ({"fiscal_year": 2_147_483_648}, "fiscal_year"),
        ({"amount": 6_201}, "amount"),  # more than is unpaid
        ({"period": 9}, "period"),  # no 調定 for that 期別
    ],
)
async def test_hostile_payments_are_refused_with_the_field_named_and_nothing_recorded(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession], overrides: dict, field: str
) -> None:
    _, insured_no = await _resident(as_staff)
    rows = await _ledger(as_staff, insured_no, [today_in_japan() - timedelta(days=40)])
    response = await as_staff("collection").post(
        "/premium-payments", json=_payment(rows[0], "R-bad", **overrides)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field
    async with sessions() as session:
        assert (await session.exec(select(PremiumPayment))).all() == []


async def test_200_a_time_barred_period_cannot_be_paid(as_staff: Client) -> None:
    _, insured_no = await _resident(as_staff)
    rows = await _ledger(as_staff, insured_no, [date(2022, 7, 31)])
    response = await as_staff("collection").post("/premium-payments", json=_payment(rows[0], "R-late"))
    assert response.status_code == 422 and response.json()["type"].endswith(":time-barred")
    assert "200条" in response.json()["detail"]
    ledger = (await as_staff("restriction").get(f"/insured/{insured_no}/premiums")).json()
    assert ledger["instalments"][0]["status"] == "time_barred" and ledger["time_barred_total"] == 6_200
    assert ledger["arrears_total"] == 0  # time-barred premiums are not arrears any more (69条 instead)


async def test_the_same_payment_posted_at_once_is_recorded_once(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, insured_no = await _resident(as_staff)
    rows = await _ledger(as_staff, insured_no, [today_in_japan() - timedelta(days=40)])
    collection = as_staff("collection")
    same = await asyncio.gather(
        *(collection.post("/premium-payments", json=_payment(rows[0], "R-same")) for _ in range(8))
    )
    assert sorted(r.status_code for r in same) == [200] * 7 + [201]
    # Different receipts for one 期別 at once: never more than was assessed.
    _, insured_no = await _resident(as_staff)
    rows = await _ledger(as_staff, insured_no, [today_in_japan() - timedelta(days=40)])
    racing = await asyncio.gather(
        *(
            collection.post("/premium-payments", json=_payment(rows[0], f"R-race-{n}", amount=4_000))
            for n in range(6)
        )
    )
    assert sorted(r.status_code for r in racing) == [201] + [422] * 5
    async with sessions() as session:
        paid = (
            await session.exec(select(PremiumPayment).where(PremiumPayment.insured_no == insured_no))
        ).all()
    assert [p.amount for p in paid] == [4_000]


async def test_a_csv_with_a_bad_line_in_the_middle_records_nothing_and_names_every_line(
    as_staff: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, insured_no = await _resident(as_staff)
    dues = [today_in_japan() - timedelta(days=n) for n in (100, 70, 40)]
    rows = await _ledger(as_staff, insured_no, dues)
    collection = as_staff("collection")

    def line(receipt: str, row: dict, amount: int | str = 6_200, paid_on: str = "20261201") -> str:
        return f"{receipt},{row['insured_no']},{row['fiscal_year']},{row['period']},{amount},{paid_on}"

    paid_on = today_in_japan().strftime("%Y%m%d")
    bad = (
        "\r\n".join(
            [
                HEADER,
                line("C-1", rows[0], paid_on=paid_on),
                line("C-2", rows[1], amount='"6,200"', paid_on=paid_on),  # separators
                line("C-3", rows[2], paid_on="20260230"),  # impossible date
                line("C-4", rows[2], amount=99_999, paid_on=paid_on),  # overpayment (found while posting)
                line("C-1", rows[2], paid_on=paid_on),  # receipt repeated in the file
            ]
        )
        + "\r\n"
    )
    refused = await collection.post(
        "/premium-payments/import", content=bad.encode(), headers={"Content-Type": "text/csv"}
    )
    assert refused.status_code == 422, refused.text
    issues = [(i["line"], i["column"]) for i in refused.json()["issues"]]
    assert issues == [(3, "納付額"), (4, "納付日"), (6, "領収番号")]
    async with sessions() as session:
        assert (await session.exec(select(PremiumPayment))).all() == []
    # Parsed but refused while posting (more than is unpaid): still nothing half-imported.
    over = "\r\n".join(
        [HEADER, line("C-1", rows[0], paid_on=paid_on), line("C-4", rows[2], amount=99_999, paid_on=paid_on)]
    )
    refused = await collection.post(
        "/premium-payments/import", content=over.encode(), headers={"Content-Type": "text/csv"}
    )
    assert refused.status_code == 422 and [(i["line"], i["column"]) for i in refused.json()["issues"]] == [
        (3, "納付額")
    ]
    async with sessions() as session:
        assert (await session.exec(select(PremiumPayment))).all() == []

    good = (
        "\ufeff"
        + "\n".join([HEADER] + [line(f"C-{n}", row, paid_on=paid_on) for n, row in enumerate(rows)])
        + "\n"
    )
    imported = await collection.post(
        "/premium-payments/import", content=good.encode(), headers={"Content-Type": "text/csv"}
    )
    assert imported.status_code == 201, imported.text
    assert (imported.json()["posted"], imported.json()["already_posted"]) == (3, 0)
    again = await collection.post(
        "/premium-payments/import", content=good.encode(), headers={"Content-Type": "text/csv"}
    )
    assert (again.json()["posted"], again.json()["already_posted"]) == (
        0,
        3,
    )  # a re-sent file changes nothing
    ledger = (await as_staff("restriction").get(f"/insured/{insured_no}/premiums")).json()
    assert ledger["arrears_total"] == 0 and {i["status"] for i in ledger["instalments"]} == {"paid"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"\xff\xfe garbage", 422),  # not UTF-8
        (b"", 422),
        (HEADER.encode(), 422),  # no lines
        ("領収番号,被保険者番号\r\nR-1,0100000001\r\n".encode(), 422),  # columns missing
    ],
)
async def test_unreadable_csv_files_are_refused(as_staff: Client, body: bytes, status: int) -> None:
    response = await as_staff("collection").post(
        "/premium-payments/import", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == status and response.json()["issues"]


async def test_a_nul_byte_in_a_csv_is_refused_at_the_edge(as_staff: Client) -> None:
    response = await as_staff("collection").post(
        "/premium-payments/import", content=b"\x00garbage", headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body"


async def test_the_csv_import_wants_text_csv(as_staff: Client) -> None:
    response = await as_staff("collection").post("/premium-payments/import", json={"a": 1})
    assert response.status_code == 415


async def test_assessments_are_all_or_nothing_and_never_silently_changed(as_staff: Client) -> None:
    _, insured_no = await _resident(as_staff)
    _, second = await _resident(as_staff, category="2")
    staff = as_staff("restriction")
    row = {
        "insured_no": insured_no,
        "fiscal_year": 2025,
        "period": 3,
        "due_on": "2025-09-30",
        "amount": 6_200,
    }
    duplicate = await staff.post("/premium-assessments", json={"assessments": [row, row]})
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["field"] == "assessments.1.period"
    outside = await staff.post("/premium-assessments", json={"assessments": [row | {"due_on": "2027-09-30"}]})
    assert outside.status_code == 422
    category2 = await staff.post(
        "/premium-assessments", json={"assessments": [row, row | {"insured_no": second}]}
    )
    assert (
        category2.status_code == 422 and category2.json()["errors"][0]["field"] == "assessments.1.insured_no"
    )
    ledger = (await staff.get(f"/insured/{insured_no}/premiums")).json()
    assert ledger["instalments"] == []  # the first row of the refused batch was not kept
    assert (await staff.post("/premium-assessments", json={"assessments": [row]})).json() == {
        "created": 1,
        "unchanged": 0,
    }
    assert (await staff.post("/premium-assessments", json={"assessments": [row]})).json() == {
        "created": 0,
        "unchanged": 1,
    }
    changed = await staff.post("/premium-assessments", json={"assessments": [row | {"amount": 7_000}]})
    assert changed.status_code == 409


async def test_restrictions_of_a_person_without_any(as_staff: Client) -> None:
    _, insured_no = await _resident(as_staff)
    response = await as_staff("intake").get(f"/insured/{insured_no}/restrictions")
    assert response.status_code == 200 and response.json()["items"] == []
    assert (await as_staff("intake").get("/insured/0999999999/restrictions")).status_code == 404
    start = await as_staff("restriction").post(
        "/restriction-cases", json={"insured_no": insured_no, "kind": "delinquency"}
    )
    assert start.status_code == 422 and start.json()["type"].endswith(":no-arrears")


async def test_a_payment_is_recorded_while_temporal_is_down_and_the_case_is_told_later(
    resources: Resources,
    staff_tokens: dict[str, str],
    as_staff: Client,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The ledger is the record: an outage only delays telling the case (the daily reconciliation does)."""
    atena_no, insured_no = await _resident(as_staff)
    rows = await _ledger(as_staff, insured_no, [today_in_japan() - timedelta(days=400)])
    case_id = f"restriction-{'a' * 32}"
    async with sessions() as session, session.begin():
        session.add(
            CaseRecord(
                id=case_id, case_type="restriction", subject_atena_no=atena_no, insured_no=insured_no,
                office="honcho", stage="restricted", exclusive_key=f"restriction:{insured_no}",
                opened_by="system",
            )
        )  # fmt: skip
        await session.flush()
        session.add(
            RestrictionCase(
                case_id=case_id, kind="delinquency", insured_no=insured_no, atena_no=atena_no, trigger="scan",
                opened_on=today_in_japan(), created_by="system",
            )
        )  # fmt: skip
    nowhere = await TemporalClient.connect(
        "127.0.0.1:1", lazy=True, data_converter=temporal_client.data_converter(resources.settings)
    )
    down = dataclasses.replace(resources, temporal=nowhere)
    token = staff_tokens["collection"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(resources=down)),
        base_url="http://kaigo.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as collection:
        paid = await collection.post("/premium-payments", json=_payment(rows[0], "R-outage"))
    assert paid.status_code == 201, paid.text
    assert paid.json()["case_notified"] is None  # not told now; recorded all the same
    async with sessions() as session:
        assert (await session.get(PremiumPayment, "R-outage")) is not None
