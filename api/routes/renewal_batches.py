"""The day's print batches of renewal reminders (更新案内の日次一括出力): list them, see one, download its
files — the print files and manifests of its notices export, and its 発行一覧表 (CSV, PDF).

Served like the notices export's own files: the same permission (notice:export), every file rebuilt from
the stored notices and checked against the SHA-256 recorded when it was made, and each download audited
with one row per recipient listed in it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.auth import AuditDep, Principal, require
from api.deps import PageDep, SessionDep
from models.common import Page
from models.permissions import Permission
from models.renewal_batch import RenewalBatchPublic
from services import renewal_batch

router = APIRouter(tags=["notices"])

NoticeExporter = Annotated[Principal, require(Permission.NOTICE_EXPORT)]
DayPath = Annotated[date, Path(description="一括出力の日 (YYYY-MM-DD、日本時間)")]
BatchFileName = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9_]{1,48}-([0-9a-f]{8}-[0-9]{3,}|list-[0-9]{8})\.(pdf|csv)$",
        description="ファイル名 (印刷用 PDF・明細 CSV、または発行一覧表の CSV・PDF)",
    ),
]


@router.get("/renewal-batches", summary="更新案内の日次一括出力の一覧 (新しい日から)")
async def list_renewal_batches(
    _: NoticeExporter, session: SessionDep, page: PageDep
) -> Page[RenewalBatchPublic]:
    """One entry per day that had renewal reminders to print, newest first; a day with none has no entry."""
    batches, total = await renewal_batch.list_batches(session=session, offset=page.offset, limit=page.size)
    items = [await renewal_batch.public(session=session, batch=b) for b in batches]
    return Page(items=items, total=total, page=page.page, size=page.size)


@router.get("/renewal-batches/{day}", summary="更新案内の日次一括出力 (印刷ファイルと発行一覧表、SHA-256)")
async def get_renewal_batch(day: DayPath, _: NoticeExporter, session: SessionDep) -> RenewalBatchPublic:
    """The day's notices export (print PDFs and manifests per file) and its 発行一覧表, with SHA-256."""
    batch = await renewal_batch.get_batch(session=session, day=day)
    return await renewal_batch.public(session=session, batch=batch)


@router.get(
    "/renewal-batches/{day}/files/{file_name}",
    summary="更新案内の日次一括出力のファイルを取得する (印刷用 PDF・明細 CSV・発行一覧表)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
async def get_renewal_batch_file(
    day: DayPath,
    file_name: BatchFileName,
    _: NoticeExporter,
    session: SessionDep,
    audit: AuditDep,
) -> Response:
    """Rebuilt from the stored notices and checked against the SHA-256 recorded when it was made (409 if it
    differs; 410 once the retention purge removed a listed person). Audited: one row per listed notice."""
    content, media_type, notes = await renewal_batch.rebuild_file(session=session, day=day, name=file_name)
    for note in notes:
        audit.record(note.action, subject=note.subject, detail=note.detail)
    sha256 = hashlib.sha256(content).hexdigest()
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file_name}"',
            "ETag": f'"{sha256}"',
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:",
            "Cache-Control": "private, no-store",
        },
    )
