"""保険料滞納者に係る給付制限 (介護保険法66–69条): the arithmetic of the restrictions.

69条 給付額減額: at a certification, a person with premiums whose collection right was extinguished by
prescription (時効, 200条) gets a lower benefit rate for a period of months:

    期間 (月) = X² ÷ (X + Y) × 1/2 × 12, 1か月未満切捨て

over a 10-year lookback, where per 調定年度 the 徴収権消滅期間 is 時効消滅額 ÷ 調定額 and the 納付済期間 is
収入額 ÷ 調定額 (years, fractional), X and Y their sums (research/domain.md §2.2). Computed exactly with
fractions of yen amounts: decimal steps fall just below an exact integer and truncate it away (X=1, Y=2 gives
exactly 2 months, not 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from math import floor


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
