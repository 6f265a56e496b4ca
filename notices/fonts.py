"""The notice typeface: Noto Sans CJK JP (the noto-cjk-sans-jp-regular wheel), cut down per document.

Why we subset first: without the system HarfBuzz-subset library WeasyPrint subsets with fontTools and
`retain_gids`, which walks every glyph up to the highest one used. Noto CJK has 65,535 CFF glyphs and kanji
such as 険 or 𠮷 sit above 40,000, so a one-page notice took 3–4 s. We cut the font down to the characters
of the document (≈0.3 s) and give WeasyPrint that small font, which it then subsets in milliseconds. Its
own subsetting is kept because it builds the PDF's ToUnicode map from the laid-out text, so 異体字 (IVS)
glyphs still extract as their characters.

Why SOURCE_DATE_EPOCH: fontTools stamps every font it saves with the current time (head.modified) unless
that variable is set (the reproducible-builds convention), so two renders of the same notice differed. It
is set once, at import, before any thread renders; nothing else in the service reads it.
"""

from __future__ import annotations

import base64
import io
import os
import unicodedata
from functools import lru_cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from noto_cjk_sans_jp_regular import FONT_PATH

os.environ["SOURCE_DATE_EPOCH"] = "0"  # see the module docstring: fixed font timestamps, identical reprints

FAMILY = "KaigoNoticeSans"

# Characters WeasyPrint may draw that are not in the HTML text: page counters, and a few marks.
_ALWAYS = "".join(chr(c) for c in range(0x20, 0x7F)) + "\u3000・…―‐–—•◦○●□■※〒"


def font_path() -> Path:
    return Path(str(FONT_PATH)).resolve()


@lru_cache(maxsize=1)
def _source_font() -> bytes:
    """The font file without the tables notices never use, read once per process.

    Layout features (GSUB/GPOS/BASE/GDEF) and vertical metrics (vhea/vmtx/VORG) serve vertical writing and
    proportional forms; notices are horizontal and full-width, WeasyPrint drops GSUB/GPOS from embedded
    fonts anyway, and fontTools would otherwise re-read them on every subset.
    """
    font = TTFont(font_path(), recalcTimestamp=False)
    for tag in ("GSUB", "GPOS", "BASE", "GDEF", "vhea", "vmtx", "VORG", "DSIG"):
        if tag in font:
            del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def subset_font(text: str) -> bytes:
    """An OpenType font with exactly the glyphs for `text` (plus `_ALWAYS`); the same bytes every time."""
    options = subset.Options()
    options.notdef_outline = True  # a missing glyph shows as a box, not as nothing
    options.name_IDs = ["*"]
    options.ignore_missing_unicodes = True
    options.desubroutinize = True  # faster than working out which subroutines the kept glyphs use
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(c) for c in text + _ALWAYS}))
    # The full font's bounding box stays valid for a subset, and recomputing it costs a pass over the glyphs.
    font = TTFont(io.BytesIO(_source_font()), recalcTimestamp=False, recalcBBoxes=False)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def font_face_css(text: str) -> str:
    """An @font-face rule for FAMILY, the subset inlined as a data: URL (nothing written to disk)."""
    data = base64.b64encode(subset_font(text)).decode("ascii")
    return f'@font-face {{ font-family: "{FAMILY}"; src: url("data:font/otf;base64,{data}"); }}\n'


def missing_characters(text: str) -> list[str]:
    """What in `text` the typeface cannot draw: plain characters, and 異体字 sequences (base + IVS selector)
    that the font does not define. Format characters (zero-width space, BOM) draw nothing and pass."""
    cmap, sequences = _cmap()
    missing = []
    previous = ""
    for char in text:
        code = ord(char)
        if _is_variation_selector(code):
            if (ord(previous or " "), code) not in sequences:
                missing.append(previous + char)
        elif code >= 0x20 and code not in cmap and not char.isspace() and unicodedata.category(char) != "Cf":
            missing.append(char)
        previous = char
    return sorted(set(missing))


def _is_variation_selector(code: int) -> bool:
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


@lru_cache(maxsize=1)
def _cmap() -> tuple[frozenset[int], frozenset[tuple[int, int]]]:
    table = TTFont(io.BytesIO(_source_font()))["cmap"]
    sequences = {
        (base, selector)
        for sub in table.tables
        if sub.format == 14
        for selector, pairs in sub.uvsDict.items()
        for base, _glyph in pairs
    }
    return frozenset(table.getBestCmap()), frozenset(sequences)
