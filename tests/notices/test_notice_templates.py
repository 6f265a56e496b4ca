"""Golden tests of every notice kind: the PDF text, the page count, the 教示, rare kanji, reprints.

Regenerate the goldens after an intended wording or layout change, then review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/notices
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pypdf
import pytest
from weasyprint import HTML

from notices import fixtures
from notices.catalogue import CATALOGUE, kind_codes
from notices.models import Issuer
from notices.numbering import document_no, fiscal_year_of
from notices.render import (
    TEMPLATE_DIR,
    UnprintableCharacterError,
    render_html,
    render_pdf,
    render_pdf_batch,
    template_version,
)
from tests.notices.conftest import Rendered

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
A4_POINTS = (595.28, 841.89)
KYOUJI = "【教示】"
DISPOSITIONS = [code for code, kind in CATALOGUE.items() if kind.disposition]
NOT_DISPOSITIONS = [code for code, kind in CATALOGUE.items() if not kind.disposition]


def pdf_pages(pdf: bytes) -> list[pypdf.PageObject]:
    return list(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdf_text(pdf: bytes) -> str:
    pages = pdf_pages(pdf)
    parts = []
    for number, page in enumerate(pages, start=1):
        lines = [line.rstrip() for line in page.extract_text().splitlines()]
        parts.append(f"=== page {number}/{len(pages)} ===\n" + "\n".join(lines).strip() + "\n")
    return "".join(parts)


@pytest.mark.parametrize("kind", kind_codes())
def test_pdf_text_matches_golden(kind: str, rendered: dict[str, Rendered]) -> None:
    text = pdf_text(rendered[kind].pdf)
    golden = GOLDEN_DIR / f"{kind}.txt"
    if UPDATE_GOLDEN:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden for {kind}: run UPDATE_GOLDEN=1 .venv/bin/pytest tests/notices"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", kind_codes())
def test_one_or_two_a4_pages(kind: str, rendered: dict[str, Rendered]) -> None:
    pages = pdf_pages(rendered[kind].pdf)
    assert 1 <= len(pages) <= 2
    for page in pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx(A4_POINTS, abs=0.5)


@pytest.mark.parametrize("kind", kind_codes())
def test_every_notice_prints_the_header_block(kind: str, rendered: dict[str, Rendered]) -> None:
    data = fixtures.load(kind)
    text = pdf_text(rendered[kind].pdf)
    recipient = data["recipient"]
    for expected in (
        CATALOGUE[kind].title,
        recipient["insured_no"],
        f"{recipient['name']}　様",
        recipient["address"],
        data["document_no"],
        "旭川市長　○○　○○",  # the office and the mayor's name (settings), then the seal line
        "（公印省略）",
        "〒" + recipient["postal_code"][:3] + "-" + recipient["postal_code"][3:],
        "1 / ",
    ):
        assert expected in text, expected


@pytest.mark.parametrize("kind", kind_codes())
def test_pages_after_the_first_name_the_document_and_the_addressee(
    kind: str, rendered: dict[str, Rendered]
) -> None:
    data = fixtures.load(kind)
    running = f"{data['document_no']}　{data['recipient']['name']}　様"
    first, *rest = [page.extract_text() for page in pdf_pages(rendered[kind].pdf)]
    assert running not in first  # page 1 has the full header block instead
    for text in rest:
        assert running in text.splitlines()


def test_issuer_lines_come_from_the_settings(issuer: Issuer) -> None:
    mayor = issuer.model_copy(update={"mayor_name": "旭山　動子"})
    text = pdf_text(render_pdf(render_html("expiry_reminder", fixtures.load("expiry_reminder"), mayor)))
    assert "旭川市長　旭山　動子\n（公印省略）" in text


@pytest.mark.parametrize("kind", kind_codes())
def test_fixtures_are_numbered_as_live_notices_are(kind: str) -> None:
    data = fixtures.load(kind)
    number = int(data["document_no"].rsplit("第", 1)[1].removesuffix("号"))
    fiscal_year = fiscal_year_of(date.fromisoformat(data["issue_date"]))
    assert data["document_no"] == document_no(kind, fiscal_year, number)


@pytest.mark.parametrize("kind", DISPOSITIONS)
def test_gyoshinho_82_every_disposition_carries_the_kyouji(kind: str, rendered: dict[str, Rendered]) -> None:
    text = pdf_text(rendered[kind].pdf)
    assert text.count(KYOUJI) == 1
    compact = text.replace("\n", "")
    for element in (
        "北海道介護保険審査会に対して、文書又は口頭で審査請求をすることができます",
        "知った日の翌日から起算して3か月以内",  # 介護保険法192条
        "裁決を経た後でなければ提起することができません（介護保険法第196条）",
        "行政事件訴訟法第8条第2項",
        "旭川市を被告として",
        "旭川市長となります",
        "裁決の日から1年を経過すると",
    ):
        assert element in compact, element


@pytest.mark.parametrize("kind", NOT_DISPOSITIONS)
def test_a_notice_that_is_not_a_disposition_has_no_kyouji(kind: str, rendered: dict[str, Rendered]) -> None:
    assert KYOUJI not in pdf_text(rendered[kind].pdf)
    assert "審査請求をすることができます（介護保険法" not in rendered[kind].html


@pytest.mark.parametrize("kind", ["certification_denial", "certification_revocation"])
def test_gyoteho_8_and_14_refusals_and_revocations_state_reasons(
    kind: str, rendered: dict[str, Rendered]
) -> None:
    text = pdf_text(rendered[kind].pdf)
    assert "\n理由\n" in text
    assert fixtures.load(kind)["reasons"][0][:20] in text.replace("\n", "")


@pytest.mark.parametrize("kind", ["payment_method_change_advance", "category2_suspension_advance"])
def test_gyoteho_30_advance_notice_items_and_the_bemmei_form(
    kind: str, rendered: dict[str, Rendered]
) -> None:
    pages = [page.extract_text() for page in pdf_pages(rendered[kind].pdf)]
    first = pages[0].replace("\n", "")
    for item in (
        "予定される処分の内容及び根拠となる法令の条項",
        "処分の原因となる事実",
        "弁明書の提出先及び提出期限",
    ):
        assert item in first
    assert "介護保険法第6" in first  # 66条 or 68条
    assert "提出期限" in first and fixtures.issuer().department_name in first
    assert len(pages) == 2
    form = pages[1].replace(" ", "")  # the form title is letter-spaced: 弁 明 書
    assert (
        form.startswith("弁明書")
        and "弁明の内容" in form
        and fixtures.load(kind)["recipient"]["insured_no"] in form
    )


def test_rare_kanji_render_and_extract(rendered: dict[str, Rendered]) -> None:
    text = pdf_text(rendered["certification_result"].pdf)
    assert "髙﨑　𠮷子" in text
    for char in ("\u9ad9", "\ufa11", "\U00020bb7"):  # 髙, 﨑 (compatibility ideograph), 𠮷 (outside the BMP)
        assert char in text


@pytest.mark.parametrize("kind", kind_codes())
def test_only_the_notice_typeface_is_embedded(kind: str, rendered: dict[str, Rendered]) -> None:
    for page in pdf_pages(rendered[kind].pdf):
        fonts = page["/Resources"]["/Font"]
        names = {str(font.get_object()["/BaseFont"]).split("+")[-1] for font in fonts.values()}
        assert names == {"KaigoNoticeSans"}


def test_autoescape_a_name_is_data_not_markup(issuer: Issuer) -> None:
    data = fixtures.load("expiry_reminder")
    data["recipient"]["name"] = '<script>alert("x")</script>'
    html = render_html("expiry_reminder", data, issuer)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'font-family: "KaigoNoticeSans"' in html  # the included stylesheet is not escaped
    text = pdf_text(render_pdf(html))
    assert '<script>alert("x")</script>　様' in text


def test_reprint_is_byte_identical(rendered: dict[str, Rendered]) -> None:
    first = rendered["payment_method_change_advance"]
    assert render_pdf(first.html) == first.pdf


def test_reprint_in_another_process_is_byte_identical(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    html_file = tmp_path / "notice.html"
    html_file.write_text(rendered["certification_result"].html, encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from notices.render import render_pdf; "
        "sys.stdout.buffer.write(render_pdf(Path(sys.argv[1]).read_text(encoding='utf-8')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(html_file)], capture_output=True, check=True, cwd=Path.cwd()
    )
    assert result.stdout == rendered["certification_result"].pdf


def test_pdf_metadata_is_the_notice_not_the_clock(rendered: dict[str, Rendered]) -> None:
    metadata = pypdf.PdfReader(io.BytesIO(rendered["certification_result"].pdf)).metadata
    assert metadata is not None
    assert metadata["/CreationDate"] == "D:20251119"  # the 発行日
    assert metadata["/Title"] == "要介護認定・要支援認定結果通知書"


def test_batch_keeps_each_notices_page_numbers(rendered: dict[str, Rendered]) -> None:
    kinds = ["certification_result", "payment_method_change", "expiry_reminder"]
    pdf = render_pdf_batch([rendered[k].html for k in kinds])
    pages = pdf_pages(pdf)
    expected_pages = [len(pdf_pages(rendered[k].pdf)) for k in kinds]
    assert len(pages) == sum(expected_pages)
    footers = [page.extract_text().splitlines()[-1] for page in pages]
    expected = [f"{i} / {n}" for n in expected_pages for i in range(1, n + 1)]
    assert footers == expected
    assert render_pdf_batch([rendered[k].html for k in kinds]) == pdf


def test_a_character_the_typeface_lacks_is_refused(issuer: Issuer) -> None:
    data = fixtures.load("expiry_reminder")
    data["recipient"]["name"] = "山田　\ue000子"  # a private-use 外字 code point
    with pytest.raises(UnprintableCharacterError, match="U\\+E000"):
        render_pdf(render_html("expiry_reminder", data, issuer))


def test_ivs_variants_of_a_name_print_and_unknown_sequences_are_refused(issuer: Issuer) -> None:
    data = fixtures.load("expiry_reminder")
    data["recipient"]["name"] = "葛\U000e0100城　一郎"  # 葛 with an IVS the font defines (Adobe-Japan1)
    pdf = render_pdf(render_html("expiry_reminder", data, issuer))
    assert "葛\U000e0100城　一郎　様" in pdf_text(pdf)  # the variant glyph extracts as base + selector
    data["recipient"]["name"] = "葛\U000e01ef城　一郎"  # a selector the font has no glyph for
    with pytest.raises(UnprintableCharacterError, match="U\\+845B\\+U\\+E01EF"):
        render_pdf(render_html("expiry_reminder", data, issuer))


def test_rendering_fetches_nothing() -> None:
    image = Path(__file__).parents[2] / "docs" / "notices" / "expiry_reminder.png"  # any local file
    html = f'<html><body><p>通知</p><img style="width: 20mm" src="{image.as_uri()}"></body></html>'
    (loaded,) = pdf_pages(HTML(string=html).write_pdf())  # control: WeasyPrint's default fetcher loads it
    assert loaded["/Resources"]["/XObject"]
    (page,) = pdf_pages(render_pdf(html))
    assert not page["/Resources"].get("/XObject")


# ----------------------------------------------------------------------------------------- template version


def test_template_version_is_stable_and_per_kind() -> None:
    # Stable: another interpreter, with other string hashes (set order), computes the same versions.
    kinds = ["certification_result", "expiry_reminder"]
    script = f"from notices.render import template_version as v; print(*map(v, {kinds!r}))"
    other = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert other.stdout.split() == [
        template_version("certification_result"),
        template_version("expiry_reminder"),
    ]
    assert len({template_version(kind) for kind in kind_codes()}) == len(kind_codes())


def test_template_version_changes_with_the_base_layout_and_partials(tmp_path: Path) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, copy)
    kind = "payment_method_change"
    original = template_version(kind)
    assert template_version(kind, copy) == original

    (copy / "base.html").write_text((copy / "base.html").read_text() + "\n<!-- layout change -->\n")
    changed_base = template_version(kind, copy)
    assert changed_base != original

    kyouji = copy / "partials" / "kyouji.html"
    kyouji.write_text(kyouji.read_text().replace("3か月以内", "三か月以内"))
    assert template_version(kind, copy) != changed_base

    style = copy / "style.css"
    before_style = template_version(kind, copy)
    style.write_text(style.read_text() + "\n/* margin tweak */\n")
    assert template_version(kind, copy) != before_style


def test_template_version_ignores_other_kinds_templates(tmp_path: Path) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, copy)
    (copy / "expiry_reminder.html").write_text("{% extends 'base.html' %}")
    assert template_version("certification_result", copy) == template_version("certification_result")
