"""Importing a previous system's certifications (移行): the file is checked as a whole and taken or refused
as a whole; a taken file asks the renewal reconciliation to start the terms now (after the commit)."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, status

from api.auth import AuditDep, Principal, require
from api.deps import ResourcesDep
from kaigo.errors import ProblemError
from kaigo.security.audit import AuditEntry, Outcome
from models.certification_import import EXAMPLE_CSV, ImportChannel, ImportReport
from models.common import today_in_japan
from models.permissions import Permission
from services import certification_import as importer

router = APIRouter(tags=["certification"])

Importer = Annotated[Principal, require(Permission.CERTIFICATION_IMPORT)]


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return None


@router.post(
    "/certification-imports",
    status_code=status.HTTP_201_CREATED,
    summary="前のシステムの認定を CSV で取り込む (行ごとに検証; 1行でも誤りがあれば何も登録しない)",
    description=(
        "見出し行: 被保険者番号, 要介護状態区分, 有効期間開始日, 有効期間終了日, 認定日 (必須)、"
        "サービス利用 (任意: 有/無)。文字コードは UTF-8 (BOM 可) または Shift_JIS (CP932) を見出し行から"
        "判別します (Content-Type の charset で指定も可)。同じファイルの再取り込みは何も追加しません。"
        "誤りがあれば 422 で全ての誤り (行・列・内容) を返します。"
    ),
    responses={422: {"description": "ファイルの誤り: issues に行番号・列名・内容"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "examples": {"walkthrough": {"summary": "記入例 (架空)", "value": EXAMPLE_CSV}},
                }
            },
        }
    },
)
async def import_certifications(
    request: Request,
    principal: Importer,
    resources: ResourcesDep,
    audit: AuditDep,
    content_type: Annotated[str | None, Header()] = None,
) -> ImportReport:
    if not (content_type or "").startswith("text/csv"):
        raise ProblemError(415, "csv-required", "Content-Type: text/csv で認定の CSV を送ってください")

    def entry(outcome: Outcome, detail: dict[str, Any]) -> AuditEntry:
        return audit.entry("certification.import", outcome=outcome, detail=detail)

    try:
        import_id, counts = await importer.import_file(
            resources.sessions,
            io.BytesIO(await request.body()),
            encoding=_charset(content_type or ""),
            key=resources.cipher.blind_index,
            actor=principal.login_id,
            channel=ImportChannel.API,
            audit_entry=entry,
            today=today_in_japan(),
        )
    except importer.CertificationCsvError as error:
        listed = [{"line": i.line, "column": i.column, "message": i.message} for i in error.issues]
        raise ProblemError(
            422,
            "certification-csv",
            f"認定の CSV に誤りが {len(error.issues)} 件あります。何も登録していません ({error.issues[0]})",
            field="csv",
            extra={"issues": listed},
        ) from None
    started = await importer.trigger_reconciliation(resources.temporal)
    return ImportReport(
        import_id=import_id,
        rows=counts.rows,
        added=counts.added,
        already=counts.already,
        reconciliation_started=started,
        message=importer.summary(counts.added, counts.already, started),
    )
