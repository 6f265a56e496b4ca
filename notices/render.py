"""Notice rendering: typed data → HTML (Jinja2) → PDF (WeasyPrint). Pure: no database, no clock, no network.

Reprints must be byte-identical, so nothing in the PDF depends on when or where it was made: the creation
date is the 発行日, the file identifier is a hash of the HTML, and font subsets carry a fixed timestamp
(notices.fonts). The same HTML on the same WeasyPrint, fontTools and font versions gives the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta, select_autoescape
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from notices import fonts
from notices.catalogue import get_kind, validate_data
from notices.models import Issuer, NoticeData
from rules.wareki import to_wareki, to_wareki_month, wareki_fiscal_year

TEMPLATE_DIR = Path(__file__).parent / "templates"


class UnprintableCharacterError(ValueError):
    """The notice holds a character the notice typeface cannot draw (it would print as a blank box)."""


@dataclass(frozen=True)
class RenderedNotice:
    kind: str
    html: str
    pdf: bytes
    pages: int
    template_version: str  # store it with the PDF: it says which template text produced it

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


# ------------------------------------------------------------------------------------------------ filters


def _yen(amount: int) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"yen expects an int, got {type(amount).__name__}")
    return f"{amount:,}円"


def _postal(code: str) -> str:
    if not (isinstance(code, str) and len(code) == 7 and code.isascii() and code.isdigit()):
        raise ValueError(f"postal expects 7 digits, got {code!r}")
    return f"〒{code[:3]}-{code[3:]}"


def _wareki(day: date) -> str:
    return to_wareki(day)


def _period(day_from: date, day_to: date) -> str:
    return f"{to_wareki(day_from)}から{to_wareki(day_to)}まで"


FILTERS = {
    "wareki": _wareki,
    "wareki_month": to_wareki_month,
    "fiscal_year": wareki_fiscal_year,
    "period": _period,
    "yen": _yen,
    "postal": _postal,
}


def make_environment(template_dir: Path = TEMPLATE_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(template_dir),
        # HTML templates escape every value (a name is data, never markup); the CSS include is not HTML.
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=1)
def environment() -> Environment:
    return make_environment()


# ---------------------------------------------------------------------------------------------- version


def template_version(kind: str, template_dir: Path = TEMPLATE_DIR) -> str:
    """SHA-256 over the kind's template and everything it extends, includes or imports (base, partials, CSS).

    Any change to the text that shapes the notice changes the version; data does not.
    """
    env = make_environment(template_dir) if template_dir != TEMPLATE_DIR else environment()
    names = _template_closure(env, get_kind(kind).template)
    digest = hashlib.sha256()
    for name in sorted(names):
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        digest.update(name.encode() + b"\0" + source.encode() + b"\0")
    return digest.hexdigest()


def _template_closure(env: Environment, root: str) -> set[str]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        for ref in _references(source):
            if ref is None:
                raise ValueError(f"{name}: template names must be literal so the version can be computed")
            todo.append(ref)
    return seen


@lru_cache(maxsize=256)
def _references(source: str) -> tuple[str | None, ...]:
    """The templates a source names, parsed once per distinct text (a template edited on disk is new text)."""
    return tuple(meta.find_referenced_templates(environment().parse(source)))


# ------------------------------------------------------------------------------------------------- HTML


def render_html(kind: str, data: Mapping[str, Any] | NoticeData, issuer: Issuer | Mapping[str, Any]) -> str:
    """The notice as HTML.

    Raises NoticeDataError for missing or invalid data and UnknownNoticeKind for an unknown code.
    """
    meta_ = get_kind(kind)
    notice = validate_data(kind, data)
    if not isinstance(issuer, Issuer):
        issuer = Issuer.model_validate(issuer)
    template = environment().get_template(meta_.template)
    return template.render(kind=meta_, notice=notice, recipient=notice.recipient, issuer=issuer)


# -------------------------------------------------------------------------------------------------- PDF


def _pdf_options(identity: bytes) -> dict[str, Any]:
    # The file identifier is normally random-ish; a hash of the input makes it reproducible and unique.
    return {"pdf_identifier": hashlib.sha256(identity).hexdigest()[:32].encode()}


def _offline() -> URLFetcher:
    # A notice is self-contained, so nothing is fetched: rendering stays offline and no file or web address
    # can be pulled into a PDF.
    return URLFetcher(allowed_protocols={"data"})


class _FontFetcher(URLFetcher):
    """Hands WeasyPrint the document's cut font from memory, under one fixed name, and fetches nothing else.

    A data: URL would do the same, but WeasyPrint's CSS tokenizer (pure Python) then reads ~160 kB of
    base64 per notice: a fifth of the render time.
    """

    def __init__(self, font: bytes) -> None:
        super().__init__(allowed_protocols=set())
        self._font = font

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        if url != fonts.FONT_URL:
            raise ValueError(f"a notice fetches nothing: {url}")
        return URLFetcherResponse(url, body=self._font, headers={"Content-Type": "font/otf"})


def _stylesheet(text: str) -> tuple[CSS, FontConfiguration]:
    check_printable(text)
    font_config = FontConfiguration()
    fetcher = _FontFetcher(fonts.subset_font(text))
    return CSS(string=fonts.FONT_FACE, font_config=font_config, url_fetcher=fetcher), font_config


def check_printable(html: str) -> None:
    """Raise UnprintableCharacterError if the notice holds a character the typeface cannot draw."""
    missing = fonts.missing_characters(html)
    if missing:
        shown = ", ".join(f"{c} ({'+'.join(f'U+{ord(x):04X}' for x in c)})" for c in missing)
        raise UnprintableCharacterError(f"通知書の書体で印刷できない文字があります: {shown}")


def _pdf_and_pages(html: str) -> tuple[bytes, int]:
    css, font_config = _stylesheet(html)
    document = HTML(string=html, url_fetcher=_offline()).render(stylesheets=[css], font_config=font_config)
    return document.write_pdf(**_pdf_options(html.encode())), len(document.pages)


def render_pdf(html: str) -> bytes:
    """One notice's HTML → PDF bytes (A4). Same HTML → same bytes."""
    return _pdf_and_pages(html)[0]


def render_pdf_batch(htmls: Sequence[str]) -> bytes:
    """Many notices in one PDF (for the print contractor): each keeps its own page x/y; one font subset."""
    if not htmls:
        raise ValueError("no notices to render")
    joined = "\0".join(htmls)
    css, font_config = _stylesheet(joined)
    documents = [
        HTML(string=h, url_fetcher=_offline()).render(stylesheets=[css], font_config=font_config)
        for h in htmls
    ]
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf(**_pdf_options(joined.encode()))


def render_notice(
    kind: str, data: Mapping[str, Any] | NoticeData, issuer: Issuer | Mapping[str, Any]
) -> RenderedNotice:
    """HTML, PDF and template version of one notice: what the service stores when it issues a notice.

    Plain arguments (the stored JSON) and a picklable result, so it can run in a worker process.
    """
    html = render_html(kind, data, issuer)
    pdf, pages = _pdf_and_pages(html)
    return RenderedNotice(kind=kind, html=html, pdf=pdf, pages=pages, template_version=template_version(kind))
