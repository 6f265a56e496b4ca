"""The day's print batch of renewal reminders: one notices export per day, with its 発行一覧表.

Planning reuses the notices export (services/print_export.plan): the reminders issued up to that day and in
no export yet, sorted and cut into print files. Notices issued after a day's batch was planned, or still
作成中 then, are simply not in any export, so the next day's batch takes them. The day is the key of
`renewal_batch` and planning takes a per-day lock first: a re-run of a day finds its batch and adds nothing,
and a day with nothing to print leaves no row at all.

Producing reuses print_export.export_batch (one transaction per print file, audited); then the issue list
is built and its hashes recorded. Like the export's files, the list is rebuilt from the stored notices on
download and must match its recorded SHA-256 byte for byte. It lives as long as the notices it lists: a
person removed by the retention purge takes their notices (and so their rows) with them, and a list that
can no longer be rebuilt whole answers 410, as the export's own files do.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from kaigo.security import audit
from models.common import utcnow
from models.notice import NoticePdf, NoticeRecord
from models.print_export import ExportFile, NoticeExportBatch, NoticeExportCreate, NoticeExportItem
from models.renewal_batch import (
    REMINDER_KIND,
    DayPlan,
    RenewalBatch,
    RenewalBatchPolicy,
    RenewalBatchPublic,
    RenewalBatchResult,
)
from notices.render import environment, render_pdf
from rules.wareki import to_wareki
from services import print_export
from services.print_export import CSV_TYPE, MANIFEST_ENCODING, PDF_TYPE, AuditNote

ACTOR = "system:renewal-batch"
RESOURCE = "renewal batch"
# The first day a reminder could have been issued (介護保険法の施行日): "every reminder not yet printed".
EARLIEST_ISSUE = date(2000, 4, 1)
LIST_COLUMNS = (
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
)
LIST_TEMPLATE = "internal/issue_list.html"
_DAY_LOCK = 0x72656E62  # "renb": one planner per day at a time


def list_names(day: date) -> tuple[str, str]:
    stem = f"{REMINDER_KIND}-list-{day:%Y%m%d}"
    return f"{stem}.csv", f"{stem}.pdf"


def not_found(day: date) -> ProblemError:
    return ProblemError(
        404, "renewal-batch-not-found", f"{day} の更新案内の一括出力はありません", field="day"
    )


# -------------------------------------------------------------------------------------------- planning


async def plan_day(*, session: AsyncSession, day: date, policy: RenewalBatchPolicy) -> DayPlan:
    """The day's batch: found if it exists, else planned from the reminders not yet exported (in the
    caller's transaction, with its audit row). No reminders: no batch."""
    await session.exec(  # type: ignore[call-overload]
        sa.text("SELECT pg_advisory_xact_lock(:key, :day)").bindparams(key=_DAY_LOCK, day=day.toordinal())
    )
    existing = await session.get(RenewalBatch, day)
    if existing is not None:
        return DayPlan(day=day, export_id=existing.export_id, created=False)
    request = NoticeExportCreate(
        kind=REMINDER_KIND, issued_from=EARLIEST_ISSUE, issued_to=day, batch_size=policy.batch_size
    )
    try:
        job = await print_export.plan(session=session, request=request, requested_by=ACTOR)
    except ProblemError as error:
        if error.code == "no-notices":
            return DayPlan(day=day, export_id=None, created=False)
        raise
    csv_name, pdf_name = list_names(day)
    session.add(
        RenewalBatch(
            day=day,
            export_id=job.id,
            notice_count=job.notice_count,
            list_csv_name=csv_name,
            list_pdf_name=pdf_name,
        )
    )
    await session.flush()
    note = AuditNote(
        "notice.export.plan",
        None,
        {"job_id": job.id, "kind": REMINDER_KIND, "day": day.isoformat(), "notices": job.notice_count},
    )
    await audit.append(session, print_export.to_entries([note], actor=ACTOR, resource=RESOURCE))
    return DayPlan(day=day, export_id=job.id, created=True)


# ------------------------------------------------------------------------------------------ issue list


@dataclass(frozen=True)
class ListRow:
    notice_id: str
    recipient_atena_no: str
    document_no: str
    insured_no: str
    name: str
    postal_code: str
    address: str
    issued_on: date
    second_notice: bool
    file: str
    pages: str  # "1-2" in the print file


