"""Blocks every notice shares: the issuer, the addressee, the header, and the money tables.

Names are printed exactly as given: no Unicode normalisation, which would fold compatibility ideographs
(塚 U+FA10) and change a legal name. Only surrounding blanks are stripped and control characters refused.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rules.wareki import SOLAR_CALENDAR_START

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("制御文字は使用できません")
    stripped = value.strip()
    if not stripped:
        raise ValueError("空欄にはできません")
    return stripped


def _postal_code(value: object) -> object:
    """'070-0031', '〒0700031' or full-width digits → '0700031' (the 7 digits the printer needs)."""
    if not isinstance(value, str):
        return value
    digits = unicodedata.normalize("NFKC", value).replace("〒", "").replace("-", "").strip()
    if not (len(digits) == 7 and digits.isascii() and digits.isdigit()):
        raise ValueError("郵便番号は7桁の数字で入力してください")
    return digits


def _not_before_solar_calendar(value: date) -> date:
    if value < SOLAR_CALENDAR_START:
        raise ValueError("1873年1月1日より前の日付は和暦で表示できません")
    return value


def _blank_to_none(value: object) -> object:
    # Optional lines (方書, 審査会の意見) are often stored as "" rather than NULL: both mean "none".
    return None if isinstance(value, str) and not value.strip() else value


Text = Annotated[str, AfterValidator(_plain_text), Field(max_length=400)]
LongText = Annotated[str, AfterValidator(_plain_text), Field(max_length=2000)]
OptionalText = Annotated[Text | None, BeforeValidator(_blank_to_none)]
OptionalLongText = Annotated[LongText | None, BeforeValidator(_blank_to_none)]
PostalCode = Annotated[str, BeforeValidator(_postal_code)]
InsuredNo = Annotated[str, Field(pattern=r"^[0-9]{10}$", description="被保険者番号 (10 digits)")]
Yen = Annotated[int, Field(ge=0, le=100_000_000, strict=True)]
Day = Annotated[date, AfterValidator(_not_before_solar_calendar)]
FiscalYear = Annotated[int, Field(ge=1990, le=2200)]


class NoticeModel(BaseModel):
    """Immutable, and unknown fields are errors: a typo in a data key must not silently drop a line."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Issuer(NoticeModel):
    """Who issues the notice; mirrors the notice fields of kaigo.config.Settings."""

    city_name: Text  # 旭川市
    issuer_name: Text  # 旭川市長 (the 処分庁, and the city's representative in a lawsuit)
    mayor_name: Text  # the person holding the office on the 発行日, printed after it in the header
    department_name: Text  # 福祉保険部 介護保険課
    contact_address: Text
    contact_phone: Text
    review_board_name: Text  # 北海道介護保険審査会 (介護保険法183条・191条)

    @classmethod
    def from_settings(cls, settings: object) -> Issuer:
        """From kaigo.config.Settings (or anything with the same attribute names)."""
        return cls.model_validate({name: getattr(settings, name) for name in cls.model_fields})


class Recipient(NoticeModel):
    """The window-envelope block, and the 被保険者番号 printed on every notice."""

    postal_code: PostalCode
    address: Text
    address_extra: OptionalText = None  # 方書 (building, room, 様方)
    name: Text  # 宛名
    insured_no: InsuredNo


class NoticeData(NoticeModel):
    """Fields of every notice. The 文書番号 is assigned elsewhere; rendering only prints it."""

    recipient: Recipient
    document_no: Text
    issue_date: Day


class ArrearsRow(NoticeModel):
    """One instalment (期) of an unpaid premium, as the 行政手続法30条 facts and the reasons print it."""

    fiscal_year: FiscalYear  # 調定年度 (賦課年度)
    period: int = Field(ge=1, le=12)  # 期別
    due_date: Day  # 納期限
    assessed: Yen  # 保険料額 (調定額)
    unpaid: Yen  # 滞納額
    late_fee: Yen = 0  # 延滞金

    @model_validator(mode="after")
    def _unpaid_within_assessed(self) -> ArrearsRow:
        if self.unpaid > self.assessed:
            raise ValueError("滞納額が保険料額を超えています")
        return self


def arrears_totals(rows: list[ArrearsRow]) -> dict[str, int]:
    return {
        "assessed": sum(r.assessed for r in rows),
        "unpaid": sum(r.unpaid for r in rows),
        "late_fee": sum(r.late_fee for r in rows),
    }


class WithheldBenefit(NoticeModel):
    """A benefit payment held back (67条・68条): the service month, the service, the amount."""

    service_month: Day  # any day of the month; printed as 年月
    service_name: Text
    amount: Yen
