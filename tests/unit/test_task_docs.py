"""/docs teaches every task kind's completion payload: a schema per kind and an example that is accepted."""

from __future__ import annotations

import pytest

from api.main import create_app
from api.task_docs import COMPLETION_PATH, payload_example
from procedures import TASK_KINDS


def _completion_body() -> dict:
    schema = create_app().openapi()
    return schema["paths"][COMPLETION_PATH]["post"]["requestBody"]["content"]["application/json"]


def test_the_completion_body_documents_one_payload_per_task_kind() -> None:
    body = _completion_body()
    variants = body["schema"]["properties"]["payload"]["oneOf"]
    assert [v["title"].split(":")[0] for v in variants] == sorted(TASK_KINDS)
    assert sorted(body["examples"]) == sorted(TASK_KINDS)


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_each_kinds_example_is_a_payload_the_kind_accepts(kind: str) -> None:
    example = _completion_body()["examples"][kind]["value"]["payload"]
    assert example == payload_example(kind)
    assert example or kind == "board_scheduling"  # only the scheduling note is optional through and through
    TASK_KINDS[kind].payload.model_validate(example)