async def list_rows(*, session: AsyncSession, batch: RenewalBatch) -> list[ListRow]:
    """The batch's notices in print order, with the addressee exactly as each notice recorded it."""
    result = await session.exec(
        sa.select(  # type: ignore[call-overload]
            col(NoticeRecord.id),
            col(NoticeRecord.recipient_atena_no),
            col(NoticeRecord.document_no),
            col(NoticeRecord.insured_no),
            col(NoticeRecord.issued_on),
            col(NoticeRecord.data),
            col(NoticePdf.pages),
            col(NoticeExportBatch.pdf_name),
            col(NoticeExportItem.batch_no),
        )
        .join(NoticeExportItem, col(NoticeExportItem.notice_id) == col(NoticeRecord.id))
        .join(NoticePdf, col(NoticePdf.notice_id) == col(NoticeRecord.id))
        .join(
            NoticeExportBatch,
            sa.and_(
                col(NoticeExportBatch.job_id) == col(NoticeExportItem.job_id),
                col(NoticeExportBatch.batch_no) == col(NoticeExportItem.batch_no),
            ),
        )
        .where(col(NoticeExportItem.job_id) == batch.export_id)
        .order_by(col(NoticeExportItem.batch_no), col(NoticeExportItem.position))
    )
    rows: list[ListRow] = []
    first_page, current_batch = 1, 0
    for notice_id, atena_no, document_no, insured_no, issued_on, data, pages, file, batch_no in result.all():
        if batch_no != current_batch:  # page numbers start again in each print file
            first_page, current_batch = 1, batch_no
        recipient: dict[str, Any] = data["recipient"]
        address = " ".join(p for p in (recipient["address"], recipient.get("address_extra")) if p)
        rows.append(
            ListRow(
                notice_id=notice_id,
                recipient_atena_no=atena_no,
                document_no=document_no,
                insured_no=insured_no,
                name=recipient["name"],
                postal_code=recipient["postal_code"],
                address=address,
                issued_on=issued_on,
                second_notice=bool(data.get("second_notice")),
                file=file,
                pages=f"{first_page}-{first_page + pages - 1}",
            )
        )
        first_page += pages
    if len(rows) != batch.notice_count:
        raise ProblemError(
            410,
            "export-purged",
            f"{batch.day} の発行一覧表の通知書の一部が保存期間経過により消去されているため、再作成できません",
        )
    return rows


def _kind_label(row: ListRow) -> str:
    return "更新案内 (再)" if row.second_notice else "更新案内"


def _postal(code: str) -> str:
    return f"{code[:3]}-{code[3:]}"


