"""Bulk print export for the print contractor: one PDF per batch plus a manifest of exactly 文書番号,
被保険者番号, page range and 郵便番号, sorted by postal code; resumable; audited; over HTTP and the CLI."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from kaigo.config import Settings
from models.print_export import NoticeExportCreate, NoticeExportItem
from notices import fixtures
from notices.render import RenderedNotice, UnprintableCharacterError
from services import print_export
from services.notices import IssuedNotice, NoticeVoided
from tests.api.test_notices_api import audit_rows, issue_notice, register_person

KIND = "explanation_review_result"
HEADER = ["文書番号", "被保険者番号", "頁範囲", "郵便番号"]
# Postal codes in an order unlike issue order; two share a code (then 文書番号 decides). Long reasons make
# a two-page notice, so page ranges are not simply 1 page per notice.
RECIPIENTS = [
    ("0790000", 1),
    ("0700031", 8),
    ("0788392", 1),
    ("0700031", 1),
    ("0600001", 8),
    ("0790000", 8),
    ("0700010", 1),
]


def _data(reason_copies: int) -> dict[str, Any]:
    data = fixtures.load(KIND)
    for assigned in ("recipient", "document_no", "issue_date"):
        del data[assigned]
    data["reasons"] = data["reasons"] * reason_copies
    return data


@pytest.fixture
async def issued(
    as_staff: Callable[[str], httpx.AsyncClient],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> list[IssuedNotice]:
    intake = as_staff("intake")
    records = []
    for postal_code, copies in RECIPIENTS:
        atena_no = await register_person(intake, postal_code=postal_code)
        records.append(await issue_notice(sessions, settings, atena_no, kind=KIND, data=_data(copies)))
    assert {r.pages for r in records} == {1, 2}
    return records


def _request(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": KIND,
        "issued_from": "2026-12-01",
        "issued_to": "2026-12-31",
        "batch_size": 3,
        **overrides,
    }


def _manifest(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets open it as UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _check_batch(pdf: bytes, manifest: bytes, by_number: dict[str, IssuedNotice]) -> list[list[str]]:
    """Header exactly as agreed; each range holds exactly its notice's pages; ranges cover the PDF."""
    rows = _manifest(manifest)
    assert rows[0] == HEADER
    merged = PdfReader(io.BytesIO(pdf))
    next_page = 1
    for document_no, insured_no, pages, postal_code in rows[1:]:
        notice = by_number[document_no]
        assert (insured_no, postal_code) == (notice.insured_no, notice.postal_code)
        first, last = (int(p) for p in pages.split("-"))
        assert (first, last - first + 1) == (next_page, notice.pages)
        own = PdfReader(io.BytesIO(notice.pdf))
        for offset in range(notice.pages):
            assert merged.pages[first - 1 + offset].extract_text() == own.pages[offset].extract_text()
        next_page = last + 1
    assert next_page - 1 == len(merged.pages)
    return rows[1:]


def _sort_key(notice: IssuedNotice) -> tuple[str, int, int]:
    return notice.postal_code, notice.fiscal_year, notice.sequence


# --------------------------------------------------------------------------------------------- over HTTP


