"""The catalogue, the data models (typed, refusing bad data) and the article each notice cites."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from notices import fixtures
from notices.catalogue import (
    CATALOGUE,
    NoticeDataError,
    UnknownNoticeKind,
    get_kind,
    kind_codes,
    validate_data,
)
from notices.models import BenefitReduction, CertificationResult, Issuer, Recipient
from notices.render import FILTERS, TEMPLATE_DIR, render_html
from rules.restriction import FiscalYearPremium, reduction_period

EXPECTED_KINDS = {
    "certification_result": True,
    "certification_denial": True,
    "certification_revocation": True,
    "category_change": True,
    "postponement": False,
    "expiry_reminder": False,
    "payment_method_change_advance": False,
    "explanation_review_result": False,
    "payment_method_change": True,
    "benefit_suspension": True,
    "premium_offset": True,
    "benefit_reduction": True,
    "category2_suspension_advance": False,
    "category2_suspension": True,
    "restriction_lifted": True,  # 66条3項 消除 / 67条 差止の解除: a 処分, with the 教示
    "category2_suspension_lifted": True,  # 68条2項
}


def test_the_catalogue_is_domain_section_5() -> None:
    assert {code: kind.disposition for code, kind in CATALOGUE.items()} == EXPECTED_KINDS
    for code, kind in CATALOGUE.items():
        assert code.isascii()
        assert (TEMPLATE_DIR / kind.template).is_file()
        assert (fixtures.FIXTURE_DIR / f"{code}.json").is_file()


@pytest.mark.parametrize("kind", kind_codes())
def test_every_fixture_is_valid(kind: str) -> None:
    assert isinstance(validate_data(kind, fixtures.load(kind)), get_kind(kind).model)


def test_unknown_kind() -> None:
    with pytest.raises(UnknownNoticeKind, match="no_such_notice"):
        get_kind("no_such_notice")


def _with(kind: str, **changes: Any) -> dict[str, Any]:
    data = fixtures.load(kind)
    data.update(changes)
    return data


def test_missing_and_invalid_fields_are_named() -> None:
    data = fixtures.load("certification_result")
    del data["valid_to"]
    data["recipient"]["insured_no"] = "12345"
    with pytest.raises(NoticeDataError) as error:
        validate_data("certification_result", data)
    fields = dict(error.value.errors)
    assert "valid_to" in fields
    assert "recipient.insured_no" in fields
    assert str(error.value).startswith("certification_result: ")


def test_unknown_fields_are_refused_so_a_typo_does_not_drop_a_line() -> None:
    with pytest.raises(NoticeDataError, match="board_opinon"):
        validate_data("certification_result", _with("certification_result", board_opinon="…"))


def test_postal_code_accepts_the_usual_spellings_and_prints_one() -> None:
    base = fixtures.load("certification_result")["recipient"]
    for spelling in ("070-8004", "〒0708004", "０７０８００４"):
        assert Recipient.model_validate({**base, "postal_code": spelling}).postal_code == "0708004"
    with pytest.raises(ValueError, match="7桁"):
        Recipient.model_validate({**base, "postal_code": "070-80"})


def test_names_are_printed_as_given_never_normalised() -> None:
    base = fixtures.load("certification_result")["recipient"]
    name = "\ufa10田　太郎"  # 塚 as a compatibility ideograph: NFC would turn it into U+585A
    assert Recipient.model_validate({**base, "name": name}).name == name
    with pytest.raises(ValueError, match="制御文字"):
        Recipient.model_validate({**base, "name": "山田\x07太郎"})


def test_blank_optional_lines_mean_none() -> None:
    base = fixtures.load("certification_result")["recipient"]
    assert Recipient.model_validate({**base, "address_extra": "  "}).address_extra is None
    result = validate_data("certification_result", _with("certification_result", board_opinion=""))
    assert result.board_opinion is None  # type: ignore[attr-defined]


def test_issuer_from_settings_has_the_same_fields() -> None:
    from kaigo.config import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert Issuer.from_settings(settings) == fixtures.issuer()


def test_a_model_instance_of_the_wrong_kind_is_refused() -> None:
    model = validate_data("expiry_reminder", fixtures.load("expiry_reminder"))
    with pytest.raises(NoticeDataError, match="CertificationResult"):
        validate_data("certification_result", model)


# ------------------------------------------------------------------------- which article each notice cites


def _result(kind: str, level: str) -> CertificationResult:
    return CertificationResult.model_validate(
        _with("certification_result", application_kind=kind, care_level=level)
    )


def test_27_7_new_care_certification() -> None:
    assert _result("new", "要介護2").legal_basis == "介護保険法第27条第7項"


def test_32_6_new_support_certification() -> None:
    assert _result("new", "要支援1").legal_basis == "介護保険法第32条第6項"


def test_28_4_renewal_applies_27_7() -> None:
    assert _result("renewal", "要介護5").legal_basis == "介護保険法第28条第4項において準用する同法第27条第7項"


def test_33_4_support_renewal_applies_32_6() -> None:
    assert _result("renewal", "要支援2").legal_basis == "介護保険法第33条第4項において準用する同法第32条第6項"


def test_29_change_results_go_to_the_category_change_notice() -> None:
    with pytest.raises(NoticeDataError, match="category_change"):
        validate_data("certification_result", _with("certification_result", application_kind="change"))


def test_27_9_not_applicable_is_not_a_certification_result() -> None:
    with pytest.raises(NoticeDataError, match="非該当"):
        validate_data("certification_result", _with("certification_result", care_level="非該当"))


def test_28_1_validity_ends_on_a_month_end() -> None:
    with pytest.raises(NoticeDataError, match="月末"):
        validate_data("certification_result", _with("certification_result", valid_to="2026-04-29"))


def test_gyoteho_8_a_denial_needs_reasons() -> None:
    with pytest.raises(NoticeDataError, match="reasons"):
        validate_data("certification_denial", _with("certification_denial", reasons=[]))


def test_27_10_survey_refusal_cites_27_10() -> None:
    denial = validate_data("certification_denial", _with("certification_denial", ground="survey_refused"))
    assert "第27条第10項" in denial.legal_basis  # type: ignore[attr-defined]


def test_34_revoking_a_support_certification_cites_34() -> None:
    notice = validate_data(
        "certification_revocation", _with("certification_revocation", care_level="要支援2")
    )
    assert notice.legal_basis == "介護保険法第34条第1項第1号"  # type: ignore[attr-defined]


def test_30_ex_officio_change_only_downwards_and_with_reasons() -> None:
    ex_officio = {"basis": "ex_officio", "application_date": None, "previous_level": "要介護3"}
    up = _with("category_change", **ex_officio, new_level="要介護4", reasons=["…"])
    with pytest.raises(NoticeDataError, match="低下"):
        validate_data("category_change", up)
    no_reasons = _with("category_change", **ex_officio, new_level="要介護2", reasons=[])
    with pytest.raises(NoticeDataError, match="理由"):
        validate_data("category_change", no_reasons)
    ok = validate_data(
        "category_change", _with("category_change", **ex_officio, new_level="要介護2", reasons=["…"])
    )
    assert ok.legal_basis == "介護保険法第30条第1項"  # type: ignore[attr-defined]


def test_35_crossing_between_care_and_support_is_not_a_category_change() -> None:
    with pytest.raises(NoticeDataError, match="35条"):
        validate_data("category_change", _with("category_change", new_level="要支援2"))


def test_27_11_postponement_must_reach_beyond_the_30_days() -> None:
    # Applied 2025-11-10 → the 30-day deadline is 2025-12-10 (初日不算入).
    with pytest.raises(NoticeDataError, match="30日"):
        validate_data("postponement", _with("postponement", expected_by="2025-12-10"))
    assert validate_data("postponement", _with("postponement", expected_by="2025-12-11"))


def test_28_2_renewal_window_opens_60_days_before_expiry() -> None:
    notice = validate_data("expiry_reminder", fixtures.load("expiry_reminder"))
    assert notice.renewal_opens == date(2025, 12, 30)  # type: ignore[attr-defined]


def test_4_2_4_reminder_last_filing_day_moves_past_a_holiday_expiry() -> None:
    # valid_to 2026-02-28 is a Saturday: the 受付期間 runs to Monday 3/2 (地方自治法4条の2第4項).
    notice = validate_data("expiry_reminder", fixtures.load("expiry_reminder"))
    assert notice.last_filing_day == date(2026, 3, 2)  # type: ignore[attr-defined]
    assert notice.valid_to == date(2026, 2, 28)  # type: ignore[attr-defined]


def test_gyoteho_30_explanation_due_after_the_notice() -> None:
    data = _with("payment_method_change_advance", explanation_due="2025-11-10")
    with pytest.raises(NoticeDataError, match="提出期限"):
        validate_data("payment_method_change_advance", data)


def test_67_3_offset_cannot_exceed_the_withheld_benefits() -> None:
    data = fixtures.load("premium_offset")
    data["premiums"].append({"fiscal_year": 2024, "period": 1, "amount": 200_000})
    with pytest.raises(NoticeDataError, match="超えて"):
        validate_data("premium_offset", data)


def test_69_reduction_months_follow_the_formula() -> None:
    notice = BenefitReduction.model_validate(fixtures.load("benefit_reduction"))
    assert str(notice.formula_value) == "2.40"  # 2² ÷ (2 + 8) × 1/2 × 12
    assert notice.reduction_months == 2
    with pytest.raises(NoticeDataError, match="算定式"):
        validate_data(
            "benefit_reduction", _with("benefit_reduction", reduction_months=3, reduction_to="2026-02-28")
        )
    with pytest.raises(NoticeDataError, match="終了日"):
        validate_data("benefit_reduction", _with("benefit_reduction", reduction_to="2026-02-28"))


def test_69_notice_carries_the_rules_months_for_exact_results() -> None:
    """X=1, Y=2 gives exactly 2 months; rounded ratios (0.3333…) would have printed 1 — the notice takes the
    rule's figures as they are."""
    period = reduction_period(
        [FiscalYearPremium(2016, 3, 0, 3), FiscalYearPremium(2017, 3, 3, 0), FiscalYearPremium(2018, 3, 3, 0)]
    )
    assert period is not None and period.months == 2
    data = _with(
        "benefit_reduction",
        barred_years="1.00",
        paid_years="2.00",
        formula_value=str(period.formula_value),
        reduction_months=period.months,
        reduction_to="2026-01-31",
    )
    assert validate_data("benefit_reduction", data).reduction_months == 2


