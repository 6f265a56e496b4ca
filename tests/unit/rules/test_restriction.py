"""給付制限の算定 (介護保険法66・67・69・200条): months in arrears, 時効, the 69条 reduction period."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from rules.restriction import (
    PAYMENT_METHOD_CHANGE_MONTHS,
    SUSPENSION_MONTHS,
    FiscalYearPremium,
    Instalment,
    arrears,
    arrears_by_year,
    first_of_next_month,
    is_time_barred,
    lookback_period,
    lookback_premiums,
    months_in_arrears,
    months_passed_on,
    months_past_due,
    oldest_unpaid,
    payment_method_change_applies,
    prescription_completes_on,
    reduced_benefit_rate,
    reduction_dates,
    reduction_months,
    reduction_period,
    suspension_due_on,
    time_barred,
)


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


# ------------------------------------------------------------------------------ the premium ledger


def _instalment(year: int, period: int, due: date, assessed: int = 6_000, paid: int = 0) -> Instalment:
    return Instalment(year, period, due, assessed, paid)


@pytest.mark.parametrize(
    ("due", "today", "months"),
    [
        (date(2024, 1, 31), date(2024, 1, 31), 0),  # the 納期限 itself
        (date(2024, 1, 31), date(2024, 2, 29), 0),  # a month runs 2/1–2/29: not over on its last day
        (date(2024, 1, 31), date(2024, 3, 1), 1),
        (date(2024, 1, 31), date(2025, 1, 31), 11),
        (date(2024, 1, 31), date(2025, 2, 1), 12),  # 1 year has passed
        (date(2024, 7, 15), date(2025, 7, 15), 11),  # 民法143条2項: 7/16–7/15
        (date(2024, 7, 15), date(2025, 7, 16), 12),
    ],
)
def test_66_months_past_the_due_date_count_from_the_day_after(due: date, today: date, months: int) -> None:
    assert months_past_due(due, today) == months


def test_66_one_year_past_the_oldest_unpaid_due_date_triggers_the_payment_method_change() -> None:
    ledger = [
        _instalment(2024, 1, date(2024, 7, 31), paid=6_000),  # paid: not arrears
        _instalment(2024, 2, date(2024, 8, 31), paid=2_000),  # partly paid: the oldest arrears
        _instalment(2024, 3, date(2024, 9, 30)),
    ]
    assert oldest_unpaid(ledger, date(2025, 8, 31)) == ledger[1]
    assert months_in_arrears(ledger, date(2025, 8, 31)) == 11
    assert not payment_method_change_applies(ledger, date(2025, 8, 31), PAYMENT_METHOD_CHANGE_MONTHS)
    assert months_passed_on(date(2024, 8, 31), 12) == date(2025, 9, 1)
    assert payment_method_change_applies(ledger, date(2025, 9, 1), PAYMENT_METHOD_CHANGE_MONTHS)


def test_66_paying_the_oldest_instalment_moves_the_trigger_to_the_next() -> None:
    ledger = [_instalment(2024, 2, date(2024, 8, 31), paid=6_000), _instalment(2024, 3, date(2024, 9, 30))]
    assert not payment_method_change_applies(ledger, date(2025, 9, 30), PAYMENT_METHOD_CHANGE_MONTHS)
    assert payment_method_change_applies(ledger, date(2025, 10, 1), PAYMENT_METHOD_CHANGE_MONTHS)


def test_66_arrears_are_listed_by_year_and_period_and_summed_by_year() -> None:
    ledger = [
        _instalment(2024, 2, date(2024, 8, 31)),
        _instalment(2023, 9, date(2024, 2, 29), paid=1_000),
        _instalment(2024, 1, date(2024, 7, 31), paid=6_000),
        _instalment(2025, 1, date(2025, 12, 31)),  # not yet due: not arrears
    ]
    today = date(2025, 9, 1)
    assert [(i.fiscal_year, i.period) for i in arrears(ledger, today)] == [(2023, 9), (2024, 2)]
    assert arrears_by_year(ledger, today) == {2023: 5_000, 2024: 6_000}


def test_67_suspension_falls_due_1_year_6_months_after_the_oldest_unpaid_due_date() -> None:
    ledger = [_instalment(2024, 2, date(2024, 8, 31))]
    assert suspension_due_on(ledger, date(2025, 9, 1), SUSPENSION_MONTHS) == date(2026, 3, 1)
    assert suspension_due_on([], date(2025, 9, 1), SUSPENSION_MONTHS) is None


@pytest.mark.parametrize(
    ("due", "last_day"),
    [
        (date(2023, 10, 31), date(2025, 10, 31)),  # counting from 11/1: ends on a month end (143条1項)
        (date(2023, 11, 15), date(2025, 11, 15)),  # 11/16 … 11/15 two years on (143条2項)
        (date(2024, 2, 29), date(2026, 2, 28)),  # from 3/1: the month end of February 2026
    ],
)
def test_200_prescription_runs_2_years_from_the_day_after_the_due_date(due: date, last_day: date) -> None:
    assert prescription_completes_on(due) == last_day
    assert not is_time_barred(due, last_day)
    assert is_time_barred(due, last_day + timedelta(days=1))


def test_200_time_barred_instalments_are_not_arrears_any_more() -> None:
    ledger = [_instalment(2022, 1, date(2022, 7, 31)), _instalment(2024, 1, date(2024, 7, 31))]
    today = date(2025, 1, 1)
    assert [i.fiscal_year for i in time_barred(ledger, today)] == [2022]
    assert [i.fiscal_year for i in arrears(ledger, today)] == [2024]


def test_69_lookback_takes_10_years_up_to_the_certification_and_bars_as_of_that_day() -> None:
    certified = date(2026, 6, 10)
    assert lookback_period(certified) == (date(2016, 6, 11), date(2026, 6, 10))
    ledger = [
        _instalment(2015, 1, date(2015, 7, 31)),  # before the lookback
        _instalment(2019, 1, date(2019, 7, 31), assessed=60_000, paid=20_000),  # 40,000 time-barred
        _instalment(2020, 1, date(2020, 7, 31), assessed=60_000, paid=60_000),
        _instalment(2025, 1, date(2025, 7, 31), assessed=60_000),  # unpaid but not yet barred
    ]
    years = lookback_premiums(ledger, certified)
    assert years == [
        FiscalYearPremium(2019, 60_000, 20_000, 40_000),
        FiscalYearPremium(2020, 60_000, 60_000, 0),
        FiscalYearPremium(2025, 60_000, 0, 0),
    ]
    period = reduction_period(years)
    # X = 2/3, Y = 1/3 + 1 = 4/3: (4/9) ÷ 2 × 6 = 1.33… → 1か月
    assert period is not None and period.barred_years == Fraction(2, 3) and period.months == 1


def test_69_the_reduction_starts_on_the_1st_of_the_month_after_it_is_recorded() -> None:
    assert reduction_dates(date(2026, 6, 10), 2) == (date(2026, 7, 1), date(2026, 8, 31))
    assert reduction_dates(date(2026, 12, 1), 3) == (date(2027, 1, 1), date(2027, 3, 31))
    assert first_of_next_month(date(2026, 12, 31)) == date(2027, 1, 1)


@pytest.mark.parametrize(("usual", "rate"), [(10, 70), (20, 70), (30, 60)])
def test_69_benefit_rate_is_7_wari_or_6_wari_for_those_usually_paying_3_wari(usual: int, rate: int) -> None:
    assert reduced_benefit_rate(usual) == rate


def test_69_a_usual_share_other_than_1_2_or_3_wari_is_refused() -> None:
    with pytest.raises(ValueError, match="利用者負担割合"):
        reduced_benefit_rate(40)


def test_an_instalment_cannot_be_paid_beyond_its_assessment() -> None:
    with pytest.raises(ValueError, match="調定額"):
        Instalment(2024, 1, date(2024, 7, 31), 6_000, 6_001)
