"""Validation errors become problem+json `errors[]`: one entry per field, named by its JSON path."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from api.errors import field_errors


class _Member(BaseModel):
    login_id: str
    role: int


class _Panel(BaseModel):
    members: list[_Member]
    code: int | list[int]  # a union: pydantic reports one error per member type


def _errors(body: dict[str, object]) -> list[dict[str, object]]:
    try:
        _Panel.model_validate(body)
    except ValidationError as exc:
        return [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
    raise AssertionError("the body was accepted")


def test_each_field_is_named_once_by_its_real_path_below_the_body() -> None:
    body = {"members": [{"login_id": "a", "role": "x"}], "code": "y"}
    # pydantic says ("code", "int") and ("code", "list[int]"): one field, "code", not two tags.
    assert [e.field for e in field_errors(_errors(body), body)] == ["members.0.role", "code"]


def test_a_missing_field_is_named_where_it_belongs() -> None:
    body = {"members": [{"role": 1}], "code": 1}
    assert [e.field for e in field_errors(_errors(body), body)] == ["members.0.login_id"]


def test_a_message_is_japanese_and_says_what_to_do() -> None:
    errors = [{"type": "int_parsing", "loc": ("query", "page"), "msg": "", "input": "x"}]
    assert [(e.field, e.message) for e in field_errors(errors)] == [("page", "整数で入力してください")]
