"""Bulk print export for the print contractor (印刷及び封入・封緘の委託): issued notices → one PDF per
batch plus a manifest CSV, sorted by postal code so the contractor's mail sort starts from our order.

The PDFs are the stored, immutable notice PDFs merged as they are (never re-rendered): what is printed is
exactly what was issued. The manifest carries 文書番号, 被保険者番号, page range and 郵便番号 — nothing else
about the person; the addresses are already in each notice's window block.

A job is planned in one transaction (membership, order and batches are fixed then), and each batch is
produced and marked done in a transaction of its own together with its audit rows. A rerun of the same
job skips the done batches; an interrupted batch is simply produced again. The merge is deterministic, so
a file rebuilt later (an API download, a lost output directory) has the SHA-256 recorded when it was made.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pypdf import PdfReader, PdfWriter
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from kaigo.security import audit
from kaigo.security.audit import AuditEntry
from models.common import utcnow
from models.notice import NoticePdf, NoticeRecord
from models.print_export import (
    ExportBatchPublic,
    ExportFile,
    NoticeExport,
    NoticeExportBatch,
    NoticeExportCreate,
    NoticeExportItem,
    NoticeExportPublic,
)

# The manifest's columns, and nothing else (seed: 委託先に渡す個人情報は必要最小限).
MANIFEST_COLUMNS = ("文書番号", "被保険者番号", "頁範囲", "郵便番号")
# UTF-8 with a BOM so the contractor's spreadsheet opens it as UTF-8; CRLF as RFC 4180 says.
MANIFEST_ENCODING = "utf-8-sig"
PDF_TYPE = "application/pdf"
CSV_TYPE = "text/csv; charset=utf-8"
# POST /notice-exports runs in the request: beyond this many notices use `kaigo notices export`.
API_INLINE_LIMIT = 1000
_PLAN_LOCK = 0x6E6F7478  # "notx": planners queue so two jobs never pick the same notices
_INSERT_CHUNK = 5000

OnNotice = Callable[[], None]


@dataclass(frozen=True)
class AuditNote:
    """What to audit, without the who/where (the API's trail and the CLI add those)."""

    action: str
    subject: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class ExportRow:
    notice_id: str
    document_no: str
    insured_no: str
    postal_code: str
    recipient_atena_no: str
    pages: int
    sha256: str
    pdf: bytes | None  # None when only the manifest is needed


@dataclass(frozen=True)
class BuiltBatch:
    manifest: bytes
    pdf: bytes | None

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()

    @property
    def pdf_sha256(self) -> str | None:
        return hashlib.sha256(self.pdf).hexdigest() if self.pdf is not None else None


def not_found(job_id: str) -> ProblemError:
    return ProblemError(404, "export-not-found", f"一括出力 {job_id} は見つかりません", field="export_id")


def file_names(kind: str, job_id: str, batch_no: int) -> tuple[str, str]:
    stem = f"{kind}-{job_id[:8]}-{batch_no:03d}"
    return f"{stem}.pdf", f"{stem}.csv"


# -------------------------------------------------------------------------------------------- planning


def _selection(request: NoticeExportCreate) -> sa.Select[tuple[str]]:
    """Issued notices of the kind and period, postal code first, then 文書番号 order.

    Left out: notices replaced by a correction (the correction is what the resident should get), notices
    without a stored PDF (作成中: a later export takes them; 欠番: never printed), and, unless asked,
    notices already in an earlier export (a resident must not get the same letter twice).
    """
    replacement = aliased(NoticeRecord)
    conditions: list[sa.ColumnElement[bool]] = [
        col(NoticeRecord.kind) == request.kind,
        col(NoticeRecord.issued_on) >= request.issued_from,
        col(NoticeRecord.issued_on) <= request.issued_to,
        ~sa.exists().where(col(replacement.replaces_id) == col(NoticeRecord.id)),
        sa.exists().where(col(NoticePdf.notice_id) == col(NoticeRecord.id)),
    ]
    if not request.include_exported:
        conditions.append(~sa.exists().where(col(NoticeExportItem.notice_id) == col(NoticeRecord.id)))
    return (
        sa.select(col(NoticeRecord.id))
        .where(*conditions)
        .order_by(col(NoticeRecord.postal_code), col(NoticeRecord.fiscal_year), col(NoticeRecord.sequence))
    )


async def plan(
    *,
    session: AsyncSession,
    request: NoticeExportCreate,
    requested_by: str,
    limit: int | None = None,
) -> NoticeExport:
    """Fix the job's notices, their order and their batches (nothing is rendered yet)."""
    await session.exec(sa.text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_PLAN_LOCK))  # type: ignore[call-overload]
    notice_ids = list((await session.exec(_selection(request))).scalars())  # type: ignore[call-overload]
    if not notice_ids:
        raise ProblemError(
            422,
            "no-notices",
            "条件に合う発行済みの通知書がありません (訂正済み・出力済みのものは除きます)",
            field="issued_from",
        )
    if limit is not None and len(notice_ids) > limit:
        raise ProblemError(
            422,
            "export-too-large",
            f"対象が{len(notice_ids):,}件あり、画面からの出力の上限 ({limit:,}件) を超えています。"
            "期間を分けるか、kaigo notices export コマンドを使ってください",
            field="issued_to",
        )
    job_id = uuid.uuid4().hex
    batches = [notice_ids[i : i + request.batch_size] for i in range(0, len(notice_ids), request.batch_size)]
    job = NoticeExport(
        id=job_id,
        kind=request.kind,
        issued_from=request.issued_from,
        issued_to=request.issued_to,
        batch_size=request.batch_size,
        include_exported=request.include_exported,
        requested_by=requested_by,
        notice_count=len(notice_ids),
        batch_count=len(batches),
    )
    session.add(job)
    for batch_no, members in enumerate(batches, start=1):
        pdf_name, manifest_name = file_names(request.kind, job_id, batch_no)
        session.add(
            NoticeExportBatch(
                job_id=job_id,
                batch_no=batch_no,
                pdf_name=pdf_name,
                manifest_name=manifest_name,
                notice_count=len(members),
            )
        )
    await session.flush()
    items = [
        {"job_id": job_id, "notice_id": notice_id, "batch_no": batch_no, "position": position}
        for batch_no, members in enumerate(batches, start=1)
        for position, notice_id in enumerate(members, start=1)
    ]
    for start in range(0, len(items), _INSERT_CHUNK):
        await session.exec(insert(NoticeExportItem).values(items[start : start + _INSERT_CHUNK]))  # type: ignore[call-overload]
    return job


