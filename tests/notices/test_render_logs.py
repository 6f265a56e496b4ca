"""Rendering a notice leaves the log quiet: no per-notice narration from WeasyPrint or fontTools, and no
warning about our own stylesheet (each such line was repeated for every notice issued)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from kaigo.logs import QUIET_LIBRARIES, configure_logging
from notices import fixtures
from notices.render import render_html, render_pdf


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIET_LIBRARIES}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_rendering_a_notice_writes_no_log_line(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")  # the service's own set-up, at the level the dev stack runs
    html = render_html("certification_result", fixtures.load("certification_result"), fixtures.issuer())
    render_pdf(html)
    render_pdf(html)
    assert capsys.readouterr().out == ""


def test_a_library_warning_still_reaches_the_log(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("weasyprint").warning("Font-face %r cannot be loaded", "X")
    assert "cannot be loaded" in capsys.readouterr().out
