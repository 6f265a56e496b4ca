"""The day's print batch of renewal reminders: one notices export per day holding exactly the reminders not
yet printed, with a 発行一覧表 (CSV for Excel, A4 landscape PDF, 庁内限り) whose rows are the notices as
they were sent. Run by the real RenewalBatchWorkflow on the Temporal dev server against PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    ScheduleRange,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kaigo.config import Settings
from models.common import today_in_japan
from models.notice import NoticeRecord
from models.print_export import NoticeExport, NoticeExportItem
from models.renewal_batch import RenewalBatch, RenewalBatchInput, RenewalBatchPolicy, RenewalBatchResult
from notices import fixtures
from procedures import renewal_batch_activities, renewal_batch_schedules
from services import renewal_batch
from services.notices import IssuedNotice
from services.retention import purge
from tests.api.test_notices_api import audit_rows, issue_notice, register_person
from tests.notices.test_notice_templates import pdf_text
from workflows.renewal_batch import BATCH_SCHEDULE_ID, RenewalBatchWorkflow

# Recorded with RECORD_HISTORIES=1; tests/workflows/test_replay.py replays them against the production worker.
HISTORIES = Path(__file__).resolve().parents[1] / "histories"
DAY1 = date(2026, 12, 1)
DAY2 = date(2026, 12, 2)
LIST_HEADER = [
    "No",
    "文書番号",
    "被保険者番号",
    "氏名",
    "郵便番号",
    "送付先",
    "発行日",
    "区分",
    "印刷ファイル",
    "頁",
]
# Postal codes out of issue order: the print files (and so the list) run in postal-code order.
DAY1_PEOPLE = [
    ("0790000", "旭川 一郎", "北海道旭川市神居1条1丁目", "神居ハイツ101"),
    ("0700031", "髙橋 花子", "北海道旭川市一条通9丁目", None),
    ("0788392", "中島 トメ", "北海道旭川市末広2条5丁目6番7号", None),
]
DAY2_PEOPLE = [
    ("0700010", "永山 次郎", "北海道旭川市永山3条4丁目", None),
    ("0600001", "札幌 三子", "北海道旭川市東光1条1丁目", None),
]


@pytest.fixture
async def run_batch(
    dev_server_env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Callable[[date], Any]]:
    """Runs RenewalBatchWorkflow for a day on the dev server, with the batch's real activities."""
    client = dev_server_env.client
    queue = f"renewal-batch-{uuid.uuid4().hex[:8]}"

    async def run(day: date | None, record_as: str | None = None) -> RenewalBatchResult:
        workflow_id = f"renewal-batch-{day}-{uuid.uuid4().hex[:8]}"
        result: RenewalBatchResult = await client.execute_workflow(
            RenewalBatchWorkflow.run,
            RenewalBatchInput(policy=RenewalBatchPolicy(batch_size=2), day=day),
            id=workflow_id,
            task_queue=queue,
        )
        if record_as is not None and os.environ.get("RECORD_HISTORIES") == "1":
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            HISTORIES.mkdir(parents=True, exist_ok=True)
            (HISTORIES / f"{record_as}.json").write_text(history.to_json())
        return result

    async with Worker(
        client,
        task_queue=queue,
        workflows=[RenewalBatchWorkflow],
        activities=renewal_batch_activities(sessions),
    ):
        yield run


async def _issue(
    intake: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    people: list[tuple[str, str, str, str | None]],
    day: date,
) -> list[IssuedNotice]:
    issued = []
    for postal_code, name, address, extra in people:
        atena_no = await register_person(
            intake, postal_code=postal_code, name_kanji=name, address=address, address_extra=extra
        )
        issued.append(await issue_notice(sessions, settings, atena_no, issued_on=day))
    return issued


