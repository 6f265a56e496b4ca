"""Validation and search keys for Japanese text fields.

Stored names (漢字) are kept exactly as entered: NFC/NFKC would fold CJK compatibility ideographs
(塚 U+FA10 → U+585A) and change a person's legal name. Kana fields are different: they are phonetic
search keys, so NFKC (half-width ｶﾅ → full-width カナ) is applied before validation and storage.
"""

from __future__ import annotations

import re
import unicodedata

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


def normalize_postal_code(value: str) -> str:
    """'070-0031', '０７０００３１' or '〒0700031' → '0700031'."""
    digits = unicodedata.normalize("NFKC", value).replace("〒", "").replace("-", "").strip()
    if not (len(digits) == 7 and digits.isascii() and digits.isdigit()):
        raise ValueError("郵便番号は7桁の数字で入力してください")
    return digits
