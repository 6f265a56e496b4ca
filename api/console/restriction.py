"""給付制限 in the console: the restriction case panel (the 弁明 deadline and the 1年6か月 date as days left,
the record in the desk's words) and the counter payment page (窓口での納付の入力).

The case page reads only what `GET /cases/{id}` returns (restriction's record loader); the counter page posts
exactly what `POST /premium-payments` takes, through the bridge: the same validation, idempotency by 領収番号
and audit (under the staff login) as the collection system's feed.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.console import bridge
from api.console.auth import Console, CsrfChecked, console_require
from api.console.case_panels import CasePanel, Clock
from api.console.case_panels import register as register_panel
from api.console.cases import STEP_LABELS
from api.console.pages import ConsoleRoute, page
from api.console.schema_form import FieldSpec, payload_from_form
from api.errors import field_errors
from api.routes import premiums as premium_routes
from api.routes.cases import CaseDetail
from kaigo.errors import ProblemError
from models.case import CaseState, CaseType
from models.common import today_in_japan
from models.permissions import Permission
from models.restriction import (
    STAGE_LABELS,
    EndReason,
    ExplanationForm,
    LiftReason,
    PaymentIn,
    RestrictionKind,
    Stage,
    Trigger,
)

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
Cashier = Annotated[Console, console_require(Permission.PREMIUM_PAYMENT)]

STEP_LABELS.update(
    {
        "restriction.opened": "給付制限のケースを開始",
        "restriction.payment_method_changed": "支払方法変更 (償還払い) を決定",
        "restriction.suspension_not_due": "一時差止の要件に該当しない (1年6か月未満)",
        "restriction.suspended": "保険給付の一時差止を決定",
        "restriction.offset_posted": "差し止めた給付から滞納保険料を控除",
        "restriction.insurer_request": "医療保険者の差止依頼を受付",
        "restriction.lifted": "給付制限を解除",
    }
)

KIND_LABELS = {
    RestrictionKind.DELINQUENCY: "保険料滞納 (第1号) — 66条・67条",
    RestrictionKind.CATEGORY2: "医療保険料の未納 (第2号) — 68条",
    RestrictionKind.REDUCTION: "給付額減額 (時効消滅) — 69条",
}
TRIGGER_LABELS = {
    Trigger.SCAN: "日次の滞納確認",
    Trigger.APPLICATION: "認定申請時の滞納確認",
    Trigger.CERTIFIED: "認定 (69条の算定)",
    Trigger.STAFF: "担当職員が開始",
    Trigger.INSURER: "医療保険者の差止依頼",
}
FORM_LABELS = {
    ExplanationForm.WRITTEN: "弁明書の提出",
    ExplanationForm.ORAL: "口頭 (職員が聞き取り)",
    ExplanationForm.WAIVED: "弁明しない旨の申出",
}
LIFT_LABELS = {
    LiftReason.PAID_IN_FULL: "完納",
    LiftReason.MARKED_REDUCTION: "滞納額の著しい減少",
    LiftReason.SPECIAL_CIRCUMSTANCES: "災害その他の特別の事情",
    LiftReason.INSURER_NOTICE: "医療保険者から未納解消の通知",
}
END_LABELS = {
    EndReason.DEATH: "死亡",
    EndReason.LOST_STATUS: "被保険者資格の喪失",
    EndReason.OPENED_IN_ERROR: "誤って開始したケースの取消し",
}

_BASIS_EXPLANATION = "予告通知書に記載した弁明書の提出期限 (行政手続法30条)"
_BASIS_SUSPENSION = "最も古い滞納の納期限から1年6か月 (67条1項)"


# ------------------------------------------------------------------------------------------ case panel


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _clocks(detail: CaseDetail) -> list[Clock]:
    """The 弁明 deadline while no 弁明 is recorded; the 1年6か月 date the workflow waits for (its due date
    while 償還払い), or the 一時差止 decision once it has come; otherwise the case's next due date."""
    record = detail.record or {}
    case = detail.case
    if case.state != CaseState.OPEN:
        return []
    clocks = []
    explanation_due = _date(record.get("explanation_due"))
    if explanation_due and not record.get("explanation_received_on") and case.stage == Stage.EXPLANATION:
        clocks.append(Clock("弁明書の提出期限", explanation_due, _BASIS_EXPLANATION))
    if case.stage == Stage.RESTRICTED and case.due_on:
        clocks.append(Clock("一時差止の判定日 (1年6か月)", case.due_on, _BASIS_SUSPENSION))
    elif case.stage == Stage.SUSPENSION_DUE and case.due_on:
        clocks.append(Clock("一時差止の決定", case.due_on, "1年6か月経過 (67条1項): 差止の決定の期限"))
    elif case.due_on and not clocks:
        clocks.append(Clock("次の期限", case.due_on, case.details or detail.stage_label))
    certificate_by = _date(record.get("certificate_submit_by"))
    if certificate_by and certificate_by >= today_in_japan():
        clocks.append(Clock("被保険者証の提出期限", certificate_by, "支払方法変更の記載のため"))
    return clocks


