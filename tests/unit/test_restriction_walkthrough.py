"""The README's 給付制限 walkthrough (docs/restriction_walkthrough.sh): every body file is used by the script,
every placeholder is one it fills in, and every body is accepted by today's models."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from api.routes.premiums import CSV_EXAMPLE
from models.premium_csv import parse_payment_csv
from models.restriction import AssessmentBatch, PaymentIn, ScanRequest
from models.restriction_tasks import ExplanationRecord, ExplanationReview

DOCS = Path(__file__).resolve().parents[2] / "docs"
BODIES = DOCS / "restriction_walkthrough"
SCRIPT = (DOCS / "restriction_walkthrough.sh").read_text()
VALUES = {
    "INSURED_NO": "0100000123",
    "STAMP": "1796000000",
    "TODAY": "2026-12-01",
    "TODAY_YYYYMMDD": "20261201",
    **{f"DUE_{k}": due for k, due in enumerate(["2025-10-31", "2025-11-30", "2025-12-31", "2026-01-31"], 1)},
    **{f"FY_{k}": "2025" for k in range(1, 5)},
    **{f"PERIOD_{k}": str(k) for k in range(1, 5)},
}
MODELS = {
    "assessments.json": AssessmentBatch,
    "scan.json": ScanRequest,
    "explanation.json": ExplanationRecord,
    "explanation_review.json": ExplanationReview,
    "payment.json": PaymentIn,
}


def _filled(name: str) -> str:
    return string.Template((BODIES / name).read_bytes().decode("utf-8")).substitute(VALUES)


def test_every_body_file_is_used_by_the_script_and_every_used_file_exists() -> None:
    used = set(re.findall(r"\b([a-z_]+\.(?:json|csv))\b", SCRIPT))
    assert used == {p.name for p in BODIES.iterdir()}


def test_the_placeholders_are_the_ones_the_script_fills_in() -> None:
    used = {m for p in BODIES.iterdir() for m in re.findall(r"\$\{(\w+)\}", p.read_text())}
    assert used == set(VALUES)
    exported = set(
        re.findall(r"\b([A-Z][A-Z_]+)\b", " ".join(re.findall(r"^export (.*)$", SCRIPT, flags=re.M)))
    )
    assert {"INSURED_NO", "STAMP", "TODAY", "TODAY_YYYYMMDD"} <= exported
    # the four 納期限 and their 年度・期別 are exported by the script's python step
    assert 'print(f"export DUE_{k + 1}={due} FY_{k + 1}={fy} PERIOD_{k + 1}={periods[fy]}")' in SCRIPT


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_body_is_accepted(name: str) -> None:
    MODELS[name].model_validate(json.loads(_filled(name)))


def test_the_payments_file_is_a_valid_kesikomi_file_and_the_api_example_is_too() -> None:
    assert [p.receipt_no for _, p in parse_payment_csv(_filled("payments.csv").encode())] == [
        "W1796000000-1",
        "W1796000000-2",
        "W1796000000-3",
    ]
    assert len(parse_payment_csv(CSV_EXAMPLE.encode())) == 2
