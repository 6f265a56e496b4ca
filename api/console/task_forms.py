"""Which form a task kind gets: a registry keyed by task kind, with a generic fallback.

A kind without an entry still gets a complete form: one field per field of its payload model (labels from the
model's descriptions, choices from its enums), posted back as the payload the API validates. A procedure adds
a form of its own with `register(kind, TaskForm(...))` from its console module (api/console/<procedure>.py,
imported by api/console/__init__.py): a template under api/templates/console/forms/, and where needed a
context function (what the form shows beside the fields) and a payload function (e.g. a file upload).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from api.console.auth import Console
from api.console.schema_form import FieldSpec, fields_of, payload_from_form
from models.task import TaskPublic
from procedures import TASK_KINDS

Context = Callable[[Console, TaskPublic], Awaitable[dict[str, Any]]]
PayloadReader = Callable[[Console, TaskPublic, FormData], Awaitable[dict[str, Any]]]


async def _no_context(console: Console, task: TaskPublic) -> dict[str, Any]:  # noqa: ARG001
    return {}


async def _form_payload(console: Console, task: TaskPublic, form: FormData) -> dict[str, Any]:  # noqa: ARG001
    return payload_from_form(form)


@dataclass(frozen=True)
class TaskForm:
    template: str = "console/forms/generic.html"
    context: Context = _no_context
    payload: PayloadReader = _form_payload
    fields: Callable[[str], list[FieldSpec]] | None = None  # default: from the kind's payload model
    drafts: bool = True  # the form can be saved on the server and resumed
    multipart: bool = False  # it uploads a file
    extra: dict[str, Any] = field(default_factory=dict)

    def specs(self, kind: str) -> list[FieldSpec]:
        return self.fields(kind) if self.fields is not None else fields_of(TASK_KINDS[kind].payload)


GENERIC = TaskForm()
TASK_FORMS: dict[str, TaskForm] = {}


def register(kind: str, form: TaskForm) -> None:
    if kind in TASK_FORMS:
        raise ValueError(f"task kind {kind!r} already has a console form")
    TASK_FORMS[kind] = form


def form_for(kind: str) -> TaskForm:
    return TASK_FORMS.get(kind, GENERIC)
