"""Issued notices: list, metadata, the stored PDF (the record), an HTML preview, corrections, and the bulk
print export for the print contractor.

Every read is audited with the recipient's 宛名番号 (a list: one row per recipient on the page). The PDF is
served from the stored bytes, so a reprint is byte-identical; the HTML is re-rendered from the stored data
and is only a preview. A notice is numbered before its PDF is rendered: until the PDF is stored it is 作成中
(409 for its PDF), and a number that could never print is a 欠番 (410), listed with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Query, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import AuditDep, Principal, check_subject_access, require
from api.deps import PageDep, ResourcesDep, SessionDep
from api.params import AtenaNoQuery, InsuredNoQuery
from kaigo.errors import ProblemError
from models.common import Page, today_in_japan
from models.notice import NoticePdf, NoticePublic, NoticeRecord, NoticeVoid
from models.permissions import Permission
from models.print_export import NoticeExportCreate, NoticeExportPublic
from notices.catalogue import CATALOGUE, NoticeDataError, validate_data
from notices.models.common import Issuer
from notices.render import UnprintableCharacterError, render_html, template_version
from services import notices, print_export

router = APIRouter(tags=["notices"])

NoticeReader = Annotated[Principal, require(Permission.NOTICE_READ)]
NoticeIssuer = Annotated[Principal, require(Permission.NOTICE_ISSUE)]
NoticeExporter = Annotated[Principal, require(Permission.NOTICE_EXPORT)]
NoticeIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="通知書ID")]
ExportIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="一括出力ID")]
FileNamePath = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,48}-[0-9a-f]{8}-[0-9]{3,}\.(pdf|csv)$")]

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")
# Set by the service from the issue itself; a correction names only the kind's own fields.
_ASSIGNED_FIELDS = ("recipient", "document_no", "issue_date")
# The preview is our own escaped HTML; still, a staff browser should run nothing and fetch nothing.
_PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"


class NoticeCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(
        description="訂正後の通知内容 (種類ごとの項目; 宛先・文書番号・発行日を除く)"
    )
    reason: str = Field(min_length=1, max_length=400, description="訂正の理由 (操作記録に残る)")


async def _public(session: AsyncSession, record: NoticeRecord) -> NoticePublic:
    (view,) = await notices.describe(session, [record])
    return view


def _not_found(notice_id: str) -> ProblemError:
    return ProblemError(404, "notice-not-found", f"通知書 {notice_id} は見つかりません", field="notice_id")


async def _load(
    session: AsyncSession,
    notice_id: str,
    principal: Principal,
    resources: ResourcesDep,
    audit: AuditDep,
) -> NoticeRecord:
    record = await session.get(NoticeRecord, notice_id)
    if record is None:
        raise _not_found(notice_id)
    await check_subject_access(
        principal=principal,
        permission=Permission.NOTICE_READ,
        atena_no=record.recipient_atena_no,
        resources=resources,
        trail=audit,
    )
    return record


def _read_detail(record: NoticeRecord) -> dict[str, str]:
    return {"notice_id": record.id, "document_no": record.document_no}


# ------------------------------------------------------------------------------------------------ reads


@router.get("/notices", summary="通知書を検索する (ケース・宛名番号・被保険者番号)")
async def search_notices(
    _: NoticeReader,
    session: SessionDep,
    audit: AuditDep,
    paging: PageDep,
    case_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="ケースID")] = None,
    atena_no: AtenaNoQuery = None,
    insured_no: InsuredNoQuery = None,
    kind: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,48}$", description="通知書の種類")] = None,
) -> Page[NoticePublic]:
    conditions: list[sa.ColumnElement[bool]] = []
    if case_id:
        conditions.append(col(NoticeRecord.case_id) == case_id)
    if atena_no:
        conditions.append(col(NoticeRecord.recipient_atena_no) == atena_no)
    if insured_no:
        conditions.append(col(NoticeRecord.insured_no) == insured_no)
    if not conditions:  # never a list of every notice of the city
        raise ProblemError(
            422,
            "search-criteria",
            "case_id・atena_no・insured_no のいずれかを指定してください",
            field="case_id",
        )
    if kind is not None:
        if kind not in CATALOGUE:
            raise ProblemError(422, "notice-kind", "通知書の種類が正しくありません", field="kind")
        conditions.append(col(NoticeRecord.kind) == kind)
    total = (await session.exec(select(sa.func.count()).select_from(NoticeRecord).where(*conditions))).one()
    rows = (
        await session.exec(
            select(NoticeRecord)
            .where(*conditions)
            .order_by(col(NoticeRecord.issued_on).desc(), col(NoticeRecord.created_at).desc())
            .offset(paging.offset)
            .limit(paging.size)
        )
    ).all()
    by_recipient: dict[str, list[str]] = {}
    for record in rows:
        by_recipient.setdefault(record.recipient_atena_no, []).append(record.id)
    for atena, ids in by_recipient.items():
        audit.record("notice.search", subject=atena, detail={"notice_ids": ids})
    return Page[NoticePublic](
        items=await notices.describe(session, list(rows)), total=total, page=paging.page, size=paging.size
    )


@router.get("/notices/{notice_id}", summary="通知書の発行記録 (文書番号・ハッシュ・訂正元)")
async def get_notice(
    notice_id: NoticeIdPath,
    principal: NoticeReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> NoticePublic:
    record = await _load(session, notice_id, principal, resources, audit)
    audit.record("notice.read", subject=record.recipient_atena_no, detail=_read_detail(record))
    return await _public(session, record)


def _content_disposition(record: NoticeRecord) -> str:
    """The 文書番号 as the name (RFC 5987 filename*), and an ASCII name built from the same parts for
    clients that cannot read filename* (年度, kind, 号)."""
    ascii_name = f"notice-{record.fiscal_year}-{record.kind}-{record.sequence}.pdf"
    utf8_name = quote(f"{record.document_no}.pdf", safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"


async def _no_pdf(session: AsyncSession, record: NoticeRecord) -> ProblemError:
    void = await session.get(NoticeVoid, record.id)
    if void is not None:
        return ProblemError(
            410,
            "notice-void",
            f"{record.document_no} は欠番です (作成できなかったため): {void.detail}",
            field="notice_id",
        )
    return ProblemError(
        409,
        "notice-rendering",
        f"{record.document_no} は作成中です。しばらくしてから再度取得してください",
        field="notice_id",
        headers={"Retry-After": "5"},
    )


@router.get(
    "/notices/{notice_id}/pdf",
    summary="通知書の PDF (発行時と同一のバイト列; 再印刷用)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def notice_pdf(
    notice_id: NoticeIdPath,
    principal: NoticeReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> Response:
    record = await _load(session, notice_id, principal, resources, audit)
    stored = await session.get(NoticePdf, record.id)
    if stored is None:
        raise await _no_pdf(session, record)
    audit.record("notice.pdf", subject=record.recipient_atena_no, detail=_read_detail(record))
    digest = base64.b64encode(bytes.fromhex(stored.sha256)).decode()
    return Response(
        stored.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": _content_disposition(record),
            "ETag": f'"{stored.sha256}"',
            "Repr-Digest": f"sha-256=:{digest}:",  # RFC 9530
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/notices/{notice_id}/html",
    summary="通知書の HTML プレビュー (保存データから再表示; 正本は PDF)",
    response_class=HTMLResponse,
)
async def notice_html(
    notice_id: NoticeIdPath,
    principal: NoticeReader,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
) -> HTMLResponse:
    record = await _load(session, notice_id, principal, resources, audit)
    # The issuer lines as issued (today's settings only for notices from before they were kept), through
    # today's templates: the preview can differ from the issued PDF, and says so below.
    issuer = record.issuer or Issuer.from_settings(resources.settings).model_dump()
    try:
        html = render_html(record.kind, record.data, issuer)
    except NoticeDataError:
        raise ProblemError(
            409,
            "notice-preview-unavailable",
            "この通知書は現在の様式では HTML 表示できません。PDF (正本) を参照してください",
            field="notice_id",
        ) from None
    audit.record("notice.preview", subject=record.recipient_atena_no, detail=_read_detail(record))
    stored = (
        await session.exec(select(NoticePdf.template_version).where(NoticePdf.notice_id == record.id))
    ).first()
    same_template = template_version(record.kind) == (stored or record.template_version)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _PREVIEW_CSP,
            "Cache-Control": "private, no-store",
            "Kaigo-Template-Current": "?1" if same_template else "?0",
        },
    )


# ----------------------------------------------------------------------------------------- corrections


def _correction_key(header: str | None, notice_id: str, principal: Principal) -> str:
    if header is None:
        return f"correction:{notice_id}:{uuid.uuid4().hex}"
    if not _IDEMPOTENCY_KEY.fullmatch(header):
        raise ProblemError(
            400,
            "idempotency-key",
            "Idempotency-Key は英数字と ._:- の8〜100文字にしてください",
            field="Idempotency-Key",
        )
    return f"correction:{notice_id}:{principal.login_id}:{header}"  # a key is private to its sender


def _check_fields(data: dict[str, Any]) -> None:
    for name in _ASSIGNED_FIELDS:
        if name in data:
            raise ProblemError(
                422,
                "notice-data",
                "宛先・文書番号・発行日は訂正できません (宛名の変更は宛名の登録で行います)",
                field=f"data.{name}",
            )


def _data_problem(error: NoticeDataError) -> ProblemError:
    errors = [{"field": f"data.{name}", "message": message} for name, message in error.errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ProblemError(422, "notice-data", detail, extra={"errors": errors})


def _same_content(existing: NoticeRecord, data: dict[str, Any]) -> bool:
    assigned = {name: existing.data[name] for name in _ASSIGNED_FIELDS}
    try:
        return validate_data(existing.kind, {**data, **assigned}).model_dump(mode="json") == existing.data
    except NoticeDataError:
        return False


@router.post(
    "/notices/{notice_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    summary="訂正通知書を発行する (元の通知書は変更しない; Idempotency-Key 対応)",
    response_model=NoticePublic,
)
async def correct_notice(
    notice_id: NoticeIdPath,
    correction: NoticeCorrection,
    principal: NoticeIssuer,
    session: SessionDep,
    resources: ResourcesDep,
    audit: AuditDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    key = _correction_key(idempotency_key, notice_id, principal)
    _check_fields(correction.data)
    original = await session.get(NoticeRecord, notice_id)
    if original is None:
        raise _not_found(notice_id)
    replacement = await notices.replacement_of(session, notice_id)
    if replacement is not None:
        if replacement.idempotency_key != key:
            raise _already_corrected(replacement.id, replacement.document_no)
        if not _same_content(replacement, correction.data):
            raise ProblemError(
                422,
                "idempotency-mismatch",
                "この Idempotency-Key は別の内容の要求で使われています",
                field="Idempotency-Key",
            )
    # The number is taken and the PDF stored in transactions of their own (services.notices), so a retry
    # with the same key completes a correction an earlier attempt numbered but did not finish.
    finished_before = replacement is not None and await session.get(NoticePdf, replacement.id) is not None
    try:
        issued = await notices.issue(
            resources.sessions,
            idempotency_key=key,
            kind=original.kind,
            recipient_atena_no=original.recipient_atena_no,
            issued_on=today_in_japan(),
            data=correction.data,
            issuer=Issuer.from_settings(resources.settings),
            issued_by=principal.login_id,
            case_id=original.case_id,
            replaces_id=original.id,
        )
    except NoticeDataError as error:
        raise _data_problem(error) from None
    except UnprintableCharacterError as error:
        raise ProblemError(
            422, "notice-unprintable", f"{error} (文書番号は使っていません)", field="data"
        ) from None
    except notices.NoticeAlreadyCorrected as error:  # another corrector got there first
        raise _already_corrected(error.replacement_id, error.document_no) from None
    except notices.NoticeVoided as error:
        raise ProblemError(
            422, "notice-void", str(error), field="data", extra={"notice_id": error.record.id}
        ) from None
    record = issued.record
    if not finished_before:
        audit.record(
            "notice.correct",
            subject=record.recipient_atena_no,
            detail={
                "notice_id": record.id,
                "document_no": record.document_no,
                "replaces_id": original.id,
                "replaces_document_no": original.document_no,
                "reason": correction.reason,
            },
        )
    body = (await _public(session, record)).model_dump(mode="json")
    if replacement is not None:
        return JSONResponse(body, status_code=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(
        body, status_code=status.HTTP_201_CREATED, headers={"Location": f"/notices/{record.id}"}
    )


def _already_corrected(replacement_id: str, document_no: str) -> ProblemError:
    return ProblemError(
        409,
        "notice-already-corrected",
        f"この通知書は既に訂正されています (訂正通知書 {document_no})。訂正通知書の方を訂正してください",
        field="notice_id",
        extra={"replaced_by": replacement_id},
    )


# ---------------------------------------------------------------------------------- bulk print export


def _record_notes(audit: AuditDep, notes: list[print_export.AuditNote]) -> None:
    for note in notes:
        audit.record(note.action, subject=note.subject, detail=note.detail)


@router.post(
    "/notice-exports",
    status_code=status.HTTP_201_CREATED,
    summary=f"印刷委託用に通知書を一括出力する (PDF と明細 CSV; {print_export.API_INLINE_LIMIT:,}件まで)",
)
async def create_export(
    request: NoticeExportCreate,
    principal: NoticeExporter,
    session: SessionDep,
    audit: AuditDep,
) -> NoticeExportPublic:
    """Runs inside the request, batch after batch; larger runs belong to `kaigo notices export`."""
    job = await print_export.plan(
        session=session,
        request=request,
        requested_by=principal.login_id,
        limit=print_export.API_INLINE_LIMIT,
    )
    for batch_no in range(1, job.batch_count + 1):
        _record_notes(audit, await print_export.export_batch(session=session, job=job, batch_no=batch_no))
    return print_export.public(job, await print_export.batches_of(session=session, job_id=job.id))


@router.get("/notice-exports/{export_id}", summary="一括出力の状況とファイル (SHA-256)")
async def get_export(export_id: ExportIdPath, _: NoticeExporter, session: SessionDep) -> NoticeExportPublic:
    job = await print_export.get_job(session=session, job_id=export_id)
    return print_export.public(job, await print_export.batches_of(session=session, job_id=export_id))


@router.get(
    "/notice-exports/{export_id}/files/{file_name}",
    summary="一括出力のファイルを取得する (PDF または明細 CSV)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
async def get_export_file(
    export_id: ExportIdPath,
    file_name: FileNamePath,
    _: NoticeExporter,
    session: SessionDep,
    audit: AuditDep,
) -> Response:
    content, media_type, notes = await print_export.rebuild_file(
        session=session, job_id=export_id, name=file_name
    )
    _record_notes(audit, notes)
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
