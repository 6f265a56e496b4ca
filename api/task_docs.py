"""OpenAPI for `POST /tasks/{task_id}/completion`: one payload schema per task kind, with an example each.

The payload's shape depends on the task's kind (`GET /tasks/{id}` → `kind`), which the body does not repeat,
so the schema is a oneOf of every kind's payload, each titled with its kind, plus one named example per kind.
The walkthrough's own bodies (docs/walkthrough/) are the examples of the kinds it completes.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from api.openapi_docs import EXAMPLE_VALUES
from models.alwaysj import parse_primary_result_csv
from procedures import TASK_KINDS

COMPLETION_PATH = "/tasks/{task_id}/completion"
_WALKTHROUGH = Path(__file__).resolve().parents[1] / "docs" / "walkthrough"
# Kind → the walkthrough file that completes it.
WALKTHROUGH_PAYLOADS = {
    "survey": "survey.json",
    "opinion_request": "opinion_request.json",
    "opinion_receipt": "opinion.json",
    "board_vote": "board_vote.json",
    "board_close": "board_close.json",
}


def payload_example(kind: str) -> Any:
    """The example a staff member can start from: the walkthrough's body, else the payload model's own."""
    if kind in WALKTHROUGH_PAYLOADS:
        text = (_WALKTHROUGH / WALKTHROUGH_PAYLOADS[kind]).read_text()
        return json.loads(string.Template(text).substitute(EXAMPLE_VALUES))
    if kind == "primary_result":  # usually imported as the national software's CSV: the walkthrough's file
        csv = string.Template((_WALKTHROUGH / "primary_result.csv").read_text()).substitute(EXAMPLE_VALUES)
        return parse_primary_result_csv(csv.encode())[0].model_dump(mode="json")
    extra = TASK_KINDS[kind].payload.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples[0] if examples else {}


def document_task_payloads(schema: dict[str, Any]) -> dict[str, Any]:
    operation = schema["paths"][COMPLETION_PATH]["post"]
    models = sorted({spec.payload for spec in TASK_KINDS.values()}, key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions.get("$defs", {}))
    variants = [
        {
            "title": f"{kind}: {spec.label}",
            "allOf": [{"$ref": f"#/components/schemas/{spec.payload.__name__}"}],
        }
        for kind, spec in sorted(TASK_KINDS.items())
    ]
    table = "\n".join(
        f"| `{kind}` | {spec.label} | `{spec.payload.__name__}` |"
        for kind, spec in sorted(TASK_KINDS.items())
    )
    content = operation["requestBody"]["content"]["application/json"]
    content["schema"] = {
        "type": "object",
        "required": ["payload"],
        "additionalProperties": False,
        "properties": {
            "payload": {
                "description": "タスクの種類 (`GET /tasks/{task_id}` の `kind`) ごとの入力内容:\n\n"
                "| kind | タスク | 形式 |\n|---|---|---|\n" + table,
                "oneOf": variants,
            }
        },
    }
    content["examples"] = {
        kind: {"summary": f"{kind}: {spec.label}", "value": {"payload": payload_example(kind)}}
        for kind, spec in sorted(TASK_KINDS.items())
    }
    return schema
