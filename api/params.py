"""Path and query parameters shared by routes: the resident numbers, full-width digits accepted.

A clerk copying a 被保険者番号 from a Japanese document often pastes full-width digits (０１２…); they are
NFKC-normalised before the pattern check, as kana are, so the same number is found however it was typed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from models.japanese_text import ascii_digits
from models.registry import ATENA_NO_PATTERN, INSURED_NO_PATTERN

_DIGITS = BeforeValidator(ascii_digits)

AtenaNoPath = Annotated[str, _DIGITS, Path(pattern=ATENA_NO_PATTERN, description="宛名番号 (数字15桁以内)")]
InsuredNoPath = Annotated[
    str, _DIGITS, Path(pattern=INSURED_NO_PATTERN, description="被保険者番号 (数字10桁)")
]
AtenaNoQuery = Annotated[
    str | None, _DIGITS, Query(pattern=ATENA_NO_PATTERN, description="宛名番号 (数字15桁以内)")
]
InsuredNoQuery = Annotated[
    str | None, _DIGITS, Query(pattern=INSURED_NO_PATTERN, description="被保険者番号 (数字10桁)")
]
HouseholdNoQuery = Annotated[str | None, _DIGITS, Query(pattern=ATENA_NO_PATTERN, description="世帯番号")]
InsuredNoPrefixQuery = Annotated[
    str | None, _DIGITS, Query(pattern=r"^[0-9]{1,10}$", description="被保険者番号 (前方一致)")
]
