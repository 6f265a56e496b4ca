"""給付制限の算定 (介護保険法69条): the reduction period, exact from yen amounts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from rules.restriction import FiscalYearPremium, reduction_months, reduction_period


@pytest.mark.parametrize(
    ("x", "y", "months"),
    [
        (Fraction(1), Fraction(2), 2),  # 1 ÷ 3 × 6 = 2 exactly: decimal steps gave 1.999… → 1
        (Fraction(2), Fraction(1), 8),  # 4 ÷ 3 × 6 = 8 exactly: decimal steps gave 7
        (Fraction(2), Fraction(8), 2),  # the worked example: 2.4 → 2か月
        (Fraction(10), Fraction(0), 60),  # ten years all time-barred: the longest period
        (Fraction(1, 2), Fraction(9, 2), 0),  # 0.3 months: less than one month, no reduction
    ],
)
def test_69_reduction_months_are_exact_and_truncated(x: Fraction, y: Fraction, months: int) -> None:
    assert reduction_months(x, y) == months


def test_69_no_time_barred_premium_no_reduction() -> None:
    assert reduction_months(Fraction(0), Fraction(10)) == 0
    assert reduction_period([FiscalYearPremium(2020, 60_000, 60_000, 0)]) is None


def test_69_years_are_fractions_of_each_years_assessment() -> None:
    # 2016: a third time-barred; 2017: all paid; 2018: two thirds barred, one third paid (yen, not rounded).
    period = reduction_period(
        [
            FiscalYearPremium(2016, 72_300, 48_200, 24_100),
            FiscalYearPremium(2017, 73_800, 73_800, 0),
            FiscalYearPremium(2018, 75_000, 25_000, 50_000),
        ]
    )
    assert period is not None
    assert (period.barred_years, period.paid_years) == (Fraction(1), Fraction(2))
    assert period.months == 2 and period.formula_value == Decimal("2.00")


def test_69_formula_as_printed_is_truncated_to_two_decimals() -> None:
    period = reduction_period([FiscalYearPremium(2016, 3, 0, 3)] * 2 + [FiscalYearPremium(2017, 3, 3, 0)] * 8)
    assert period is not None and period.formula_value == Decimal("2.40") and period.months == 2


def test_69_paid_and_barred_cannot_exceed_the_assessment() -> None:
    with pytest.raises(ValueError, match="調定額"):
        FiscalYearPremium(2016, 10_000, 8_000, 3_000)
