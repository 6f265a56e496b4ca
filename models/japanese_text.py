"""Validation and search keys for Japanese text fields.

Stored names (漢字) are kept exactly as entered: NFC/NFKC would fold CJK compatibility ideographs
(塚 U+FA10 → U+585A) and change a person's legal name. Kana fields are different: they are phonetic
search keys, so NFKC (half-width ｶﾅ → full-width カナ) is applied before validation and storage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Full-width katakana (ァ..ヶ), prolonged sound mark, middle dot, and the space between 姓 and 名.
_KANA_NAME = re.compile(r"[\u30A1-\u30F6\u30FC\u30FB\u3000]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HIRAGANA = re.compile(r"[\u3041-\u3096]")
_WHITESPACE = re.compile(r"\s+")


def normalize_kana_name(value: str) -> str:
    """NFKC, one full-width space between parts; raise ValueError unless the result is katakana."""
    kana = _WHITESPACE.sub("\u3000", unicodedata.normalize("NFKC", value).strip())
    if not kana or not _KANA_NAME.fullmatch(kana):
        raise ValueError("全角カタカナで入力してください")
    return kana


def kana_search_key(value: str) -> str:
    """Key for prefix search: NFKC, hiragana folded to katakana, spaces removed."""
    text = unicodedata.normalize("NFKC", value)
    text = _HIRAGANA.sub(lambda m: chr(ord(m.group()) + 0x60), text)
    return _WHITESPACE.sub("", text)


def check_plain_text(value: str) -> str:
    """Strip surrounding blanks only; refuse control characters (they break notices and logs)."""
    if _CONTROL.search(value):
        raise ValueError("制御文字は使用できません")
    stripped = value.strip()
    if not stripped:
        raise ValueError("空欄にはできません")
    return stripped


def printable_on_notices(label: str) -> Callable[[str], str]:
    """A validator: refuse text the notice typeface cannot draw. Such a name or address would stop the
    case at its notice (the renderer refuses missing glyphs), so it is refused where it is typed, naming
    the character and its code point."""

    def check(value: str) -> str:
        from notices.fonts import missing_characters  # the font's map loads on first use, not on import

        missing = missing_characters(value)
        if missing:
            shown = "、".join(f"{text} ({' '.join(f'U+{ord(c):04X}' for c in text)})" for text in missing)
            raise ValueError(f"{label}に通知書で印刷できない文字があります: {shown}")
        return value

    return check


def ascii_digits(value: object) -> object:
    """'０１２３' → '0123' (NFKC) before a number's pattern is checked, as kana are normalised; other
    input is left for the pattern to refuse."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


def normalize_postal_code(value: str) -> str:
    """'070-0031', '０７０００３１' or '〒0700031' → '0700031'."""
    digits = unicodedata.normalize("NFKC", value).replace("〒", "").replace("-", "").strip()
    if not (len(digits) == 7 and digits.isascii() and digits.isdigit()):
        raise ValueError("郵便番号は7桁の数字で入力してください")
    return digits
