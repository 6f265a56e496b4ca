"""Kana fields are normalised search keys; kanji names are stored exactly as entered."""

import pytest

from models.japanese_text import (
    check_plain_text,
    kana_search_key,
    normalize_kana_name,
    normalize_postal_code,
)


def test_half_width_kana_becomes_full_width_with_one_ideographic_space() -> None:
    assert normalize_kana_name("ﾔﾏﾀﾞ  ﾀﾛｳ") == "ヤマダ\u3000タロウ"


@pytest.mark.parametrize("bad", ["山田", "やまだ", "YAMADA", "ヤマダ1", "", "   "])
def test_kana_name_refuses_anything_but_katakana(bad: str) -> None:
    with pytest.raises(ValueError, match="全角カタカナ"):
        normalize_kana_name(bad)


def test_search_key_folds_hiragana_half_width_and_spaces() -> None:
    assert kana_search_key("やまだ たろう") == kana_search_key("ﾔﾏﾀﾞﾀﾛｳ") == "ヤマダタロウ"


def test_plain_text_keeps_compatibility_ideographs() -> None:
    # 塚 U+FA10 would become U+585A under NFC/NFKC; a legal name must not change.
    assert check_plain_text(" \ufa10本 ") == "\ufa10本"


def test_plain_text_refuses_control_characters() -> None:
    with pytest.raises(ValueError, match="制御文字"):
        check_plain_text("山田\n太郎")


@pytest.mark.parametrize("raw", ["070-0031", "0700031", "〒070-0031", "０７０－００３１"])
def test_postal_code_forms(raw: str) -> None:
    assert normalize_postal_code(raw) == "0700031"


@pytest.mark.parametrize("bad", ["070-003", "07000311", "abc-defg"])
def test_postal_code_refuses_wrong_length_or_letters(bad: str) -> None:
    with pytest.raises(ValueError, match="7桁"):
        normalize_postal_code(bad)
