"""The README walkthrough's request bodies (docs/walkthrough/) are accepted by today's models, are the
examples /docs shows, and the script uses every one of them."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from api.openapi_docs import BODY_EXAMPLES, EXAMPLE_VALUES, WALKTHROUGH_EXAMPLES
from models.alwaysj import parse_primary_result_csv
from models.certification_tasks import CERTIFICATION
from models.certification_tasks import CertificationTask as TaskKind

DOCS = Path(__file__).resolve().parents[2] / "docs"
WALKTHROUGH = DOCS / "walkthrough"
SCRIPT = (DOCS / "walkthrough.sh").read_text()
TASK_PAYLOADS = {
    "survey.json": TaskKind.SURVEY,
    "opinion_request.json": TaskKind.OPINION_REQUEST,
    "opinion.json": TaskKind.OPINION_RECEIPT,
    "board_vote.json": TaskKind.BOARD_VOTE,
    "board_close.json": TaskKind.BOARD_CLOSE,
}


def _filled(name: str) -> str:
    text = (WALKTHROUGH / name).read_bytes().decode("utf-8")  # the CSV keeps its CRLF
    return string.Template(text).substitute(EXAMPLE_VALUES)


def test_every_walkthrough_file_is_used_by_the_script_and_every_used_file_exists() -> None:
    used = set(re.findall(r"\b([a-z_]+\.(?:json|csv))\b", SCRIPT))
    assert used == {p.name for p in WALKTHROUGH.iterdir()}


def test_the_placeholders_are_the_ones_the_script_fills_in() -> None:
    exports = " ".join(re.findall(r"^export (.*)$", SCRIPT, flags=re.M))
    exported = set(re.findall(r"\b([A-Z_]+)=", exports))
    used = {m for p in WALKTHROUGH.iterdir() for m in re.findall(r"\$\{(\w+)\}", p.read_text())}
    assert used <= exported == set(EXAMPLE_VALUES)


@pytest.mark.parametrize("name", sorted(WALKTHROUGH_EXAMPLES))
def test_the_api_docs_example_is_the_walkthrough_body(name: str) -> None:
    filled = _filled(name)
    example = BODY_EXAMPLES[WALKTHROUGH_EXAMPLES[name]]
    assert (filled if name.endswith(".csv") else json.loads(filled)) == example


@pytest.mark.parametrize("name", sorted(TASK_PAYLOADS))
def test_each_task_payload_of_the_walkthrough_is_accepted_for_its_kind(name: str) -> None:
    CERTIFICATION.task_kind(TASK_PAYLOADS[name]).payload.model_validate(json.loads(_filled(name)))


def test_the_primary_result_csv_of_the_walkthrough_is_accepted() -> None:
    [record] = parse_primary_result_csv(_filled("primary_result.csv").encode())
    assert record.insured_no == EXAMPLE_VALUES["INSURED_NO"]
