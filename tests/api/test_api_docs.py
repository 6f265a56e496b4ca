"""The API documentation works on a closed network and teaches: offline assets, an example for every
request body, and errors documented as the problem+json the API really sends."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fastapi.routing import APIRoute

from api.errors import Problem
from api.main import ROUTERS, create_app
from models.common import INT32_MAX
from tests.conftest import TEST_SETTINGS

APP = create_app(TEST_SETTINGS)
SPEC: dict[str, Any] = APP.openapi()
# The lead documents the task-completion payloads per kind (discriminated union) separately.
DOCUMENTED_ELSEWHERE = {("POST", "/tasks/{task_id}/completion")}
_URL_IN_PAGE = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.fixture
async def client() -> httpx.AsyncClient:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=APP), base_url="http://kaigo.test"
    ) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_and_every_asset_it_loads_come_from_this_server(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert not re.findall(r"https?://(?!kaigo\.test)", response.text), "an external URL is left in the page"
    referenced = set(_URL_IN_PAGE.findall(response.text))
    assert any(u.endswith(".js") for u in referenced) and "/openapi.json" in referenced
    for url in referenced:
        asset = await client.get(urljoin(f"http://kaigo.test{page}", url))
        assert asset.status_code == 200 and len(asset.content) > 0, url
    if page == "/docs":
        assert '"validatorUrl": null' in response.text  # no badge fetched from validator.swagger.io


def _body_routes() -> list[APIRoute]:
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute) and r.body_field]


@pytest.mark.parametrize(
    "route",
    [r for r in _body_routes() if (sorted(r.methods)[0], r.path) not in DOCUMENTED_ELSEWHERE],
    ids=lambda r: f"{sorted(r.methods)[0]} {r.path}",
)
def test_every_request_body_has_an_example_the_api_accepts(route: APIRoute) -> None:
    method = sorted(route.methods)[0]
    media = SPEC["paths"][route.path][method.lower()]["requestBody"]["content"]
    for content_type, body in media.items():
        examples = body.get("examples", {})
        assert examples, f"{method} {route.path} ({content_type}) has no example"
        for example in examples.values():
            assert route.body_field is not None
            if content_type == "application/x-www-form-urlencoded":
                continue  # the login form: two strings
            _, errors = route.body_field.validate(example["value"], {}, loc=("body",))
            assert not errors, f"{method} {route.path}: the example is refused: {errors}"


def test_the_csv_import_has_the_walkthrough_csv_as_its_example() -> None:
    path = "/certification-applications/{application_id}/primary-result"
    body = SPEC["paths"][path]["post"]["requestBody"]["content"]["text/csv"]
    assert body["examples"]["walkthrough"]["value"].startswith("被保険者番号,認定申請日,")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in SPEC["paths"].items() for m, op in ops.items()]


@pytest.mark.parametrize("operation", _operations(), ids=lambda o: f"{o[0]} {o[1]}")
def test_errors_are_documented_as_the_problem_json_the_api_sends(
    operation: tuple[str, str, dict[str, Any]],
) -> None:
    method, path, spec = operation
    responses = spec["responses"]
    errors = {code: r for code, r in responses.items() if code[0] in "45"}
    if path == "/healthz":
        assert errors == {}
        return
    assert {"422", "4XX", "503"} <= set(errors)
    if "security" in spec:
        assert {"401", "403"} & set(errors) == {"401", "403"} or (method, path) in {
            ("GET", "/auth/me"),
            ("POST", "/auth/logout"),
        }
    for code, response in errors.items():
        media = response["content"]["application/problem+json"]
        assert media["schema"] == {"$ref": "#/components/schemas/Problem"}, (code, media)
        if "example" in media:
            Problem.model_validate(media["example"])


def test_fastapis_default_validation_shape_is_not_documented() -> None:
    # The API never sends {"detail": [...]}; documenting it would teach clients the wrong shape.
    assert "HTTPValidationError" not in SPEC["components"]["schemas"]
    assert "Problem" in SPEC["components"]["schemas"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _unbounded_integers(schema: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    ref = schema.get("$ref")
    if ref:
        if ref in seen:
            return []
        seen.add(ref)
    schema = _resolve(schema)
    found = []
    if schema.get("type") == "integer" and schema.get("maximum", INT32_MAX + 1) > INT32_MAX:
        found.append(where)
    for key, child in schema.get("properties", {}).items():
        found += _unbounded_integers(child, f"{where}.{key}", seen)
    for keyword in ("anyOf", "oneOf", "allOf"):
        for child in schema.get(keyword, []):
            found += _unbounded_integers(child, where, seen)
    if isinstance(schema.get("items"), dict):
        found += _unbounded_integers(schema["items"], f"{where}[]", seen)
    return found


def test_every_integer_a_client_sends_fits_a_postgresql_integer() -> None:
    unbounded = []
    for method, path, spec in _operations():
        for parameter in spec.get("parameters", []):
            unbounded += _unbounded_integers(
                parameter["schema"], f"{method} {path} {parameter['name']}", set()
            )
        for media in spec.get("requestBody", {}).get("content", {}).values():
            unbounded += _unbounded_integers(media["schema"], f"{method} {path} body", set())
    assert unbounded == []
