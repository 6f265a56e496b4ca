"""Previews need poppler's pdftoppm; without it they stop with a message that says what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from notices.preview import PreviewToolMissing, main, write_previews


def test_missing_pdftoppm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no pdftoppm on PATH
    with pytest.raises(PreviewToolMissing, match="poppler-utils"):
        write_previews(tmp_path / "out")
    assert main([str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


def test_committed_previews_cover_every_kind() -> None:
    from notices.catalogue import CATALOGUE

    docs = Path(__file__).parents[2] / "docs"
    page = (docs / "notices.md").read_text(encoding="utf-8")
    for code, kind in CATALOGUE.items():
        assert (docs / "notices" / f"{code}.png").is_file()
        assert f"## {kind.title}" in page