@pytest.fixture
async def two_days(
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> tuple[list[IssuedNotice], list[IssuedNotice]]:
    intake = as_staff("intake")
    day1 = await _issue(intake, sessions, settings, DAY1_PEOPLE, DAY1)
    day2 = await _issue(intake, sessions, settings, DAY2_PEOPLE, DAY2)
    # Another kind issued that day is not a renewal reminder and stays out of the batch.
    other = fixtures.load("explanation_review_result")
    for assigned in ("recipient", "document_no", "issue_date"):
        del other[assigned]
    await issue_notice(
        sessions,
        settings,
        await register_person(intake),
        kind="explanation_review_result",
        data=other,
        issued_on=DAY1,
    )
    return day1, day2


async def _members(sessions: async_sessionmaker[AsyncSession], export_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.exec(
            select(NoticeExportItem.notice_id)
            .where(NoticeExportItem.job_id == export_id)
            .order_by(col(NoticeExportItem.batch_no), col(NoticeExportItem.position))
        )
        return list(rows.all())


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        batches = (await session.exec(select(func.count()).select_from(RenewalBatch))).one()
        exports = (await session.exec(select(func.count()).select_from(NoticeExport))).one()
        items = (await session.exec(select(func.count()).select_from(NoticeExportItem))).one()
    return batches, exports, items


def _list_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[0] == LIST_HEADER
    return rows[1:]


async def _download(client: httpx.AsyncClient, day: date, name: str) -> bytes:
    response = await client.get(f"/renewal-batches/{day}/files/{name}")
    assert response.status_code == 200, response.text
    return response.content


def _by_postal(notices: list[IssuedNotice]) -> list[IssuedNotice]:
    return sorted(notices, key=lambda n: (n.postal_code, n.fiscal_year, n.sequence))


async def test_each_day_gets_one_batch_of_exactly_its_unprinted_reminders_with_an_issue_list(
    two_days: tuple[list[IssuedNotice], list[IssuedNotice]],
    run_batch: Callable[[date], Any],
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    day1, day2 = two_days
    supervisor = as_staff("supervisor")

    first: RenewalBatchResult = await run_batch(DAY1, record_as="renewal_batch_new_day")
    assert (first.created, first.notice_count, first.produced_batches) == (True, 3, [1, 2])
    assert first.export_id is not None
    assert await _members(sessions, first.export_id) == [n.id for n in _by_postal(day1)]

    view = (await supervisor.get(f"/renewal-batches/{DAY1}")).json()
    assert (view["notice_count"], view["done"], view["export"]["batch_count"]) == (3, True, 2)
    csv_file, pdf_file = view["issue_list"]
    assert (csv_file["name"], pdf_file["name"]) == (
        "expiry_reminder-list-20261201.csv",
        "expiry_reminder-list-20261201.pdf",
    )
    # The list names each notice as it was sent: 文書番号, 被保険者番号, the addressee block, its place in
    # the print files (two per file here: batch_size=2).
    listed = _list_rows(await _download(supervisor, DAY1, csv_file["name"]))
    print_files = [b["files"][0]["name"] for b in view["export"]["batches"]]
    expected = []
    for no, notice in enumerate(_by_postal(day1), start=1):
        async with sessions() as session:
            record = await session.get(NoticeRecord, notice.id)
        assert record is not None
        recipient = record.data["recipient"]
        address = " ".join(p for p in (recipient["address"], recipient["address_extra"]) if p)
        postal = f"{notice.postal_code[:3]}-{notice.postal_code[3:]}"
        in_file = (no - 1) // 2
        first_page = 1 if no % 2 else 2
        expected.append(
            [
                str(no),
                notice.document_no,
                notice.insured_no,
                recipient["name"],
                postal,
                address,
                "2026-12-01",
                "更新案内",
                print_files[in_file],
                f"{first_page}-{first_page}",
            ]
        )
    assert listed == expected
    assert "神居ハイツ101" in listed[2][5] and listed[0][3] == "髙橋 花子"
    assert (
        hashlib.sha256(await _download(supervisor, DAY1, csv_file["name"])).hexdigest() == csv_file["sha256"]
    )

    pdf = await _download(supervisor, DAY1, pdf_file["name"])
    assert hashlib.sha256(pdf).hexdigest() == pdf_file["sha256"]  # rebuilt byte-identically
    text = pdf_text(pdf)
    for page in PdfReader(io.BytesIO(pdf)).pages:  # A4 landscape, marked internal on every page
        assert page.mediabox.width > page.mediabox.height and "庁内限り" in page.extract_text()
    assert "庁内限り" in text and "発行一覧表" in text and "令和8年12月1日" in text
    for notice, row in zip(_by_postal(day1), listed, strict=True):
        assert notice.document_no in text and row[3] in text and notice.insured_no in text
    for notice in day2:
        assert notice.document_no not in text

    # A re-run of the day adds nothing: no second batch, no second export, no new list rows.
    before = await _counts(sessions)
    again: RenewalBatchResult = await run_batch(DAY1, record_as="renewal_batch_rerun")
    assert (again.created, again.export_id, again.produced_batches) == (False, first.export_id, [])
    assert await _counts(sessions) == before == (1, 1, 3)
    assert _list_rows(await _download(supervisor, DAY1, csv_file["name"])) == listed

    # A reminder issued on day 1 after its batch ran waits for the next day's batch.
    late = (
        await _issue(
            as_staff("intake"), sessions, settings, [("0710000", "遅発 四郎", "北海道旭川市", None)], DAY1
        )
    )[0]
    assert (await run_batch(DAY1)).produced_batches == []
    assert await _counts(sessions) == (1, 1, 3)

    second: RenewalBatchResult = await run_batch(DAY2)
    assert (second.created, second.notice_count) == (True, 3)
    assert second.export_id not in (None, first.export_id)
    assert set(await _members(sessions, second.export_id)) == {n.id for n in day2} | {late.id}
    listed2 = _list_rows(await _download(supervisor, DAY2, "expiry_reminder-list-20261202.csv"))
    assert {row[1] for row in listed2} == {n.document_no for n in [*day2, late]}
    assert {row[6] for row in listed2} == {"2026-12-01", "2026-12-02"}

    days = (await supervisor.get("/renewal-batches")).json()
    assert [b["day"] for b in days["items"]] == ["2026-12-02", "2026-12-01"] and days["total"] == 2


async def test_a_scheduled_run_takes_the_business_day_it_starts_on(
    run_batch: Callable[[date | None], Any],
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """The schedule passes no day: the batch is for today in Asia/Tokyo (the reminders the terms issued)."""
    before = today_in_japan()
    (notice,) = await _issue(as_staff("intake"), sessions, settings, DAY1_PEOPLE[:1], before)
    result: RenewalBatchResult = await run_batch(None)
    assert result.day in (before, today_in_japan())  # a run across midnight takes the later day
    assert result.export_id is not None and await _members(sessions, result.export_id) == [notice.id]


async def test_a_day_without_reminders_makes_no_batch(
    run_batch: Callable[[date], Any],
    sessions: async_sessionmaker[AsyncSession],
    as_staff: Callable[[str], httpx.AsyncClient],
) -> None:
    result: RenewalBatchResult = await run_batch(DAY1, record_as="renewal_batch_empty_day")
    assert (result.export_id, result.notice_count, result.created) == (None, 0, False)
    assert await _counts(sessions) == (0, 0, 0)
    missing = await as_staff("supervisor").get(f"/renewal-batches/{DAY1}")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "day"


async def test_two_runs_of_one_day_at_once_make_one_batch(
    two_days: tuple[list[IssuedNotice], list[IssuedNotice]],
    run_batch: Callable[[date], Any],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    results = await asyncio.gather(run_batch(DAY1), run_batch(DAY1), run_batch(DAY1))
    assert sorted(r.created for r in results) == [False, False, True]
    assert len({r.export_id for r in results}) == 1
    assert await _counts(sessions) == (1, 1, 3)


async def test_files_are_served_with_notice_export_permission_and_each_download_is_audited(
    two_days: tuple[list[IssuedNotice], list[IssuedNotice]],
    run_batch: Callable[[date], Any],
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    day1, _ = two_days
    result: RenewalBatchResult = await run_batch(DAY1)
    name = "expiry_reminder-list-20261201.pdf"
    for login_id in ("intake", "surveyor", "restriction"):
        refused = await as_staff(login_id).get(f"/renewal-batches/{DAY1}/files/{name}")
        assert refused.status_code == 403
        assert (await as_staff(login_id).get("/renewal-batches")).status_code == 403

    async def downloads_of_this_batch() -> list[Any]:  # the audit trail outlives each test
        rows = await audit_rows(sessions, action="notice.export.list.download")
        return [r for r in rows if r.detail["job_id"] == result.export_id]

    assert await downloads_of_this_batch() == []

    await _download(as_staff("supervisor"), DAY1, name)
    downloads = await downloads_of_this_batch()
    assert sorted(r.subject_atena_no or "" for r in downloads) == sorted(n.recipient_atena_no for n in day1)
    assert {(r.actor, r.detail["file"], r.detail["job_id"]) for r in downloads} == {
        ("supervisor", name, result.export_id)
    }
    # The print files themselves are the export's, audited as its downloads.
    view = (await as_staff("supervisor").get(f"/renewal-batches/{DAY1}")).json()
    print_pdf = view["export"]["batches"][0]["files"][0]
    assert (
        hashlib.sha256(await _download(as_staff("supervisor"), DAY1, print_pdf["name"])).hexdigest()
        == (print_pdf["sha256"])
    )
    exported = [
        r
        for r in await audit_rows(sessions, action="notice.export")
        if r.detail["job_id"] == result.export_id
    ]
    assert {r.actor for r in exported} == {renewal_batch.ACTOR} and len(exported) == 3
    # The list's making is on the trail with both hashes, as the export's batches are.
    (made,) = [
        r
        for r in await audit_rows(sessions, action="notice.export.list")
        if r.detail["job_id"] == result.export_id
    ]
    assert made.detail["files"] == {f["name"]: f["sha256"] for f in view["issue_list"]}
    bad = await as_staff("supervisor").get(f"/renewal-batches/{DAY1}/files/other-list-20261201.pdf")
    assert bad.status_code == 404


async def test_the_issue_list_goes_with_the_notices_under_the_retention_purge(
    two_days: tuple[list[IssuedNotice], list[IssuedNotice]],
    run_batch: Callable[[date], Any],
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    day1, _ = two_days
    await run_batch(DAY1)
    removal = {"removed_on": "2015-03-31", "removal_reason": "death"}
    removed = await as_staff("intake").post(f"/persons/{day1[0].recipient_atena_no}/removal", json=removal)
    assert removed.status_code < 300, removed.text
    async with sessions() as session, session.begin():
        assert (await purge(session=session, today=date(2026, 12, 3), years=5, dry_run=False)).persons == 1
    gone = await as_staff("supervisor").get(
        f"/renewal-batches/{DAY1}/files/expiry_reminder-list-20261201.csv"
    )
    assert gone.status_code == 410  # as the export's own files: no list with a purged person's row missing


async def test_the_daily_schedule_runs_the_batch_after_the_terms_wake_hour(
    temporal: Client, settings: Settings
) -> None:
    policy = RenewalBatchPolicy(run_cron="45 17 * * *")
    await renewal_batch_schedules(temporal, settings.model_copy(update={"renewal_batch_policy": policy}))
    await renewal_batch_schedules(temporal, settings.model_copy(update={"renewal_batch_policy": policy}))
    listed = [s async for s in await temporal.list_schedules() if s.id == BATCH_SCHEDULE_ID]
    assert len(listed) == 1  # every worker ensures it; there is one
    handle = temporal.get_schedule_handle(BATCH_SCHEDULE_ID)
    try:
        described = await handle.describe()
        spec, action = described.schedule.spec, described.schedule.action
        (calendar,) = spec.calendars  # the server keeps a cron expression as a calendar
        assert (calendar.hour, calendar.minute) == ((ScheduleRange(17),), (ScheduleRange(45),))
        assert spec.time_zone_name == "Asia/Tokyo"
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.id, action.task_queue) == (
            "RenewalBatchWorkflow",
            "renewal-batch",
            settings.temporal_task_queue,
        )
    finally:
        await handle.delete()


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/renewal-batches/2026-13-01", 422, "day"),
        ("/renewal-batches/yesterday", 422, "day"),
        ("/renewal-batches/2026-12-01/files/Expiry_reminder-list-2026120.pdf", 422, "file_name"),
        ("/renewal-batches/2026-12-01/files/expiry_reminder-list-20261201.exe", 422, "file_name"),
        ("/renewal-batches/2026-12-01/files/expiry_reminder-list-20261201.pdf", 404, "day"),
        ("/renewal-batches?size=1000", 422, "size"),
    ],
)
async def test_bad_requests_name_the_field(
    as_staff: Callable[[str], httpx.AsyncClient], path: str, status: int, field: str
) -> None:
    response = await as_staff("supervisor").get(path)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
