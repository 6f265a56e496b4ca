"""Notice rendering speed: our renderer vs bare WeasyPrint on the same HTML, single notices and a batch.

    .venv/bin/python bench/bench_notices.py [--single 14] [--bare-single 4] [--batch 100]

"Bare WeasyPrint" is HTML(string=…).write_pdf() with the wheel's font loaded by an @font-face file:// URL,
i.e. what one writes first. Ours differs only in the font handling (notices.fonts: we cut the font down to
the document's characters before WeasyPrint subsets it); the layout work is the same. Times are wall-clock
ms per PDF page and per notice, after one warm-up render.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable, Sequence

import pypdf
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from notices import fixtures, fonts
from notices.catalogue import kind_codes
from notices.render import render_html, render_pdf, render_pdf_batch

_FILE_FONT = f'@font-face {{ font-family: "{fonts.FAMILY}"; src: url("{fonts.font_path().as_uri()}"); }}'


def bare_pdf(html: str) -> bytes:
    font_config = FontConfiguration()
    css = CSS(string=_FILE_FONT, font_config=font_config)
    return HTML(string=html).write_pdf(stylesheets=[css], font_config=font_config)


def bare_pdf_batch(htmls: Sequence[str]) -> bytes:
    font_config = FontConfiguration()
    css = CSS(string=_FILE_FONT, font_config=font_config)
    documents = [HTML(string=h).render(stylesheets=[css], font_config=font_config) for h in htmls]
    return documents[0].copy([p for d in documents for p in d.pages]).write_pdf()


def pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def timed(render: Callable[[], bytes]) -> tuple[float, int]:
    start = time.perf_counter()
    pdf = render()
    return time.perf_counter() - start, pages(pdf)


def per_page(runs: list[tuple[float, int]], notices: int | None = None) -> str:
    seconds = sum(r[0] for r in runs)
    count = sum(r[1] for r in runs)
    notices = notices or len(runs)
    return (
        f"{1000 * seconds / count:6.0f} ms/page {1000 * seconds / notices:6.0f} ms/notice"
        f"  ({notices} notices, {count} pages, {len(runs)} PDF(s), {seconds:5.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=14, help="single notices through our renderer")
    parser.add_argument("--bare-single", type=int, default=4, help="single notices through bare WeasyPrint")
    parser.add_argument("--batch", type=int, default=100, help="notices in the one-document batch")
    args = parser.parse_args()

    issuer = fixtures.issuer()
    kinds = kind_codes()
    htmls = [render_html(k, fixtures.load(k), issuer) for k in kinds]

    start = time.perf_counter()
    render_pdf(htmls[0])
    cold = time.perf_counter() - start  # includes reading the 16 MB font once per process
    bare_pdf(htmls[0])  # warm WeasyPrint's own caches too, so neither side pays them below

    def cycle(n: int) -> list[str]:
        return [htmls[i % len(htmls)] for i in range(n)]

    ours = [timed(lambda h=h: render_pdf(h)) for h in cycle(args.single)]
    bare = [timed(lambda h=h: bare_pdf(h)) for h in cycle(args.bare_single)]
    same = [timed(lambda h=h: render_pdf(h)) for h in cycle(args.bare_single)]

    batch_htmls = cycle(args.batch)
    batch_ours = timed(lambda: render_pdf_batch(batch_htmls))
    batch_bare = timed(lambda: bare_pdf_batch(batch_htmls))

    print(f"first render in a fresh process (ours): {1000 * cold:.0f} ms")
    print()
    batch = f"{args.batch} notices as one PDF"
    rows = [
        ("scenario", "renderer", "result"),
        ("single notices, all kinds", "ours", per_page(ours)),
        ("single notices, first kinds", "ours", per_page(same)),
        ("single notices, first kinds", "bare WeasyPrint", per_page(bare)),
        (batch, "ours", per_page([batch_ours], args.batch)),
        (batch, "bare WeasyPrint", per_page([batch_bare], args.batch)),
    ]
    for scenario, renderer, result in rows:
        print(f"{scenario:<30} {renderer:<16} {result}")


if __name__ == "__main__":
    main()
