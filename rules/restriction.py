"""保険料滞納者に係る給付制限 (介護保険法66–69条): the arithmetic of the restrictions.

69条 給付額減額: at a certification, a person with premiums whose collection right was extinguished by
prescription (時効, 200条) gets a lower benefit rate for a period of months:

    期間 (月) = X² ÷ (X + Y) × 1/2 × 12, 1か月未満切捨て

over a 10-year lookback, where per 調定年度 the 徴収権消滅期間 is 時効消滅額 ÷ 調定額 and the 納付済期間 is
収入額 ÷ 調定額 (years, fractional), X and Y their sums (research/domain.md §2.2). Computed exactly with
fractions of yen amounts: decimal steps fall just below an exact integer and truncate it away (X=1, Y=2 gives
exactly 2 months, not 1).

66条・67条 (支払方法変更, 一時差止) turn on how long the oldest unpaid instalment (期別) has been past
its 納期限: 1 year and 1年6か月 (施行規則). 時効 (200条): the right to collect a premium ends 2 years after
it could first be exercised, counted from the day after the 納期限 (民法140条 初日不算入); a time-barred
premium can no longer be paid, so it is no longer arrears for 66・67条 — it counts for 69条 instead.
Periods of months end as 民法143条 says (`rules.calendar.deadline_after_months`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from math import floor

from rules.calendar import add_months, deadline_after_months, month_end

PAYMENT_METHOD_CHANGE_MONTHS = 12  # 66条1項, 施行規則: 納期限から1年
SUSPENSION_MONTHS = 18  # 67条1項, 施行規則: 納期限から1年6か月
PRESCRIPTION_MONTHS = 24  # 200条1項: 2年
LOOKBACK_YEARS = 10  # 69条: 算定の対象期間 (research/domain.md §2.2)
REDUCED_BENEFIT_RATE = 70  # 69条1項: 給付率 7割 (利用者負担3割)
REDUCED_BENEFIT_RATE_FOR_30_PERCENT = 60  # 通常3割負担の者は 6割 (利用者負担4割)


@dataclass(frozen=True)
class FiscalYearPremium:
    """One 調定年度 of a person's premiums, in yen."""

    fiscal_year: int
    assessed: int  # 調定額
    paid: int  # 収入額 (納付済)
    barred: int  # 時効により徴収権が消滅した額 (未納のまま)

    def __post_init__(self) -> None:
        if self.assessed <= 0 or self.paid < 0 or self.barred < 0 or self.paid + self.barred > self.assessed:
            raise ValueError(f"{self.fiscal_year}年度: 納付済額と時効消滅額の合計が調定額を超えています")


@dataclass(frozen=True)
class ReductionPeriod:
    barred_years: Fraction  # X 徴収権消滅期間
    paid_years: Fraction  # Y 納付済期間
    months: int  # 給付額減額期間

    @property
    def formula_value(self) -> Decimal:
        """The formula's value as printed on the notice: two decimals, truncated like the months."""
        exact = self.barred_years**2 / (self.barred_years + self.paid_years) * 6
        return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
            Decimal("0.01"), rounding=ROUND_DOWN
        )


def reduction_months(barred_years: Fraction, paid_years: Fraction) -> int:
    """69条: X² ÷ (X + Y) × 1/2 × 12, truncated to whole months (0 when nothing was time-barred)."""
    if barred_years < 0 or paid_years < 0:
        raise ValueError("期間は0以上です")
    if barred_years == 0:
        return 0
    return floor(barred_years**2 / (barred_years + paid_years) * 6)


def reduction_period(premiums: Sequence[FiscalYearPremium]) -> ReductionPeriod | None:
    """X, Y and the months from the fiscal years of the lookback; None when nothing was time-barred."""
    barred = sum((Fraction(p.barred, p.assessed) for p in premiums), Fraction(0))
    paid = sum((Fraction(p.paid, p.assessed) for p in premiums), Fraction(0))
    months = reduction_months(barred, paid)
    return ReductionPeriod(barred, paid, months) if months > 0 else None


# --------------------------------------------------------------------------------- the premium ledger


@dataclass(frozen=True)
class Instalment:
    """One 期別 of one 年度's premium, as the ledger holds it (yen)."""

    fiscal_year: int
    period: int  # 期別
    due_on: date  # 納期限
    assessed: int  # 調定額
    paid: int  # 収入済額

    def __post_init__(self) -> None:
        if self.assessed <= 0 or not 0 <= self.paid <= self.assessed:
            raise ValueError(f"{self.fiscal_year}年度第{self.period}期: 納付額が調定額を超えています")

    @property
    def unpaid(self) -> int:
        return self.assessed - self.paid


def months_past_due(due_on: date, today: date) -> int:
    """Whole months passed since the 納期限 by `today` (民法140条・143条): 0 until a full month has."""
    if today <= due_on:
        return 0
    months = (today.year - due_on.year) * 12 + today.month - due_on.month + 1
    while months > 0 and deadline_after_months(due_on, months) >= today:
        months -= 1
    return months