async def test_api_export_bundles_sorted_batches_with_minimal_manifests(
    as_staff: Callable[[str], httpx.AsyncClient],
    issued: list[IssuedNotice],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    supervisor = as_staff("supervisor")
    created = await supervisor.post("/notice-exports", json=_request())
    assert created.status_code == 201, created.text
    job = created.json()
    assert (job["notice_count"], job["batch_count"], job["requested_by"]) == (7, 3, "supervisor")
    assert job["finished_at"] is not None
    assert [b["notice_count"] for b in job["batches"]] == [3, 3, 1]
    assert (await supervisor.get(f"/notice-exports/{job['id']}")).json() == job

    by_number = {n.document_no: n for n in issued}
    listed: list[list[str]] = []
    for batch in job["batches"]:
        pdf_file, csv_file = batch["files"]
        pdf = await supervisor.get(f"/notice-exports/{job['id']}/files/{pdf_file['name']}")
        manifest = await supervisor.get(f"/notice-exports/{job['id']}/files/{csv_file['name']}")
        assert pdf.headers["content-type"] == "application/pdf"
        assert manifest.headers["content-type"].startswith("text/csv")
        assert hashlib.sha256(pdf.content).hexdigest() == pdf_file["sha256"]
        assert pdf.headers["etag"] == f'"{pdf_file["sha256"]}"'
        assert hashlib.sha256(manifest.content).hexdigest() == csv_file["sha256"]
        assert len(PdfReader(io.BytesIO(pdf.content)).pages) == batch["pages"]
        listed += _check_batch(pdf.content, manifest.content, by_number)
    expected = sorted(issued, key=_sort_key)
    assert [row[0] for row in listed] == [n.document_no for n in expected]
    assert [row[3] for row in listed] == sorted(row[3] for row in listed)

    # What left is in the audit trail: one row per notice, one per batch, one for the job.
    exported = [
        r for r in await audit_rows(sessions, action="notice.export") if r.detail["job_id"] == job["id"]
    ]
    assert sorted(r.subject_atena_no or "" for r in exported) == sorted(n.recipient_atena_no for n in issued)
    batches = [
        r for r in await audit_rows(sessions, action="notice.export.batch") if r.detail["job_id"] == job["id"]
    ]
    assert [r.detail["files"] for r in batches] == [
        {b["files"][0]["name"]: b["files"][0]["sha256"], b["files"][1]["name"]: b["files"][1]["sha256"]}
        for b in job["batches"]
    ]
    (summary,) = [
        r for r in await audit_rows(sessions, action="notice.export.job") if r.detail["job_id"] == job["id"]
    ]
    assert (summary.actor, summary.detail["notices"], len(summary.detail["files"])) == ("supervisor", 7, 6)
    downloads = [
        r
        for r in await audit_rows(sessions, action="notice.export.download")
        if r.detail["job_id"] == job["id"]
    ]
    assert len(downloads) == 2 * 7  # PDF and manifest of each batch, one row per notice in it


async def test_exported_and_superseded_notices_are_left_out_unless_asked(
    as_staff: Callable[[str], httpx.AsyncClient],
    issued: list[IssuedNotice],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    supervisor = as_staff("supervisor")
    first = (await supervisor.post("/notice-exports", json=_request(batch_size=500))).json()
    assert first["notice_count"] == 7
    again = await supervisor.post("/notice-exports", json=_request())
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "issued_from"

    corrected = issued[0]
    correction = await issue_notice(
        sessions, settings, corrected.recipient_atena_no, kind=KIND, data=_data(1), replaces_id=corrected.id
    )
    only_new = (await supervisor.post("/notice-exports", json=_request())).json()
    assert only_new["notice_count"] == 1
    async with sessions() as session:
        members = (
            await session.exec(
                select(NoticeExportItem.notice_id).where(NoticeExportItem.job_id == only_new["id"])
            )
        ).all()
    assert list(members) == [correction.id]

    reprint = (await supervisor.post("/notice-exports", json=_request(include_exported=True))).json()
    assert reprint["notice_count"] == 7  # the corrected original stays out: the correction replaces it


async def test_notices_without_a_stored_pdf_are_not_exported(
    as_staff: Callable[[str], httpx.AsyncClient],
    issued: list[IssuedNotice],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """作成中 waits for a later export; a 欠番 never prints. Both keep their numbers out of the manifest."""

    async def crash(kind: str, data: Any, issuer: Any) -> RenderedNotice:
        raise RuntimeError("render process killed")

    async def unprintable(kind: str, data: Any, issuer: Any) -> RenderedNotice:
        raise UnprintableCharacterError("x")

    atena_no = issued[0].recipient_atena_no
    with pytest.raises(RuntimeError):
        await issue_notice(sessions, settings, atena_no, kind=KIND, data=_data(1), render=crash)
    with pytest.raises(NoticeVoided):
        await issue_notice(sessions, settings, atena_no, kind=KIND, data=_data(1), render=unprintable)
    job = (await as_staff("supervisor").post("/notice-exports", json=_request(batch_size=500))).json()
    assert job["notice_count"] == 7
    async with sessions() as session:
        members = set(
            (
                await session.exec(
                    select(NoticeExportItem.notice_id).where(NoticeExportItem.job_id == job["id"])
                )
            ).all()
        )
    assert members == {n.id for n in issued}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "kind"),
        (_request(kind="bogus"), "kind"),
        (_request(issued_from="2026-12-31", issued_to="2026-12-01"), "issued_to"),
        (_request(batch_size=0), "batch_size"),
        (_request(batch_size=100_000), "batch_size"),
        (_request(extra="x"), "extra"),
    ],
)
async def test_bad_export_requests_name_the_field(
    as_staff: Callable[[str], httpx.AsyncClient], body: dict[str, Any], field: str
) -> None:
    response = await as_staff("supervisor").post("/notice-exports", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_only_exporters_export_and_files_are_found_by_exact_name(
    as_staff: Callable[[str], httpx.AsyncClient], issued: list[IssuedNotice]
) -> None:
    for login_id in ("intake", "restriction", "board", "surveyor", "admin"):
        assert (await as_staff(login_id).post("/notice-exports", json=_request())).status_code == 403
    supervisor = as_staff("supervisor")
    job = (await supervisor.post("/notice-exports", json=_request())).json()
    name = job["batches"][0]["files"][0]["name"]
    assert (await as_staff("intake").get(f"/notice-exports/{job['id']}/files/{name}")).status_code == 403
    other = f"{KIND}-{job['id'][:8]}-009.pdf"
    missing = await supervisor.get(f"/notice-exports/{job['id']}/files/{other}")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "file_name"
    for hostile in ("..%2F..%2Fetc%2Fpasswd", "a.pdf%00.csv", "x" * 200 + ".pdf"):
        response = await supervisor.get(f"/notice-exports/{job['id']}/files/{hostile}")
        assert response.status_code in (404, 422), hostile
    assert (await supervisor.get("/notice-exports/" + "0" * 32)).status_code == 404
    assert (await supervisor.get("/notice-exports/not-a-job")).status_code == 422


async def test_api_jobs_are_limited_to_modest_sizes(
    as_staff: Callable[[str], httpx.AsyncClient],
    issued: list[IssuedNotice],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        request = NoticeExportCreate.model_validate(_request())
        with pytest.raises(print_export.ProblemError) as refused:
            await print_export.plan(session=session, request=request, requested_by="test", limit=6)
    assert refused.value.code == "export-too-large" and refused.value.field == "issued_to"


async def test_a_file_whose_notices_were_purged_is_gone_not_rebuilt_differently(
    as_staff: Callable[[str], httpx.AsyncClient],
    issued: list[IssuedNotice],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from models.common import today_in_japan
    from services import retention

    supervisor = as_staff("supervisor")
    job = (await supervisor.post("/notice-exports", json=_request(batch_size=500))).json()
    gone = issued[3].recipient_atena_no
    removal = await as_staff("intake").post(
        f"/persons/{gone}/removal", json={"removed_on": "2015-04-01", "removal_reason": "moved_out"}
    )
    assert removal.status_code == 200, removal.text
    async with sessions() as session, session.begin():
        purged = await retention.purge(session=session, today=today_in_japan(), years=5, dry_run=False)
    assert purged.persons == 1
    for file in job["batches"][0]["files"]:
        response = await supervisor.get(f"/notice-exports/{job['id']}/files/{file['name']}")
        assert response.status_code == 410, response.text
    after = (await supervisor.get(f"/notice-exports/{job['id']}")).json()
    assert after["batches"] == job["batches"]  # what left stays on record


# ---------------------------------------------------------------------------- resumable, to a directory


class Interrupted(Exception):
    pass


def _interrupt_after(count: int) -> Callable[[], None]:
    seen = 0

    def on_notice() -> None:
        nonlocal seen
        seen += 1
        if seen > count:
            raise Interrupted

    return on_notice


async def test_an_interrupted_export_resumes_without_redoing_or_duplicating_batches(
    issued: list[IssuedNotice], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        job = await print_export.plan(
            session=session, request=NoticeExportCreate.model_validate(_request()), requested_by="cli:test"
        )
    with pytest.raises(Interrupted):  # dies while merging the second batch
        await print_export.run_to_directory(
            sessions, job_id=job.id, out_dir=tmp_path, actor="cli:test", on_notice=_interrupt_after(4)
        )
    first_pdf, first_csv = print_export.file_names(KIND, job.id, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first_pdf, first_csv])
    finished_at = (tmp_path / first_pdf).stat().st_mtime_ns

    merged: list[int] = []
    report = await print_export.run_to_directory(
        sessions, job_id=job.id, out_dir=tmp_path, actor="cli:test", on_notice=lambda: merged.append(1)
    )
    assert (report.skipped, report.exported, report.rewritten) == ([1], [2, 3], [])
    assert len(merged) == 4  # batches 2 and 3 only
    assert (tmp_path / first_pdf).stat().st_mtime_ns == finished_at
    assert report.job.finished_at is not None

    by_number = {n.document_no: n for n in issued}
    listed = []
    for batch in report.batches:
        pdf, manifest = (
            (tmp_path / batch.pdf_name).read_bytes(),
            (tmp_path / batch.manifest_name).read_bytes(),
        )
        assert hashlib.sha256(pdf).hexdigest() == batch.pdf_sha256
        listed += _check_batch(pdf, manifest, by_number)
    assert sorted(row[0] for row in listed) == sorted(by_number)  # every notice once, none twice
    assert [row[0] for row in listed] == [n.document_no for n in sorted(issued, key=_sort_key)]

    exported = [r for r in await audit_rows(sessions, action="notice.export") if r.detail["job_id"] == job.id]
    assert len(exported) == 7 and {r.actor for r in exported} == {"cli:test"}

    # Nothing left to do; a lost file is rebuilt byte for byte (and its writing audited), not re-exported.
    (tmp_path / first_csv).unlink()
    rerun = await print_export.run_to_directory(sessions, job_id=job.id, out_dir=tmp_path, actor="cli:test")
    assert (rerun.skipped, rerun.exported, rerun.rewritten) == ([2, 3], [], [1])
    assert (
        hashlib.sha256((tmp_path / first_csv).read_bytes()).hexdigest() == report.batches[0].manifest_sha256
    )
    rewrites = [
        r for r in await audit_rows(sessions, action="notice.export.rewrite") if r.detail["job_id"] == job.id
    ]
    assert len(rewrites) == 3


async def test_two_processes_resuming_one_job_produce_each_batch_once(
    issued: list[IssuedNotice], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        job = await print_export.plan(
            session=session, request=NoticeExportCreate.model_validate(_request()), requested_by="cli:test"
        )
    reports = await asyncio.gather(
        *(
            print_export.run_to_directory(sessions, job_id=job.id, out_dir=tmp_path / name, actor="cli:test")
            for name in ("a", "b")
        )
    )
    assert sorted(reports[0].exported + reports[1].exported) == [1, 2, 3]
    exported = [r for r in await audit_rows(sessions, action="notice.export") if r.detail["job_id"] == job.id]
    assert len(exported) == 7


async def test_a_done_batch_record_cannot_be_rewritten(
    issued: list[IssuedNotice], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async with sessions() as session, session.begin():
        job = await print_export.plan(
            session=session, request=NoticeExportCreate.model_validate(_request()), requested_by="cli:test"
        )
    await print_export.run_to_directory(sessions, job_id=job.id, out_dir=tmp_path, actor="cli:test")
    with pytest.raises(DBAPIError):
        async with sessions() as session, session.begin():
            await session.exec(  # type: ignore[call-overload]
                text("UPDATE notice_export_batch SET pdf_sha256 = 'x' WHERE job_id = :id").bindparams(
                    id=job.id
                )
            )


# ------------------------------------------------------------------------------------------------------ CLI


async def test_cli_exports_with_progress_and_resumes_by_job_id(
    issued: list[IssuedNotice],
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.main import app as cli
    from kaigo.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    args = ["notices", "export", "--kind", KIND, "--issued-from", "2026-12-01", "--issued-to", "2026-12-31"]
    try:
        # The command runs its own event loop, so it goes to a thread.
        result = await asyncio.to_thread(
            runner.invoke, cli, [*args, "--out", str(tmp_path), "--batch-size", "4", "--operator", "yamada"]
        )
        assert result.exit_code == 0, result.output
        job_id = result.output.split("started export job ", 1)[1].split()[0]
        assert "7 notices in 2 batch(es); this run: 2 produced" in result.output
        assert len(list(tmp_path.glob("*.pdf"))) == 2 and len(list(tmp_path.glob("*.csv"))) == 2

        resumed = await asyncio.to_thread(
            runner.invoke, cli, ["notices", "export", "--job-id", job_id, "--out", str(tmp_path)]
        )
        assert resumed.exit_code == 0, resumed.output
        assert "0 produced, 2 already done" in resumed.output
        conflicting = await asyncio.to_thread(
            runner.invoke,
            cli,
            ["notices", "export", "--job-id", job_id, "--kind", "postponement", "--out", "x"],
        )
        assert conflicting.exit_code == 1 and "kind" in conflicting.output
        nothing = await asyncio.to_thread(runner.invoke, cli, [*args, "--out", str(tmp_path / "again")])
        assert nothing.exit_code == 0 and "条件に合う発行済みの通知書がありません" in nothing.output
        missing = await asyncio.to_thread(runner.invoke, cli, ["notices", "export", "--out", str(tmp_path)])
        assert missing.exit_code == 2
    finally:
        get_settings.cache_clear()

    (plan,) = [
        r for r in await audit_rows(sessions, action="notice.export.plan") if r.detail["job_id"] == job_id
    ]
    assert (plan.actor, plan.detail["notices"]) == ("cli:yamada", 7)
    async with sessions() as session:
        members = (
            await session.exec(
                select(NoticeExportItem.notice_id)
                .where(NoticeExportItem.job_id == job_id)
                .order_by(col(NoticeExportItem.batch_no), col(NoticeExportItem.position))
            )
        ).all()
    assert len(members) == len(set(members)) == 7


def test_preview_command_writes_the_page_or_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from cli.main import app as cli

    runner = CliRunner()
    if shutil.which("pdftoppm"):
        result = runner.invoke(cli, ["notices", "previews", "--out-dir", str(tmp_path / "notices")])
        assert result.exit_code == 0, result.output
        assert (
            (tmp_path / "notices.md").read_text(encoding="utf-8").startswith("# Notices (通知書): previews")
        )
        assert (tmp_path / "notices" / "expiry_reminder.png").is_file()
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdftoppm here
    missing = runner.invoke(cli, ["notices", "previews", "--out-dir", str(tmp_path / "other")])
    assert missing.exit_code == 1 and "poppler-utils" in missing.output
