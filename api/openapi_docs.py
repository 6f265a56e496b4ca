"""The OpenAPI document teaches: every request body has a worked example, and every error is documented
as the problem+json the API really sends (not FastAPI's default `{"detail": [...]}` for 422).

The examples for the walkthrough's steps are the walkthrough's own bodies (docs/walkthrough/*.json with
${ATENA_NO}, ${INSURED_NO}, ${TODAY}, ${TODAY_YYYYMMDD} filled in from EXAMPLE_VALUES);
tests/unit/test_walkthrough_payloads.py proves they are the same and that each one is accepted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_JSON, Problem
from api.route_table import LOGGED_IN, PUBLIC, RouteRule

# What the walkthrough's placeholders stand for in the examples.
EXAMPLE_VALUES = {
    "ATENA_NO": "100000000123",
    "INSURED_NO": "0100000123",
    "TODAY": "2026-12-01",
    "TODAY_YYYYMMDD": "20261201",
}
_APPLICATION_ID = "0123456789abcdef0123456789abcdef"

# (method, path) → request body example. The task-completion body documents each kind itself.
BODY_EXAMPLES: dict[tuple[str, str], Any] = {
    # --- walkthrough steps (docs/walkthrough/<file>, placeholders filled)
    ("POST", "/persons"): {
        "atena_no": "100000000123",
        "name_kanji": "髙﨑 𠮷子",
        "name_kana": "ﾀｶｻｷ ﾖｼｺ",
        "birth_date": "1941-04-03",
        "sex": "2",
        "postal_code": "070-0031",
        "address": "北海道旭川市一条通8丁目",
    },
    ("POST", "/insured"): {
        "insured_no": "0100000123",
        "atena_no": "100000000123",
        "category": "1",
        "acquired_on": "2006-04-02",
        "acquisition_reason": "age_65",
    },
    ("POST", "/certification-applications"): {
        "insured_no": "0100000123",
        "kind": "new",
        "applied_on": "2026-12-01",
        "applicant_kind": "self",
    },
    ("POST", "/tasks/{task_id}/assignment"): {"assignee": "surveyor"},
    ("POST", "/certification-applications/{application_id}/primary-result"): (
        "被保険者番号,認定申請日,一次判定日,一次判定結果,基準時間,基準時間_食事,基準時間_排泄,基準時間_移動,"
        "基準時間_清潔保持,基準時間_間接生活介助,基準時間_BPSD関連行為,基準時間_機能訓練関連行為,"
        "基準時間_医療関連行為,中間評価項目得点_第1群,中間評価項目得点_第2群,中間評価項目得点_第3群,"
        "中間評価項目得点_第4群,中間評価項目得点_第5群,状態の安定性,認知症自立度II以上の蓋然性\r\n"
        "0100000123,20261201,20261201,22,55.0,20.0,10.0,8.0,6.0,5.0,3.0,2.0,1.0,80.0,82.5,90.0,95.0,70.0,,\r\n"
    ),
    # --- the walkthrough's task search (docs/walkthrough.sh task_of)
    ("POST", "/tasks/search"): {"case_id": f"certification-{_APPLICATION_ID}", "kind": "survey"},
    # --- the other routes
    ("POST", "/auth/token"): {"username": "intake", "password": "intake-demo-2026"},
    ("POST", "/persons/{atena_no}/removal"): {"removed_on": "2026-12-01", "removal_reason": "death"},
    ("PUT", "/persons/{atena_no}/my-number"): {"my_number": "123456789018"},
    ("POST", "/persons/{atena_no}/my-number/reveal"): {"reason": "本人からの届出書の個人番号と照合するため"},
    ("POST", "/persons/search-by-my-number"): {"my_number": "123456789018"},
    ("POST", "/insured/{insured_no}/loss"): {"lost_on": "2026-12-01", "loss_reason": "moved_out"},
    ("POST", "/certification-applications/{application_id}/withdrawal"): {
        "reason": "本人が入院し、退院後に改めて申請するため",
        "withdrawn_on": "2026-12-01",
    },
    ("POST", "/board/panels"): {
        "name": "第1合議体",
        "members": [
            {"login_id": "board", "role": "chair"},
            {"login_id": "board2", "role": "member"},
            {"login_id": "board3", "role": "member", "affiliation": "旭川中央病院"},
        ],
    },
    ("POST", "/board/meetings"): {
        "panel_id": 1,
        "held_on": "2026-12-10",
        "capacity": 30,
        "simplified_capacity": 10,
    },
    ("POST", "/board/recusals"): {"application_id": _APPLICATION_ID, "reason": "申請者が親族のため"},
    ("PUT", "/board/materials/{application_id}"): {
        "marked_notes": {"2-4": "箸の使用が難しく、一部介助を要する。"},
        "opinion_points": "両膝の痛みのため屋外歩行に見守りが必要。",
    },
    ("POST", "/staff"): {
        "login_id": "tanaka",
        "display_name": "田中 一郎",
        "password": "correct-horse-battery",
        "roles": ["intake"],
    },
    ("PATCH", "/staff/{login_id}"): {"roles": ["intake", "supervisor"], "active": True},
    ("POST", "/codec/encode"): {
        "payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJyZWFzb24iOiAi5L6LIn0="}]
    },
    ("POST", "/codec/decode"): {
        "payloads": [
            {
                "metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==", "encryption-key-id": "ZGV2"},
                "data": "…/codec/encode が返した data…",
            }
        ]
    },
    ("POST", "/notices/{notice_id}/corrections"): {
        "data": {
            "care_level": "要介護3",
            "valid_from": "2025-03-01",
            "valid_to": "2026-02-28",
            "second_notice": False,
        },
        "reason": "有効期間の終了日の記載誤りを訂正するため",
    },
    ("POST", "/notice-exports"): {
        "kind": "expiry_reminder",
        "issued_from": "2026-12-01",
        "issued_to": "2026-12-31",
        "batch_size": 500,
        "include_exported": False,
    },
}
# Walkthrough file → the route whose example it is.
WALKTHROUGH_EXAMPLES = {
    "person.json": ("POST", "/persons"),
    "insured.json": ("POST", "/insured"),
    "application.json": ("POST", "/certification-applications"),
    "assignment.json": ("POST", "/tasks/{task_id}/assignment"),
    "primary_result.csv": ("POST", "/certification-applications/{application_id}/primary-result"),
}

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem_example(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"urn:kaigo-flow:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/persons",
        "request_id": "4f0c2a9e8b7d4c1f9a6e5d3c2b1a0f9e",
        "errors": extra.pop("errors", []),
        **extra,
    }


_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "401": (
        "ログインしていない・トークンの期限切れや失効 (WWW-Authenticate: Bearer)",
        _problem_example(
            401,
            "unauthenticated",
            "認証が必要です",
            "ログインが必要です。再度ログインしてください",
            reason="missing",
        ),
    ),
    "403": (
        "この操作の権限がない、または担当外の記録 (拒否は操作記録に残ります)",
        _problem_example(
            403,
            "forbidden",
            "この操作を行う権限がありません",
            "権限がありません (registry:write)",
            permission="registry:write",
        ),
    ),
    "404": (
        "指定した番号・ID の記録がない",
        _problem_example(
            404,
            "person-not-found",
            "見つかりません",
            "宛名番号 100000000123 の宛名は登録されていません",
            errors=[{"field": "atena_no", "message": "宛名番号 100000000123 の宛名は登録されていません"}],
        ),
    ),
    "422": (
        "入力内容の誤り: errors[] に項目ごと (JSON のパス、例 members.0.login_id) に1件",
        _problem_example(
            422,
            "validation",
            "入力内容に誤りがあります",
            "name_kana: 全角カタカナで入力してください",
            errors=[{"field": "name_kana", "message": "全角カタカナで入力してください"}],
        ),
    ),
    "4XX": (
        "その他の拒否: 400 (ヘッダの誤り)・409 (現在の状態ではできない)・412/428 (If-Match の版)・"
        "415 (形式)・429 (回数制限、Retry-After) など。いずれも problem+json",
        _problem_example(
            409,
            "person-exists",
            "現在の状態ではこの操作はできません",
            "宛名番号 100000000123 は既に登録されています",
            errors=[{"field": "atena_no", "message": "宛名番号 100000000123 は既に登録されています"}],
        ),
    ),
    "503": (
        "PostgreSQL または Temporal に接続できない (Retry-After 秒後に再試行)",
        _problem_example(
            503,
            "unavailable",
            "サービスを利用できません",
            "データベースに接続できません。しばらくしてから再度お試しください",
            unavailable="postgresql",
        ),
    ),
}


def _error_response(code: str) -> dict[str, Any]:
    description, example = _ERRORS[code]
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF, "example": example}},
    }


def _error_codes(rule: RouteRule) -> list[str]:
    codes = ["422", "4XX", "503"]
    if rule.permission != PUBLIC:
        codes.append("401")
    if rule.permission not in (PUBLIC, LOGGED_IN):
        codes.append("403")
    if "{" in rule.path:
        codes.append("404")
    if rule.path == "/healthz":
        return []
    return sorted(codes)


def _add_body_example(operation: dict[str, Any], example: Any) -> None:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        media.setdefault("examples", {})["walkthrough"] = {
            "summary": "記入例",
            "value": copy.deepcopy(example),
        }


def _referenced(schema: Any) -> set[str]:
    return set(re.findall(r"#/components/schemas/([\w.-]+)", repr(schema)))


def enrich(schema: dict[str, Any], rules: Iterable[RouteRule]) -> dict[str, Any]:
    """Problem responses and body examples on every operation of `schema` (modified in place)."""
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for rule in rules:
        operation = schema["paths"].get(rule.path, {}).get(rule.method.lower())
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        for code in _error_codes(rule):
            existing = responses.get(code, {})
            if code != "422" and "content" in existing:
                continue  # the route documents this error itself
            responses[code] = _error_response(code)
            if code != "422" and "description" in existing:
                responses[code]["description"] = existing["description"]
        if (rule.method, rule.path) in BODY_EXAMPLES:
            _add_body_example(operation, BODY_EXAMPLES[(rule.method, rule.path)])
    # FastAPI's default 422 shapes are no longer referenced: the API never sends them.
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and unused not in _referenced(schema["paths"]):
            del components[unused]
    return schema


def install_openapi(app: FastAPI, rules: list[RouteRule]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            from api.task_docs import document_task_payloads  # it reads the procedures' registry

            app.openapi_schema = document_task_payloads(enrich(schema, rules))
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010  (FastAPI's documented way to customise the schema)