def months_passed_on(due_on: date, months: int) -> date:
    """The first day on which `months` months have passed since the 納期限 (the period's last day + 1)."""
    return deadline_after_months(due_on, months) + timedelta(days=1)


def prescription_completes_on(due_on: date) -> date:
    """200条: the last day the city may still collect the instalment (2 years from the day after 納期限)."""
    return deadline_after_months(due_on, PRESCRIPTION_MONTHS)


def is_time_barred(due_on: date, today: date) -> bool:
    """200条: the right to collect is extinguished from the day after the 2 years have run."""
    return today > prescription_completes_on(due_on)


def arrears(instalments: Iterable[Instalment], today: date) -> list[Instalment]:
    """滞納: instalments past their 納期限 and not (fully) paid, and not time-barred — by year × period."""
    found = [
        i for i in instalments if i.unpaid > 0 and i.due_on < today and not is_time_barred(i.due_on, today)
    ]
    return sorted(found, key=lambda i: (i.fiscal_year, i.period, i.due_on))


def arrears_by_year(instalments: Iterable[Instalment], today: date) -> dict[int, int]:
    """滞納額 per 年度 (yen), oldest year first."""
    totals: dict[int, int] = {}
    for instalment in arrears(instalments, today):
        totals[instalment.fiscal_year] = totals.get(instalment.fiscal_year, 0) + instalment.unpaid
    return totals


def oldest_unpaid(instalments: Iterable[Instalment], today: date) -> Instalment | None:
    """The instalment of the arrears whose 納期限 is earliest (it decides 66条 and 67条)."""
    return min(arrears(instalments, today), key=lambda i: i.due_on, default=None)


def time_barred(instalments: Iterable[Instalment], today: date) -> list[Instalment]:
    """Instalments left unpaid until 時効 extinguished the right to collect them (69条)."""
    found = [i for i in instalments if i.unpaid > 0 and is_time_barred(i.due_on, today)]
    return sorted(found, key=lambda i: (i.fiscal_year, i.period, i.due_on))


def months_in_arrears(instalments: Iterable[Instalment], today: date) -> int:
    """How long the oldest unpaid instalment has been past its 納期限, in whole months (0 without arrears)."""
    oldest = oldest_unpaid(instalments, today)
    return months_past_due(oldest.due_on, today) if oldest else 0


def payment_method_change_applies(instalments: Iterable[Instalment], today: date, months: int) -> bool:
    """66条1項: a premium is still unpaid `months` (1年) after its 納期限."""
    oldest = oldest_unpaid(instalments, today)
    return oldest is not None and today >= months_passed_on(oldest.due_on, months)


def suspension_due_on(instalments: Iterable[Instalment], today: date, months: int) -> date | None:
    """67条1項: the day the oldest unpaid instalment will have been unpaid `months` (1年6か月); None without
    arrears. The day may already have come."""
    oldest = oldest_unpaid(instalments, today)
    return months_passed_on(oldest.due_on, months) if oldest else None


# ------------------------------------------------------------------------------------------- 69条


def lookback_period(base_date: date) -> tuple[date, date]:
    """69条: the 10 years up to the 基準日 (the 認定日), first and last day."""
    try:
        start = base_date.replace(year=base_date.year - LOOKBACK_YEARS)
    except ValueError:  # 29 February
        start = base_date.replace(year=base_date.year - LOOKBACK_YEARS, day=28)
    return start + timedelta(days=1), base_date


def lookback_premiums(instalments: Iterable[Instalment], base_date: date) -> list[FiscalYearPremium]:
    """Per 調定年度, the instalments due in the lookback: assessed, paid, and time-barred as of the 基準日."""
    first, last = lookback_period(base_date)
    years: dict[int, list[int]] = {}
    for i in instalments:
        if not first <= i.due_on <= last:
            continue
        assessed, paid, barred = years.setdefault(i.fiscal_year, [0, 0, 0])
        barred_now = i.unpaid if is_time_barred(i.due_on, base_date) else 0
        years[i.fiscal_year] = [assessed + i.assessed, paid + i.paid, barred + barred_now]
    return [FiscalYearPremium(year, *sums) for year, sums in sorted(years.items())]


def first_of_next_month(day: date) -> date:
    year, month = add_months(day.year, day.month, 1)
    return date(year, month, 1)


def reduction_dates(recorded_on: date, months: int) -> tuple[date, date]:
    """69条3項: from the 1st of the month after the 記載, for `months` whole months."""
    start = first_of_next_month(recorded_on)
    year, month = add_months(start.year, start.month, months - 1)
    return start, month_end(date(year, month, 1))


def reduced_benefit_rate(usual_copay_percent: int) -> int:
    """69条1項: 給付率 7割; 6割 for a person whose usual share is 3割 (利用者負担4割)."""
    if usual_copay_percent not in (10, 20, 30):
        raise ValueError("通常の利用者負担割合は1割・2割・3割のいずれかです")
    return REDUCED_BENEFIT_RATE_FOR_30_PERCENT if usual_copay_percent == 30 else REDUCED_BENEFIT_RATE
