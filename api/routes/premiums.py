"""The premium ledger: 調定 registration and a person's ledger (給付制限担当), and payments posted by the
collection system's service account (premium:payment only) — one at a time or as the day's 消込 file.

Every posting is audited with its receipt number; a posting that is refused is audited too. The ledger is
committed first, then the person's open restriction case is told (no transaction held while Temporal is
called); a case that cannot be told now is told by the daily scan's reconciliation.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, status
from fastapi.responses import JSONResponse

from api.auth import AuditDep, AuditTrail, Principal, check_subject_access, require, write_now
from api.deps import Resources, ResourcesDep
from api.params import InsuredNoPath
from api.unit_of_work import transaction
from kaigo.errors import ProblemError
from models.alwaysj import CsvIssue
from models.common import today_in_japan
from models.permissions import Permission
from models.premium_csv import COLUMNS, PaymentCsvError, parse_payment_csv
from models.restriction import (
    AssessmentBatch,
    AssessmentsPosted,
    LedgerPublic,
    PaymentImported,
    PaymentIn,
    PaymentPublic,
    PremiumPayment,
)
from services import premiums
from services import restriction as cases_of_restriction

router = APIRouter(tags=["premiums"])

Manager = Annotated[Principal, require(Permission.RESTRICTION_MANAGE)]
Collector = Annotated[Principal, require(Permission.PREMIUM_PAYMENT)]

_ASSESSMENT_EXAMPLE = {
    "assessments": [
        {
            "insured_no": "0100000123",
            "fiscal_year": 2025,
            "period": 3,
            "due_on": "2025-09-30",
            "amount": 6200,
        },
        {
            "insured_no": "0100000123",
            "fiscal_year": 2025,
            "period": 4,
            "due_on": "2025-10-31",
            "amount": 6200,
        },
    ]
}
_PAYMENT_EXAMPLE = {
    "receipt_no": "R2026-000123",
    "insured_no": "0100000123",
    "fiscal_year": 2025,
    "period": 3,
    "amount": 6200,
    "paid_on": "2026-12-01",
}
CSV_EXAMPLE = (
    ",".join(COLUMNS)
    + "\r\nR2026-000123,0100000123,2025,3,6200,20261201\r\nR2026-000124,0100000123,2025,4,6200,20261201\r\n"
)


def _example(value: Any) -> dict[str, Any]:
    return {"walkthrough": {"summary": "記入例", "value": value}}


@router.post(
    "/premium-assessments",
    status_code=status.HTTP_201_CREATED,
    summary="保険料の調定 (年度・期別・納期限・金額) を登録する (一括; 全件か0件)",
)
async def post_assessments(
    data: Annotated[AssessmentBatch, Body(openapi_examples=_example(_ASSESSMENT_EXAMPLE))],
    principal: Manager,
    resources: ResourcesDep,
    audit: AuditDep,
) -> AssessmentsPosted:
    async with transaction(resources, audit) as session:
        posted = await premiums.post_assessments(session=session, batch=data, actor=principal.login_id)
        for insured_no in dict.fromkeys(a.insured_no for a in data.assessments):
            atena_no = await premiums.atena_of(session, insured_no)
            periods = [f"{a.fiscal_year}-{a.period}" for a in data.assessments if a.insured_no == insured_no]
            audit.record(
                "premium.assessment", subject=atena_no, detail={"insured_no": insured_no, "periods": periods}
            )
    return posted


@router.get("/insured/{insured_no}/premiums", summary="被保険者の保険料: 期別の納付状況・滞納・時効")
async def get_ledger(
    insured_no: InsuredNoPath, principal: Manager, resources: ResourcesDep, audit: AuditDep
) -> LedgerPublic:
    async with transaction(resources, audit) as session:
        insured, _ = await premiums.person_exists(session, insured_no)
        await check_subject_access(
            principal=principal,
            permission=Permission.RESTRICTION_MANAGE,
            atena_no=insured.atena_no,
            resources=resources,
            trail=audit,
        )
        audit.record("premium.read", subject=insured.atena_no, detail={"insured_no": insured_no})
        return await premiums.ledger(session, insured_no, today_in_japan())


async def _refused(
    resources: Resources, audit: AuditTrail, problem: ProblemError, detail: dict[str, Any]
) -> None:
    """A refused posting is audited in a transaction of its own (the request's is rolled back)."""
    await write_now(
        resources,
        audit.entry("premium.payment", outcome="failure", detail={**detail, "code": problem.code}),
    )


def _public(row: PremiumPayment, data: PaymentIn, case_id: str | None) -> PaymentPublic:
    return PaymentPublic.model_validate(
        {**row.model_dump(), "fiscal_year": data.fiscal_year, "period": data.period, "case_notified": case_id}
    )


@router.post(
    "/premium-payments",
    status_code=status.HTTP_201_CREATED,
    summary="納付を記録する (収納システム; 領収番号ごとに1回、再送は同じ結果)",
    response_model=PaymentPublic,
    responses={200: {"description": "同じ領収番号・同じ内容で記録済み (Idempotent-Replayed: true)"}},
)
async def post_payment(
    data: Annotated[PaymentIn, Body(openapi_examples=_example(_PAYMENT_EXAMPLE))],
    principal: Collector,
    resources: ResourcesDep,
    audit: AuditDep,
) -> JSONResponse:
    detail = {"receipt_no": data.receipt_no, "insured_no": data.insured_no, "amount": data.amount}
    try:
        async with transaction(resources, audit) as session:
            row, replayed, atena_no = await premiums.post_payment(
                session=session, payment=data, actor=principal.login_id, today=today_in_japan(), source="api"
            )
            audit.record(
                "premium.payment",
                subject=atena_no,
                detail={**detail, "period": f"{data.fiscal_year}-{data.period}", "replayed": replayed},
            )
            open_cases = await cases_of_restriction.open_delinquency_cases(session, [data.insured_no])
    except ProblemError as problem:
        await _refused(resources, audit, problem, detail)
        raise
    case_id = open_cases.get(data.insured_no)
    notified = None
    if case_id is not None and not replayed:
        notified = (
            case_id
            if await cases_of_restriction.signal_case(resources.temporal, case_id, "payment")
            else None
        )
    body = _public(row, data, notified if not replayed else case_id).model_dump(mode="json")
    if replayed:
        return JSONResponse(body, status_code=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(body, status_code=status.HTTP_201_CREATED)


@router.post(
    "/premium-payments/import",
    status_code=status.HTTP_201_CREATED,
    summary="消込ファイル (CSV) を取り込む (行ごとに検証; 1行でも誤りがあれば何も記録しない)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "examples": _example(CSV_EXAMPLE)}},
        }
    },
)
async def import_payments(
    request: Request,
    principal: Collector,
    resources: ResourcesDep,
    audit: AuditDep,
    content_type: Annotated[str | None, Header()] = None,
) -> PaymentImported:
    if not (content_type or "").startswith("text/csv"):
        raise ProblemError(415, "csv-required", "Content-Type: text/csv で消込ファイルを送ってください")
    import_id = uuid.uuid4().hex
    try:
        rows = parse_payment_csv(await request.body())
    except PaymentCsvError as error:
        problem = _csv_problem(error.issues)
        await _refused(resources, audit, problem, {"import_id": import_id, "issues": len(error.issues)})
        raise problem from None
    today = today_in_japan()
    posted = already = 0
    issues: list[CsvIssue] = []
    try:
        async with transaction(resources, audit) as session:
            for line, payment in rows:
                try:
                    row, replayed, atena_no = await premiums.post_payment(
                        session=session,
                        payment=payment,
                        actor=principal.login_id,
                        today=today,
                        source="csv",
                        import_id=import_id,
                    )
                except ProblemError as problem:  # checked before anything is written: the line is skipped
                    issues.append(CsvIssue(line, _FIELD_COLUMNS.get(problem.field or ""), problem.detail))
                    continue
                already += int(replayed)
                posted += int(not replayed)
                audit.record(
                    "premium.payment",
                    subject=atena_no,
                    detail={
                        "receipt_no": row.receipt_no,
                        "insured_no": payment.insured_no,
                        "amount": payment.amount,
                        "period": f"{payment.fiscal_year}-{payment.period}",
                        "import_id": import_id,
                        "replayed": replayed,
                    },
                )
            if issues:
                raise _csv_problem(issues)  # rolls the whole file back: nothing half-imported
            audit.record(
                "premium.import", detail={"import_id": import_id, "rows": len(rows), "posted": posted}
            )
            open_cases = await cases_of_restriction.open_delinquency_cases(
                session, [p.insured_no for _, p in rows]
            )
    except ProblemError as problem:
        audit.pending.clear()
        await _refused(resources, audit, problem, {"import_id": import_id, "issues": len(issues)})
        raise
    notified = [
        case_id
        for case_id in dict.fromkeys(open_cases.values())
        if await cases_of_restriction.signal_case(resources.temporal, case_id, "import")
    ]
    return PaymentImported(
        import_id=import_id, rows=len(rows), posted=posted, already_posted=already, cases_notified=notified
    )


_FIELD_COLUMNS = {field: column for column, field in COLUMNS.items()}


def _csv_problem(issues: list[CsvIssue]) -> ProblemError:
    listed = [{"line": i.line, "column": i.column, "message": i.message} for i in issues]
    return ProblemError(
        422,
        "payment-csv",
        f"消込ファイルに誤りが {len(issues)} 件あります。何も記録していません ({issues[0]})",
        field="csv",
        extra={"issues": listed},
    )
