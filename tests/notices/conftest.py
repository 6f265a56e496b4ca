"""Render every fixture once per test session: a PDF takes about half a second."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from notices import fixtures
from notices.catalogue import kind_codes
from notices.models import Issuer
from notices.render import render_html, render_pdf


@dataclass(frozen=True)
class Rendered:
    html: str
    pdf: bytes


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return fixtures.issuer()


@pytest.fixture(scope="session")
def rendered(issuer: Issuer) -> dict[str, Rendered]:
    out = {}
    for kind in kind_codes():
        html = render_html(kind, fixtures.load(kind), issuer)
        out[kind] = Rendered(html=html, pdf=render_pdf(html))
    return out
