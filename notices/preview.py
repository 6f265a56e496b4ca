"""Preview images of every notice kind, rendered from the fixtures, and a Markdown page showing them.

    .venv/bin/python -m notices.preview            # writes docs/notices/*.png and docs/notices.md

Rasterising uses poppler's `pdftoppm` (apt-get install poppler-utils); it is only needed for previews.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from notices import fixtures
from notices.catalogue import CATALOGUE
from notices.render import render_html, render_pdf

DPI = 80  # enough to read the text; keeps the committed PNGs small


class PreviewToolMissing(RuntimeError):
    pass


def _pdftoppm() -> str:
    path = shutil.which("pdftoppm")
    if path is None:
        raise PreviewToolMissing(
            "pdftoppm not found: previews need poppler-utils (Debian: apt-get install -y poppler-utils)"
        )
    return path


def _rasterise(pdf: bytes, stem: Path, tool: str) -> list[Path]:
    """Every page of `pdf` as PNG: stem.png for page 1, stem-2.png for page 2 …"""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "notice.pdf"
        source.write_bytes(pdf)
        subprocess.run([tool, "-png", "-r", str(DPI), str(source), str(Path(tmp) / "page")], check=True)
        pages = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        out = []
        for number, page in enumerate(pages, start=1):
            target = stem.with_name(stem.name + ("" if number == 1 else f"-{number}") + ".png")
            shutil.move(page, target)
            out.append(target)
    return out


def write_previews(out_dir: Path, markdown: Path | None = None) -> Path:
    """Render each fixture, write its pages as PNG into `out_dir`, and a Markdown page next to it.

    Returns the Markdown path (default: `out_dir` with a .md suffix, e.g. docs/notices.md).
    """
    tool = _pdftoppm()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    markdown = markdown or out_dir.with_suffix(".md")
    issuer = fixtures.issuer()
    sections = []
    for code, kind in CATALOGUE.items():
        pdf = render_pdf(render_html(code, fixtures.load(code), issuer))
        images = _rasterise(pdf, out_dir / code, tool)
        links = "\n".join(
            f"![{kind.title} p.{n}]({image.relative_to(markdown.parent).as_posix()})"
            for n, image in enumerate(images, start=1)
        )
        nature = "処分 (教示あり)" if kind.disposition else "処分ではない (教示なし)"
        sections.append(
            f"## {kind.title}\n\n`{code}` — {nature} — {kind.basis} — {len(images)} page(s)\n\n{links}\n"
        )
    index = "\n".join(
        f"| `{code}` | {kind.title} | {'yes' if kind.disposition else 'no'} | {kind.basis} |"
        for code, kind in CATALOGUE.items()
    )
    markdown.write_text(
        "# Notices (通知書): previews\n\n"
        "Generated from `notices/fixtures/*.json` (fictional people) by\n"
        "`.venv/bin/python -m notices.preview`; do not edit by hand. Page images are at 80 dpi; the PDFs\n"
        "are A4. The window-envelope block (〒, 住所, 方書, 宛名) sits where a 長形3号 window is when\n"
        "the sheet is folded in three. The PDF text of each kind is pinned by\n"
        "`tests/notices/golden/<kind>.txt`; regenerate them with\n"
        "`UPDATE_GOLDEN=1 .venv/bin/pytest tests/notices` and review the diff.\n\n"
        "| kind | title | 処分 (教示) | basis |\n|---|---|---|---|\n"
        f"{index}\n\n" + "\n".join(sections),
        encoding="utf-8",
    )
    return markdown


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path("docs/notices")
    try:
        markdown = write_previews(out_dir)
    except PreviewToolMissing as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(f"wrote {markdown} and {out_dir}/*.png\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
