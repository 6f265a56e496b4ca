"""The notice catalogue (DOMAIN.md §5): kind code → title, template, whether it is a 処分, data model.

A 処分 (an appealable decision) carries the 教示 (行政不服審査法82条, 行政事件訴訟法46条). The base layout
adds it from `disposition`, so the flag here is the single place that decides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from notices.models import (
    BenefitReduction,
    BenefitSuspension,
    Category2Suspension,
    Category2SuspensionAdvance,
    Category2SuspensionLifted,
    CategoryChange,
    CertificationDenial,
    CertificationResult,
    CertificationRevocation,
    ExpiryReminder,
    ExplanationReviewResult,
    NoticeData,
    PaymentMethodChange,
    PaymentMethodChangeAdvance,
    Postponement,
    PremiumOffset,
    RestrictionLifted,
)


@dataclass(frozen=True)
class NoticeKind:
    code: str  # ascii, stable: stored with every issued notice
    title: str
    disposition: bool  # 処分: carries the 教示
    model: type[NoticeData]
    basis: str  # the main article, for listings (each model cites the exact one on the notice)

    @property
    def template(self) -> str:
        return f"{self.code}.html"


_KINDS = (
    NoticeKind(
        "certification_result",
        "要介護認定・要支援認定結果通知書",
        True,
        CertificationResult,
        "27条7項・32条6項",
    ),
    NoticeKind(
        "certification_denial", "要介護認定・要支援認定却下通知書", True, CertificationDenial, "27条9項・10項"
    ),
    NoticeKind(
        "certification_revocation",
        "要介護認定・要支援認定取消通知書",
        True,
        CertificationRevocation,
        "31条・34条",
    ),
    NoticeKind("category_change", "要介護状態区分等変更認定通知書", True, CategoryChange, "29条・30条"),
    NoticeKind("postponement", "要介護認定・要支援認定延期通知書", False, Postponement, "27条11項"),
    NoticeKind(
        "expiry_reminder", "要介護認定・要支援認定有効期間終了のお知らせ", False, ExpiryReminder, "28条2項"
    ),
    NoticeKind(
        "payment_method_change_advance",
        "支払方法変更（償還払い）予告通知書",
        False,
        PaymentMethodChangeAdvance,
        "66条1項, 行政手続法13条・30条",
    ),
    NoticeKind(
        "explanation_review_result", "弁明書審査結果通知書", False, ExplanationReviewResult, "行政手続法29条"
    ),
    NoticeKind(
        "payment_method_change", "支払方法変更（償還払い）通知書", True, PaymentMethodChange, "66条1項"
    ),
    NoticeKind("benefit_suspension", "保険給付支払一時差止通知書", True, BenefitSuspension, "67条1項"),
    NoticeKind("premium_offset", "滞納保険料控除通知書", True, PremiumOffset, "67条3項"),
    NoticeKind("benefit_reduction", "給付額減額通知書", True, BenefitReduction, "69条"),
    NoticeKind(
        "category2_suspension_advance",
        "保険給付差止予告通知書（第2号被保険者）",
        False,
        Category2SuspensionAdvance,
        "68条1項, 行政手続法13条・30条",
    ),
    NoticeKind(
        "category2_suspension",
        "保険給付差止通知書（第2号被保険者）",
        True,
        Category2Suspension,
        "68条1項・4項",
    ),
    NoticeKind("restriction_lifted", "給付制限解除通知書", True, RestrictionLifted, "66条3項・67条"),
    NoticeKind(
        "category2_suspension_lifted",
        "保険給付差止解除通知書（第2号被保険者）",
        True,
        Category2SuspensionLifted,
        "68条2項",
    ),
)

CATALOGUE: Mapping[str, NoticeKind] = {k.code: k for k in _KINDS}


class UnknownNoticeKind(KeyError):
    pass


class NoticeDataError(ValueError):
    """The data for a notice is missing something or is invalid; `errors` lists (field, message)."""

    def __init__(self, kind: str, errors: list[tuple[str, str]]) -> None:
        self.kind = kind
        self.errors = errors
        lines = "; ".join(f"{field}: {message}" for field, message in errors)
        super().__init__(f"{kind}: {lines}")


def kind_codes() -> list[str]:
    return list(CATALOGUE)


def get_kind(code: str) -> NoticeKind:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise UnknownNoticeKind(f"unknown notice kind {code!r}; known: {', '.join(CATALOGUE)}") from None


def validate_data(code: str, data: Mapping[str, Any] | NoticeData) -> NoticeData:
    """The typed data for `code`, from a mapping (e.g. JSON) or an already built model of the right class."""
    kind = get_kind(code)
    if isinstance(data, NoticeData):
        if not isinstance(data, kind.model):
            raise NoticeDataError(code, [("", f"expected {kind.model.__name__}, got {type(data).__name__}")])
        return data
    try:
        return kind.model.model_validate(data)
    except ValidationError as exc:
        errors = [(".".join(str(p) for p in e["loc"]) or "(全体)", _message(e)) for e in exc.errors()]
        raise NoticeDataError(code, errors) from exc


def _message(error: Any) -> str:
    # Our own validators raise Japanese messages; pydantic prefixes them with "Value error, ".
    return str(error["msg"]).removeprefix("Value error, ")