def list_csv(rows: list[ListRow]) -> bytes:
    """UTF-8 with a BOM (Excel opens it as UTF-8), CRLF line ends, one row per notice in print order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LIST_COLUMNS)
    for no, row in enumerate(rows, start=1):
        writer.writerow(
            (
                no,
                row.document_no,
                row.insured_no,
                row.name,
                _postal(row.postal_code),
                row.address,
                row.issued_on.isoformat(),
                _kind_label(row),
                row.file,
                row.pages,
            )
        )
    return out.getvalue().encode(MANIFEST_ENCODING)


def list_html(batch: RenewalBatch, rows: list[ListRow]) -> str:
    template = environment().get_template(LIST_TEMPLATE)
    return template.render(
        day=batch.day,
        export_id=batch.export_id,
        rows=[
            {
                "no": no,
                "document_no": row.document_no,
                "insured_no": row.insured_no,
                "name": row.name,
                "postal": _postal(row.postal_code),
                "address": row.address,
                "issued_on": to_wareki(row.issued_on),
                "kind": _kind_label(row),
                "file": row.file,
                "pages": row.pages,
            }
            for no, row in enumerate(rows, start=1)
        ],
    )


def list_pdf(batch: RenewalBatch, rows: list[ListRow]) -> bytes:
    """A4 landscape, 庁内限り; the same rows give the same bytes (notices.render is reproducible)."""
    return render_pdf(list_html(batch, rows))


def _list_notes(action: str, batch: RenewalBatch, file: str, rows: list[ListRow]) -> list[AuditNote]:
    return [
        AuditNote(
            action,
            row.recipient_atena_no,
            {
                "job_id": batch.export_id,
                "day": batch.day.isoformat(),
                "file": file,
                "notice_id": row.notice_id,
            },
        )
        for row in rows
    ]


# ------------------------------------------------------------------------------------------- producing


async def produce_day(sessions: async_sessionmaker[AsyncSession], *, day: date) -> RenewalBatchResult:
    """Make the day's print files and issue list; whatever is done already is left alone (a re-run)."""
    async with sessions() as session:
        batch = await session.get(RenewalBatch, day)
        if batch is None:
            return RenewalBatchResult(
                day=day, export_id=None, notice_count=0, created=False, produced_batches=[]
            )
        job = await print_export.get_job(session=session, job_id=batch.export_id)
    produced: list[int] = []
    for batch_no in range(1, job.batch_count + 1):
        async with sessions() as session, session.begin():
            job = await print_export.get_job(session=session, job_id=batch.export_id)
            notes = await print_export.export_batch(session=session, job=job, batch_no=batch_no)
            if notes:
                produced.append(batch_no)
            await audit.append(session, print_export.to_entries(notes, actor=ACTOR, resource=RESOURCE))
    async with sessions() as session, session.begin():
        locked = (
            await session.exec(
                select(RenewalBatch)
                .where(RenewalBatch.day == day)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).one()
        if locked.done_at is None:
            rows = await list_rows(session=session, batch=locked)
            csv_bytes = list_csv(rows)
            pdf_bytes = await asyncio.to_thread(list_pdf, locked, rows)
            locked.list_csv_sha256 = hashlib.sha256(csv_bytes).hexdigest()
            locked.list_pdf_sha256 = hashlib.sha256(pdf_bytes).hexdigest()
            locked.done_at = utcnow()
            session.add(locked)
            note = AuditNote(
                "notice.export.list",
                None,
                {
                    "job_id": locked.export_id,
                    "day": day.isoformat(),
                    "notices": len(rows),
                    "files": {
                        locked.list_csv_name: locked.list_csv_sha256,
                        locked.list_pdf_name: locked.list_pdf_sha256,
                    },
                },
            )
            await audit.append(session, print_export.to_entries([note], actor=ACTOR, resource=RESOURCE))
    return RenewalBatchResult(
        day=day,
        export_id=batch.export_id,
        notice_count=batch.notice_count,
        created=False,  # whether this run planned the batch is the planner's to say (the workflow's)
        produced_batches=produced,
    )


# --------------------------------------------------------------------------------------------- reading


async def get_batch(*, session: AsyncSession, day: date) -> RenewalBatch:
    batch = await session.get(RenewalBatch, day)
    if batch is None:
        raise not_found(day)
    return batch


async def list_batches(*, session: AsyncSession, offset: int, limit: int) -> tuple[list[RenewalBatch], int]:
    total = (await session.exec(select(sa.func.count()).select_from(RenewalBatch))).one()
    rows = await session.exec(
        select(RenewalBatch).order_by(col(RenewalBatch.day).desc()).offset(offset).limit(limit)
    )
    return list(rows.all()), int(total)


async def public(*, session: AsyncSession, batch: RenewalBatch) -> RenewalBatchPublic:
    job = await print_export.get_job(session=session, job_id=batch.export_id)
    export = print_export.public(job, await print_export.batches_of(session=session, job_id=job.id))
    return RenewalBatchPublic(
        day=batch.day,
        export_id=batch.export_id,
        notice_count=batch.notice_count,
        created_at=batch.created_at,
        done=batch.done_at is not None and job.finished_at is not None,
        issue_list=[
            ExportFile(name=batch.list_csv_name, media_type=CSV_TYPE, sha256=batch.list_csv_sha256),
            ExportFile(name=batch.list_pdf_name, media_type=PDF_TYPE, sha256=batch.list_pdf_sha256),
        ],
        export=export,
    )


async def rebuild_file(*, session: AsyncSession, day: date, name: str) -> tuple[bytes, str, list[AuditNote]]:
    """A file of the day's batch, rebuilt and checked against the hash recorded when it was made: a print
    file or manifest (the export's own), or the issue list."""
    batch = await get_batch(session=session, day=day)
    if name not in (batch.list_csv_name, batch.list_pdf_name):
        return await print_export.rebuild_file(session=session, job_id=batch.export_id, name=name)
    if batch.done_at is None:
        raise ProblemError(
            409, "export-batch-pending", f"{name} はまだ作成されていません。出力を再開してください"
        )
    rows = await list_rows(session=session, batch=batch)
    is_pdf = name == batch.list_pdf_name
    if is_pdf:
        content, recorded, media_type = (
            await asyncio.to_thread(list_pdf, batch, rows),
            batch.list_pdf_sha256,
            PDF_TYPE,
        )
    else:
        content, recorded, media_type = list_csv(rows), batch.list_csv_sha256, CSV_TYPE
    if hashlib.sha256(content).hexdigest() != recorded:
        raise ProblemError(
            409,
            "export-hash-mismatch",
            f"{name} を再作成しましたが、作成時の SHA-256 と一致しません (ライブラリの更新など)",
        )
    return content, media_type, _list_notes("notice.export.list.download", batch, name, rows)
