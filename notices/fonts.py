"""The notice typeface: Noto Sans CJK JP (the noto-cjk-sans-jp-regular wheel), cut down per document.

Why we cut first: WeasyPrint subsets the fonts it embeds but keeps their glyph ids (retain-gids). Noto CJK
has 65,535 glyphs and kanji such as 険 or 𠮷 sit above 40,000, so the full font embeds ~40,000 empty glyph
slots (a PDF four times larger), and where the system HarfBuzz-subset library is missing WeasyPrint falls
back to fontTools, which takes seconds per notice. HarfBuzz's own subsetter (the uharfbuzz wheel, C code)
cuts the full font down to the document's characters in about 10 ms and keeps the layout tables, so lines
break exactly as with the full font. WeasyPrint then subsets that small font in milliseconds and builds the
PDF's ToUnicode map from the laid-out text, so 異体字 (IVS) glyphs still extract as their characters.

The font file is mapped once per process (hb.Blob) and its character map read once; nothing is parsed per
notice. The same text gives the same font bytes (HarfBuzz writes no timestamp).

Why SOURCE_DATE_EPOCH: without the HarfBuzz-subset system library WeasyPrint re-saves the font with
fontTools, which stamps the current time (head.modified) unless that variable is set (the reproducible-builds
convention). It is set once, at import, before anything renders; nothing else in the service reads it.
"""

from __future__ import annotations

import os
import unicodedata
from functools import lru_cache
from pathlib import Path

import uharfbuzz as hb
from noto_cjk_sans_jp_regular import FONT_PATH

os.environ["SOURCE_DATE_EPOCH"] = "0"  # see the module docstring: fixed font timestamps, identical reprints

FAMILY = "KaigoNoticeSans"

# Characters WeasyPrint may draw that are not in the HTML text: page counters, and a few marks.
_ALWAYS = "".join(chr(c) for c in range(0x20, 0x7F)) + "\u3000・…―‐–—•◦○●□■※〒"
# Vertical-writing metrics serve no horizontal notice; dropping them keeps each cut smaller.
_DROPPED_TABLES = ("vhea", "vmtx", "VORG", "DSIG")


def font_path() -> Path:
    return Path(str(FONT_PATH)).resolve()


@lru_cache(maxsize=1)
def _face() -> hb.Face:
    """The full font, memory-mapped once per process (HarfBuzz reads only the tables it needs)."""
    return hb.Face(hb.Blob.from_file_path(str(font_path())))


def subset_font(text: str) -> bytes:
    """An OpenType font with exactly the glyphs for `text` (plus `_ALWAYS`); the same bytes every time.

    Variation selectors in `text` keep their 異体字 glyphs (the cmap's format-14 subtable is cut too).
    """
    request = hb.SubsetInput()
    for code in sorted({ord(c) for c in text + _ALWAYS}):
        request.unicode_set.add(code)
    for tag in _DROPPED_TABLES:
        request.drop_table_tag_set.add(_tag(tag))
    request.name_id_set.invert()  # keep every name record (family, licence), as the full font has them
    # A missing glyph shows as a box, not as nothing; flat charstrings are faster than working out which
    # subroutines the kept glyphs use.
    request.flags = hb.SubsetFlags.NOTDEF_OUTLINE | hb.SubsetFlags.DESUBROUTINIZE
    face = hb.subset(_face(), request)
    if face is None:  # HarfBuzz refuses only a font it cannot read: the installed font file is broken
        raise RuntimeError(f"HarfBuzz could not subset {font_path()}")
    return face.blob.data


def _tag(name: str) -> int:
    """An OpenType table tag as HarfBuzz's sets hold it (four ASCII bytes, big-endian)."""
    return int.from_bytes(name.encode("ascii"), "big")


# Where the notice stylesheet finds the cut font; notices.render serves it from memory under this name.
FONT_URL = "kaigo-notice-font:subset.otf"
FONT_FACE = f'@font-face {{ font-family: "{FAMILY}"; src: url("{FONT_URL}"); }}\n'


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
    face = _face()
    sequences = {
        (base, selector)
        for selector in face.variation_selectors
        for base in face.variation_unicodes(selector)
    }
    return frozenset(face.unicodes), frozenset(sequences)
