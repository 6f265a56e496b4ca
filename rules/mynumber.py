"""個人番号 (My Number) check digit — 行政手続における特定の個人を識別するための番号の利用等に関する法律
施行規則 第5条.

Digits 1–11 weighted 6 5 4 3 2 7 6 5 4 3 2 (left to right); r = Σ mod 11; check = 0 if r ≤ 1 else 11 − r.
Only ASCII digits are accepted: full-width digits are an input error, not something to fix silently.
"""

from __future__ import annotations

_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(first_eleven: str) -> int:
    remainder = sum(int(d) * w for d, w in zip(first_eleven, _WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_my_number(value: str) -> bool:
    return (
        len(value) == 12 and value.isascii() and value.isdigit() and check_digit(value[:11]) == int(value[11])
    )


def my_number_problem(value: str) -> str | None:
    """A Japanese message saying what is wrong with `value`, or None when it is a valid 個人番号."""
    if not (value.isascii() and value.isdigit()) or len(value) != 12:
        return "個人番号は半角数字12桁で入力してください"
    if not is_valid_my_number(value):
        return "個人番号のチェックデジットが一致しません。入力内容を確認してください"
    return None


def mask(value: str) -> str:
    """'123456789018' → '********9018' (for staff who may see that a number is on file)."""
    return "*" * 8 + value[-4:]
