"""Test data builders: fictional residents with valid defaults, overridable per test."""

from __future__ import annotations

import itertools
from typing import Any

_numbers = itertools.count(200000000001)


def next_atena_no() -> str:
    return str(next(_numbers))


def person_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "atena_no": next_atena_no(),
        "name_kanji": "試験 花子",
        "name_kana": "シケン ハナコ",
        "birth_date": "1945-06-01",
        "sex": "2",
        "postal_code": "070-0031",
        "address": "北海道旭川市一条通9丁目",
        "address_extra": None,
    }
    payload.update(overrides)
    return payload


def insured_payload(atena_no: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "insured_no": str(int(atena_no) % 10**10).zfill(10),
        "atena_no": atena_no,
        "category": "1",
        "acquired_on": "2010-05-31",
        "acquisition_reason": "age_65",
    }
    payload.update(overrides)
    return payload