def test_arrears_unpaid_cannot_exceed_the_premium() -> None:
    data = fixtures.load("payment_method_change")
    data["arrears"][0]["unpaid"] = 99_999
    with pytest.raises(NoticeDataError, match="滞納額"):
        validate_data("payment_method_change", data)


# ------------------------------------------------------------------------------------------------ filters


def test_filters() -> None:
    assert FILTERS["yen"](1234) == "1,234円"
    assert FILTERS["yen"](0) == "0円"
    assert FILTERS["postal"]("0700031") == "〒070-0031"
    assert FILTERS["wareki"](date(2019, 5, 1)) == "令和元年5月1日"
    assert FILTERS["fiscal_year"](2019) == "令和元年度"
    assert FILTERS["wareki_month"](date(2026, 4, 1)) == "令和8年4月"
    with pytest.raises(TypeError):
        FILTERS["yen"](True)
    with pytest.raises(ValueError):
        FILTERS["postal"]("070-0031")


def test_render_html_refuses_bad_data_before_rendering(issuer: Issuer) -> None:
    with pytest.raises(NoticeDataError):
        render_html("expiry_reminder", {"recipient": {}}, issuer)


def test_templates_only_use_literal_names(tmp_path: Path) -> None:
    # template_version() needs every extends/include/import to be a literal name.
    from notices.render import template_version

    for kind in kind_codes():
        assert len(template_version(kind)) == 64