# ------------------------------------------------------------------------------------------- reading


async def get_job(*, session: AsyncSession, job_id: str) -> NoticeExport:
    job = await session.get(NoticeExport, job_id)
    if job is None:
        raise not_found(job_id)
    return job


async def batches_of(*, session: AsyncSession, job_id: str) -> list[NoticeExportBatch]:
    rows = await session.exec(
        select(NoticeExportBatch)
        .where(NoticeExportBatch.job_id == job_id)
        .order_by(col(NoticeExportBatch.batch_no))
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def load_rows(*, session: AsyncSession, job_id: str, batch_no: int, with_pdf: bool) -> list[ExportRow]:
    columns = [
        col(NoticeRecord.id),
        col(NoticeRecord.document_no),
        col(NoticeRecord.insured_no),
        col(NoticeRecord.postal_code),
        col(NoticeRecord.recipient_atena_no),
        col(NoticePdf.pages),
        col(NoticePdf.sha256),
        col(NoticePdf.pdf) if with_pdf else sa.null(),
    ]
    result = await session.exec(
        sa.select(*columns)  # type: ignore[call-overload]
        .join(NoticeExportItem, col(NoticeExportItem.notice_id) == col(NoticeRecord.id))
        .join(NoticePdf, col(NoticePdf.notice_id) == col(NoticeRecord.id))
        .where(col(NoticeExportItem.job_id) == job_id, col(NoticeExportItem.batch_no) == batch_no)
        .order_by(col(NoticeExportItem.position))
    )
    return [ExportRow(*row) for row in result.all()]


def public(job: NoticeExport, batches: Sequence[NoticeExportBatch]) -> NoticeExportPublic:
    return NoticeExportPublic(
        **job.model_dump(),
        batches=[
            ExportBatchPublic(
                batch_no=b.batch_no,
                notice_count=b.notice_count,
                pages=b.pages,
                done=b.done_at is not None,
                files=[
                    ExportFile(name=b.pdf_name, media_type=PDF_TYPE, sha256=b.pdf_sha256),
                    ExportFile(name=b.manifest_name, media_type=CSV_TYPE, sha256=b.manifest_sha256),
                ],
            )
            for b in batches
        ],
    )


# ------------------------------------------------------------------------------------------- building


def page_ranges(rows: Sequence[ExportRow]) -> list[str]:
    """Each notice's pages in the merged PDF, "1-2" style (also for one page: "3-3")."""
    ranges, first = [], 1
    for row in rows:
        last = first + row.pages - 1
        ranges.append(f"{first}-{last}")
        first = last + 1
    return ranges


def manifest_csv(rows: Sequence[ExportRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row, pages in zip(rows, page_ranges(rows), strict=True):
        writer.writerow((row.document_no, row.insured_no, pages, row.postal_code))
    return out.getvalue().encode(MANIFEST_ENCODING)


def merge_pdfs(rows: Sequence[ExportRow], on_notice: OnNotice | None = None) -> bytes:
    """The stored PDFs, back to back. Each one is checked against its recorded SHA-256 first."""
    writer = PdfWriter()
    for row in rows:
        if row.pdf is None or hashlib.sha256(row.pdf).hexdigest() != row.sha256:
            raise ProblemError(
                500,
                "notice-integrity",
                f"通知書 {row.document_no} の保存データが発行時の SHA-256 と一致しません。出力を中止しました",
            )
        writer.append(PdfReader(io.BytesIO(row.pdf)), import_outline=False)
        if on_notice is not None:
            on_notice()
    expected = sum(row.pages for row in rows)
    if len(writer.pages) != expected:  # the manifest's page ranges would be wrong
        raise ProblemError(
            500,
            "export-pages",
            f"結合後の頁数 ({len(writer.pages)}) が通知書の頁数の合計 ({expected}) と違います",
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_batch(rows: Sequence[ExportRow], on_notice: OnNotice | None = None) -> BuiltBatch:
    pdf = merge_pdfs(rows, on_notice) if rows and rows[0].pdf is not None else None
    return BuiltBatch(manifest=manifest_csv(rows), pdf=pdf)


# ----------------------------------------------------------------------------------------- producing


Writer = Callable[[str, bytes], None]


def _notice_notes(action: str, job_id: str, file: str, rows: Sequence[ExportRow]) -> list[AuditNote]:
    return [
        AuditNote(
            action,
            row.recipient_atena_no,
            {"job_id": job_id, "file": file, "notice_id": row.notice_id, "document_no": row.document_no},
        )
        for row in rows
    ]


async def _locked_batch(session: AsyncSession, job_id: str, batch_no: int) -> NoticeExportBatch:
    batch = (
        await session.exec(
            select(NoticeExportBatch)
            .where(NoticeExportBatch.job_id == job_id, NoticeExportBatch.batch_no == batch_no)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    return batch


async def _rows_complete(session: AsyncSession, batch: NoticeExportBatch, with_pdf: bool) -> list[ExportRow]:
    rows = await load_rows(session=session, job_id=batch.job_id, batch_no=batch.batch_no, with_pdf=with_pdf)
    if len(rows) != batch.notice_count:
        raise ProblemError(
            410,
            "export-purged",
            f"{batch.pdf_name} の通知書の一部が保存期間経過により消去されているため、再出力できません",
        )
    return rows


async def export_batch(
    *,
    session: AsyncSession,
    job: NoticeExport,
    batch_no: int,
    write: Writer | None = None,
    on_notice: OnNotice | None = None,
) -> list[AuditNote]:
    """Produce one batch and mark it done (in the caller's transaction); a done batch is left alone.

    The batch row is locked first, so two processes resuming the same job never both produce it.
    """
    batch = await _locked_batch(session, job.id, batch_no)
    if batch.done_at is not None:
        return []
    return await _produce(session, job, batch, write, on_notice)


async def _produce(
    session: AsyncSession,
    job: NoticeExport,
    batch: NoticeExportBatch,
    write: Writer | None,
    on_notice: OnNotice | None,
) -> list[AuditNote]:
    rows = await _rows_complete(session, batch, with_pdf=True)
    built = await asyncio.to_thread(build_batch, rows, on_notice)  # CPU work off the event loop
    assert built.pdf is not None
    if write is not None:  # files first: if the commit then fails, the rerun writes the same bytes again
        write(batch.pdf_name, built.pdf)
        write(batch.manifest_name, built.manifest)
    batch.pages = sum(row.pages for row in rows)
    batch.pdf_sha256, batch.manifest_sha256 = built.pdf_sha256, built.manifest_sha256
    batch.done_at = utcnow()
    session.add(batch)
    await session.flush()
    notes = [*_notice_notes("notice.export", job.id, batch.pdf_name, rows), _batch_note(job, batch)]
    return notes + await _finish_if_complete(session, job)


def _batch_note(job: NoticeExport, batch: NoticeExportBatch) -> AuditNote:
    return AuditNote(
        "notice.export.batch",
        None,
        {
            "job_id": job.id,
            "batch_no": batch.batch_no,
            "notices": batch.notice_count,
            "pages": batch.pages,
            "files": {batch.pdf_name: batch.pdf_sha256, batch.manifest_name: batch.manifest_sha256},
        },
    )


async def _finish_if_complete(session: AsyncSession, job: NoticeExport) -> list[AuditNote]:
    batches = await batches_of(session=session, job_id=job.id)
    if job.finished_at is not None or any(b.done_at is None for b in batches):
        return []
    job.finished_at = utcnow()
    session.add(job)
    await session.flush()
    files = {
        name: sha
        for b in batches
        for name, sha in ((b.pdf_name, b.pdf_sha256), (b.manifest_name, b.manifest_sha256))
    }
    detail = {"job_id": job.id, "kind": job.kind, "notices": job.notice_count, "files": files}
    return [AuditNote("notice.export.job", None, detail)]


async def rebuild_file(
    *, session: AsyncSession, job_id: str, name: str
) -> tuple[bytes, str, list[AuditNote]]:
    """A done batch's PDF or manifest, rebuilt and checked against the hash recorded when it was made."""
    job = await get_job(session=session, job_id=job_id)
    batch = next(
        (
            b
            for b in await batches_of(session=session, job_id=job_id)
            if name in (b.pdf_name, b.manifest_name)
        ),
        None,
    )
    if batch is None:
        raise ProblemError(
            404, "export-file-not-found", f"ファイル {name} はこの一括出力にありません", field="file_name"
        )
    if batch.done_at is None:
        raise ProblemError(
            409, "export-batch-pending", f"{name} はまだ作成されていません。出力を再開してください"
        )
    is_pdf = name == batch.pdf_name
    rows = await _rows_complete(session, batch, with_pdf=is_pdf)
    built = await asyncio.to_thread(build_batch, rows)
    content, recorded = (built.pdf, batch.pdf_sha256) if is_pdf else (built.manifest, batch.manifest_sha256)
    assert content is not None
    if hashlib.sha256(content).hexdigest() != recorded:
        raise ProblemError(
            409,
            "export-hash-mismatch",
            f"{name} を再作成しましたが、出力時の SHA-256 と一致しません (ライブラリの更新など)。"
            "新しい一括出力を作成してください",
        )
    notes = _notice_notes("notice.export.download", job.id, name, rows)
    return content, PDF_TYPE if is_pdf else CSV_TYPE, notes


# ------------------------------------------------------------------------------------- to a directory


@dataclass
class RunReport:
    job: NoticeExport
    exported: list[int] = field(default_factory=list)  # batches produced by this run
    skipped: list[int] = field(default_factory=list)  # done before, files present and intact
    rewritten: list[int] = field(default_factory=list)  # done before, files missing here: rebuilt
    batches: list[NoticeExportBatch] = field(default_factory=list)


def write_atomically(out_dir: Path) -> Writer:
    """Write via a temporary name and rename, so a half-written file never carries a final name."""

    def write(name: str, content: bytes) -> None:
        target = out_dir / name
        part = out_dir / f".{name}.part"
        with part.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, target)

    return write


def _intact(out_dir: Path, name: str, sha256: str | None) -> bool:
    path = out_dir / name
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def to_entries(notes: Sequence[AuditNote], *, actor: str, resource: str) -> list[AuditEntry]:
    return [
        AuditEntry(
            actor=actor,
            action=n.action,
            outcome="success",
            resource=resource,
            subject_atena_no=n.subject,
            detail=n.detail,
        )
        for n in notes
    ]


async def _rewrite(
    session: AsyncSession, batch: NoticeExportBatch, write: Writer, on_notice: OnNotice | None
) -> list[AuditNote]:
    """A done batch whose files are not in this directory: rebuild them (same bytes) and write them."""
    rows = await _rows_complete(session, batch, with_pdf=True)
    built = await asyncio.to_thread(build_batch, rows, on_notice)
    if (built.pdf_sha256, built.manifest_sha256) != (batch.pdf_sha256, batch.manifest_sha256):
        raise ProblemError(
            409,
            "export-hash-mismatch",
            f"{batch.pdf_name} を再作成しましたが、出力時の SHA-256 と一致しません",
        )
    assert built.pdf is not None
    write(batch.pdf_name, built.pdf)
    write(batch.manifest_name, built.manifest)
    return _notice_notes("notice.export.rewrite", batch.job_id, batch.pdf_name, rows)


async def run_to_directory(
    sessions: async_sessionmaker[AsyncSession],
    *,
    job_id: str,
    out_dir: Path,
    actor: str,
    resource: str = "kaigo notices export",
    on_notice: OnNotice | None = None,
    on_skip: Callable[[int], None] | None = None,
) -> RunReport:
    """Produce every batch not yet done into `out_dir`, one transaction (with its audit rows) per batch."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write = write_atomically(out_dir)
    async with sessions() as session:
        job = await get_job(session=session, job_id=job_id)
        planned = await batches_of(session=session, job_id=job_id)
    report = RunReport(job=job)
    for planned_batch in planned:
        async with sessions() as session, session.begin():
            job = await get_job(session=session, job_id=job_id)
            batch = await _locked_batch(session, job_id, planned_batch.batch_no)
            if batch.done_at is None:
                notes = await _produce(session, job, batch, write, on_notice)
                report.exported.append(batch.batch_no)
            elif _intact(out_dir, batch.pdf_name, batch.pdf_sha256) and _intact(
                out_dir, batch.manifest_name, batch.manifest_sha256
            ):
                notes = []
                report.skipped.append(batch.batch_no)
                if on_skip is not None:
                    on_skip(batch.notice_count)
            else:
                notes = await _rewrite(session, batch, write, on_notice)
                report.rewritten.append(batch.batch_no)
            await audit.append(session, to_entries(notes, actor=actor, resource=resource))
            report.job = job
    async with sessions() as session:
        report.batches = await batches_of(session=session, job_id=job_id)
    return report
