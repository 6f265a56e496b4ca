"""The notice typeface: Noto Sans CJK JP (the noto-cjk-sans-jp-regular wheel), subset per document by us.

Why not let WeasyPrint subset it: without the system HarfBuzz-subset library WeasyPrint falls back to
fontTools with `retain_gids`, which walks every glyph up to the highest one used. Noto CJK has 65,535 CFF
glyphs and kanji such as 険 or 𠮷 sit above 40,000, so that took 3–4 s per PDF; it also stamps the subset
with the current time (head.modified), so two renders of the same notice differed.

So we cut the font down to the characters of the document ourselves (≈0.3 s, deterministic: the timestamp
is kept) and hand WeasyPrint the small font with `full_fonts=True`, which embeds it as is.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from noto_cjk_sans_jp_regular import FONT_PATH

FAMILY = "KaigoNoticeSans"

# Characters WeasyPrint may draw that are not in the HTML text: page counters, and a few marks.
_ALWAYS = "".join(chr(c) for c in range(0x20, 0x7F)) + "\u3000・…―‐–—•◦○●□■※〒"


def font_path() -> Path:
    return Path(str(FONT_PATH)).resolve()


@lru_cache(maxsize=1)
def _source_font() -> bytes:
    """The font file without its layout tables, read once per process.

    GSUB/GPOS/BASE are dropped up front: horizontal Japanese text needs none of their features (WeasyPrint
    drops them from embedded fonts too), and fontTools otherwise re-reads them on every subset.
    """
    font = TTFont(font_path(), recalcTimestamp=False)
    for tag in ("GSUB", "GPOS", "BASE", "GDEF"):
        if tag in font:
            del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def subset_font(text: str) -> bytes:
    """An OpenType font holding exactly the glyphs for `text` (plus `_ALWAYS`), byte-identical each time."""
    options = subset.Options()
    options.notdef_outline = True  # a missing glyph shows as a box, not as nothing
    options.name_IDs = ["*"]
    options.ignore_missing_unicodes = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(c) for c in text + _ALWAYS}))
    font = TTFont(io.BytesIO(_source_font()), recalcTimestamp=False)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def font_face_css(text: str) -> str:
    """An @font-face rule for FAMILY, the subset inlined as a data: URL (nothing written to disk)."""
    data = base64.b64encode(subset_font(text)).decode("ascii")
    return f'@font-face {{ font-family: "{FAMILY}"; src: url("data:font/otf;base64,{data}"); }}\n'


def missing_characters(text: str) -> set[str]:
    """Characters of `text` the typeface cannot draw (a name in a character outside Noto CJK JP)."""
    cmap = _cmap()
    return {c for c in set(text) if ord(c) not in cmap and not c.isspace() and ord(c) >= 0x20}


@lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    return frozenset(TTFont(io.BytesIO(_source_font()))["cmap"].getBestCmap())
