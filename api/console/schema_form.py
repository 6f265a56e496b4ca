"""Task forms from payload models: a form field per model field, and the posted form back into a payload.

Field names are the payload's JSON paths (`payload.overview.conducted_on`, `payload.diagnoses.0.name`), the
same paths the API's problem+json names in `errors[].field` — so a refusal from the API or the workflow lands
next to the field it is about, whoever found it. Any task kind gets a working form this way (the generic
fallback); kinds with a form of their own use the same names.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import AfterValidator, BaseModel, StringConstraints
from pydantic.fields import FieldInfo
from starlette.datastructures import FormData

from models.survey import bounded_text

_MULTILINE_CHECK = typing.get_args(bounded_text(1, multiline=True))[2].func
LIST_ROWS = 3  # rows offered for a list of sub-forms (diagnoses, services: up to the model's maximum)

# Words for literal choices that are codes in the payload.
CHOICE_LABELS: dict[str, str] = {
    "phone": "電話",
    "letter": "文書",
    "fax": "FAX",
    "visit": "訪問",
    "true": "はい",
    "false": "いいえ",
}


@dataclass
class FieldSpec:
    name: str  # the payload path, e.g. payload.overview.conducted_on
    label: str
    kind: str  # text, textarea, date, number, select, bool, group, rows, lines
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    children: list[FieldSpec] = field(default_factory=list)
    rows: list[list[FieldSpec]] = field(default_factory=list)
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None

    @property
    def id(self) -> str:
        return field_id(self.name)


def field_id(name: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def choice_label(member: Any) -> str:
    label = getattr(member, "label", None)
    if isinstance(label, str):
        return label
    value = member.value if isinstance(member, Enum) else str(member)
    return CHOICE_LABELS.get(str(value), str(value))


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(the type, whether None is allowed, the Annotated metadata found on the way)."""
    metadata: list[Any] = []
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return str, optional, metadata
            annotation = args[0]
        else:
            return annotation, optional, metadata


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, StringConstraints) and item.max_length is not None or isinstance(item, MaxLen):
            found["max_length"] = item.max_length
        elif isinstance(item, MinLen):
            found["min_length"] = item.min_length
        elif isinstance(item, Ge):
            found["minimum"] = item.ge
        elif isinstance(item, Le):
            found["maximum"] = item.le
        elif isinstance(item, AfterValidator) and item.func is _MULTILINE_CHECK:
            found["multiline"] = True
    return found


def _spec(name: str, info: FieldInfo | None, annotation: Any, label: str) -> FieldSpec:
    kind, optional, metadata = _unwrap(annotation)
    metadata += list(info.metadata) if info is not None else []
    required = (info.is_required() if info is not None else True) and not optional
    limits = _constraints(metadata)
    common: dict[str, Any] = {"name": name, "label": label, "required": required}
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind) or (str,)
        item_type, _, _ = _unwrap(item)
        if isinstance(item_type, type) and issubclass(item_type, BaseModel):
            count = min(LIST_ROWS, limits.get("max_length") or LIST_ROWS)
            rows = [fields_of(item_type, f"{name}.{i}") for i in range(count)]
            for row in rows[limits.get("min_length", 0) :]:  # rows beyond the minimum may stay empty
                _optional(row)
            return FieldSpec(kind="rows", rows=rows, **common)
        return FieldSpec(kind="lines", max_length=limits.get("max_length"), **common)
    if origin is typing.Literal:
        return FieldSpec(
            kind="select", choices=[(str(v), choice_label(v)) for v in typing.get_args(kind)], **common
        )
    if isinstance(kind, type) and issubclass(kind, Enum):
        return FieldSpec(kind="select", choices=[(str(m.value), choice_label(m)) for m in kind], **common)
    if kind is bool:
        return FieldSpec(kind="bool", choices=[("true", "はい"), ("false", "いいえ")], **common)
    if kind is date:
        return FieldSpec(kind="date", **common)
    if kind is int:
        return FieldSpec(
            kind="number", minimum=limits.get("minimum"), maximum=limits.get("maximum"), **common
        )
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return FieldSpec(kind="group", children=fields_of(kind, name), **common)
    textarea = limits.get("multiline") or (limits.get("max_length") or 0) > 200
    return FieldSpec(kind="textarea" if textarea else "text", max_length=limits.get("max_length"), **common)


_CODE_HINT = re.compile(r"\s*\((?:[a-z0-9_]+: [^,)]+,?\s*)+\)")  # "(new: 新規, renewal: 更新)": API codes


def _optional(specs: list[FieldSpec]) -> None:
    for spec in specs:
        spec.required = False
        _optional(spec.children)
        for row in spec.rows:
            _optional(row)


def fields_of(model: type[BaseModel], prefix: str = "payload") -> list[FieldSpec]:
    """One FieldSpec per field of `model`, labelled with its description (the API docs' words, without the
    API's code lists: the form shows the choices by name)."""
    return [
        _spec(f"{prefix}.{name}", info, info.annotation, _CODE_HINT.sub("", info.description or name))
        for name, info in model.model_fields.items()
    ]


# ------------------------------------------------------------------------------------------ form → payload


def _set(root: dict[str, Any], parts: list[str], value: Any) -> None:
    node = root
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _compact(value: Any) -> Any:
    """Drop empty fields; a dict keyed 0, 1, … becomes a list of its non-empty rows."""
    if isinstance(value, dict):
        kept = {k: v for k, v in ((k, _compact(v)) for k, v in value.items()) if v not in (None, "", {}, [])}
        if kept and all(k.isdigit() for k in kept):
            return [kept[k] for k in sorted(kept, key=int)]
        return kept
    return value


def payload_from_form(form: FormData | Mapping[str, Any], prefix: str = "payload") -> dict[str, Any]:
    """The payload a form describes. `name:lines` fields are lists, one item per line; empty fields are left
    out (the model's defaults and the validators decide what is missing)."""
    root: dict[str, Any] = {}
    for key in dict.fromkeys(form.keys()):
        path, _, mode = key.partition(":")
        if not path.startswith(f"{prefix}."):
            continue
        raw = form.getlist(key) if isinstance(form, FormData) else [form[key]]
        texts = [str(v) for v in raw if isinstance(v, str)]
        if not texts:
            continue
        value: Any
        if mode == "lines":
            value = [line.strip() for line in texts[-1].splitlines() if line.strip()]
        else:
            value = texts[-1].strip()
        _set(root, path.split(".")[1:], value)
    compact = _compact(root)
    return compact if isinstance(compact, dict) else {}


def flatten(payload: Any, prefix: str = "payload") -> dict[str, str]:
    """Form values from a payload (a draft, or what was just posted): path → text."""
    values: dict[str, str] = {}
    if isinstance(payload, dict):
        for key, value in payload.items():
            values |= flatten(value, f"{prefix}.{key}")
    elif isinstance(payload, list):
        if all(isinstance(v, str) for v in payload):
            values[prefix] = "\n".join(payload)
        for i, value in enumerate(payload):
            values |= flatten(value, f"{prefix}.{i}")
    elif payload is not None:
        values[prefix] = str(payload).lower() if isinstance(payload, bool) else str(payload)
    return values