def arrears_by_year(lines: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """(年度, 期の数, 未納額) of the arrears as last read, oldest year first."""
    years: dict[int, list[int]] = {}
    for line in lines:
        found = years.setdefault(int(line["fiscal_year"]), [0, 0])
        found[0] += 1
        found[1] += int(line["unpaid"])
    return [(year, n, unpaid) for year, (n, unpaid) in sorted(years.items())]


async def _panel_extra(console: Console, detail: CaseDetail) -> dict[str, Any]:
    record = detail.record or {}
    return {
        "kind_labels": {k.value: v for k, v in KIND_LABELS.items()},
        "trigger_labels": {k.value: v for k, v in TRIGGER_LABELS.items()},
        "form_labels": {k.value: v for k, v in FORM_LABELS.items()},
        "lift_labels": {k.value: v for k, v in LIFT_LABELS.items()},
        "end_labels": {k.value: v for k, v in END_LABELS.items()},
        "stage_labels": {k.value: v for k, v in STAGE_LABELS.items()},
        "arrears_years": arrears_by_year(record.get("arrears") or []),
        "may_post_payment": console.may(Permission.PREMIUM_PAYMENT),
    }


register_panel(CaseType.RESTRICTION, CasePanel("console/cases/restriction.html", _clocks, _panel_extra))


# ------------------------------------------------------------------------------ 窓口での納付の入力

PAYMENT_FIELDS = [
    FieldSpec("payment.receipt_no", "領収番号", "text", required=True, max_length=32),
    FieldSpec("payment.insured_no", "被保険者番号", "text", required=True, max_length=10),
    FieldSpec(
        "payment.fiscal_year", "年度 (賦課年度・西暦)", "number", required=True, minimum=2000, maximum=2100
    ),
    FieldSpec("payment.period", "期別", "number", required=True, minimum=1, maximum=12),
    FieldSpec("payment.amount", "納付額 (円)", "number", required=True, minimum=1),
    FieldSpec("payment.paid_on", "納付日 (領収日)", "date", required=True),
]
_NUMBERS = ("fiscal_year", "period", "amount")


def _payment_body(form: Any) -> dict[str, Any]:
    """The JSON body the API takes: 全角 digits and thousands separators as typed at a counter are read as
    numbers; anything else is passed on for the model to refuse with its own message."""
    body = payload_from_form(form, prefix="payment")
    for key in _NUMBERS:
        text = unicodedata.normalize("NFKC", str(body.get(key, ""))).replace(",", "")
        if text.isdigit():
            body[key] = int(text)
    if isinstance(body.get("receipt_no"), str):
        body["receipt_no"] = unicodedata.normalize("NFKC", body["receipt_no"])
    return body


async def _payment_page(
    c: Console,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    banner: str | None = None,
    banner_kind: str = "error",
    recorded: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        c,
        "console/payment.html",
        status_code=status_code,
        title="窓口での納付の入力",
        specs=PAYMENT_FIELDS,
        values=values,
        errors=errors or {},
        banner=banner,
        banner_kind=banner_kind,
        recorded=recorded,
    )


@router.get("/payments/new", summary="窓口での納付の入力画面 (収納システムの連携と同じ記録)")
async def new_payment(c: Cashier, insured_no: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    values = {"payment.paid_on": today_in_japan().isoformat(), "payment.insured_no": insured_no or ""}
    return await _payment_page(c, values=values)


@router.post(
    "/payments", summary="窓口での納付を記録する (POST /premium-payments と同じ処理; 領収番号ごとに1回)"
)
async def post_payment(request: Request, c: Cashier, _: CsrfChecked) -> Response:
    form = await request.form()
    values = {spec.name: str(form.get(spec.name) or "").strip() for spec in PAYMENT_FIELDS}
    body = _payment_body(form)
    try:
        data = PaymentIn.model_validate(body)
    except ValidationError as invalid:
        errors = {f"payment.{e.field}": e.message for e in field_errors(list(invalid.errors()), body)}
        return await _payment_page(
            c, values=values, errors=errors, banner="入力内容を確認してください", status_code=422
        )
    try:
        response = await bridge.call(c, premium_routes.post_payment, data=data)
    except ProblemError as problem:
        errors = {f"payment.{field}": message for field, message in problem.fields}
        return await _payment_page(
            c, values=values, errors=errors, banner=problem.detail, status_code=problem.status
        )
    recorded = json.loads(bytes(response.body))
    replayed = response.headers.get("idempotent-replayed") == "true"
    banner = (
        f"登録済み: 領収番号 {data.receipt_no} は同じ内容で記録済みです (二重には記録していません)。"
        if replayed
        else f"納付を記録しました (領収番号 {data.receipt_no})。"
    )
    fresh = {"payment.paid_on": data.paid_on.isoformat(), "payment.insured_no": data.insured_no}
    return await _payment_page(c, values=fresh, banner=banner, banner_kind="ok", recorded=recorded)