@pytest.mark.parametrize("kind", kind_codes())
def test_stored_data_round_trips_to_the_same_html(kind: str, issuer: Issuer) -> None:
    # A reprint re-renders from the stored JSON (model_dump(mode="json")): it must give the same HTML.
    typed = validate_data(kind, fixtures.load(kind))
    stored = typed.model_dump(mode="json")
    assert render_html(kind, stored, issuer) == render_html(kind, typed, issuer)


def test_66_3_lifting_for_full_payment_leaves_nothing_unpaid() -> None:
    data = fixtures.load("restriction_lifted") | {"remaining_unpaid": 1_000}
    with pytest.raises(NoticeDataError, match="完納"):
        validate_data("restriction_lifted", data)


def test_67_withheld_benefits_are_released_only_where_they_were_withheld() -> None:
    data = fixtures.load("restriction_lifted") | {"lifted_measures": ["payment_method_change"]}
    with pytest.raises(NoticeDataError, match="一時差止をしていない"):
        validate_data("restriction_lifted", data)


def test_68_2_lifting_comes_after_the_insurers_notice() -> None:
    data = fixtures.load("category2_suspension_lifted") | {"lifted_on": "2026-03-01"}
    with pytest.raises(NoticeDataError, match="医療保険者"):
        validate_data("category2_suspension_lifted", data)


def test_66_3_lifting_before_the_change_took_effect_says_it_was_planned(issuer: Issuer) -> None:
    data = fixtures.load("restriction_lifted") | {
        "lifted_measures": ["payment_method_change"],
        "withheld_release_total": 0,
        "lifted_on": "2025-12-20",
    }
    html = render_html("restriction_lifted", data, issuer)
    assert "令和8年1月1日から適用することとしていた給付制限" in html
    in_effect = render_html("restriction_lifted", fixtures.load("restriction_lifted"), issuer)
    assert "適用している給付制限" in in_effect
