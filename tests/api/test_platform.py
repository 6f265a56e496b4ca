"""Cross-cutting API behaviour: health probes, the error format, request ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
from temporalio.client import Client

from api.deps import Resources
from api.main import create_app
from kaigo import temporal_client
from kaigo.db import make_engine, make_sessionmaker


async def test_healthz_is_always_ok(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_with_both_parts_up(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgresql": "ok", "temporal": "ok"}


def _client_for(resources: Resources) -> httpx.AsyncClient:
    app = create_app(resources=resources)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kaigo.test")


async def test_readyz_names_temporal_when_it_is_down(resources: Resources) -> None:
    # A real client to a port where nothing listens.
    down = await Client.connect(
        "127.0.0.1:1", lazy=True, data_converter=temporal_client.data_converter(resources.settings)
    )
    async with _client_for(dataclasses.replace(resources, temporal=down)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["detail"] == "Temporal に接続できません"
    assert body["failing"] == ["temporal"]
    assert body["checks"]["postgresql"] == "ok"


async def test_readyz_names_postgresql_when_it_is_down(resources: Resources) -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=1)
    broken = dataclasses.replace(resources, engine=engine, sessions=make_sessionmaker(engine))
    async with _client_for(broken) as client:
        response = await client.get("/readyz")
    await engine.dispose()
    assert response.status_code == 503
    assert response.json()["detail"] == "PostgreSQL に接続できません"
    assert response.json()["checks"]["temporal"] == "ok"


async def test_request_id_is_echoed_or_generated(api: httpx.AsyncClient) -> None:
    given = await api.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    assert given.headers["x-request-id"] == "req-12345678"
    hostile = await api.get("/healthz", headers={"X-Request-ID": "bad id\r\nX-Evil: 1"})
    assert hostile.headers["x-request-id"] != "bad id\r\nX-Evil: 1"
    assert len(hostile.headers["x-request-id"]) == 32


async def test_errors_carry_the_request_id_and_problem_type(api: httpx.AsyncClient) -> None:
    response = await api.get("/no-such-route", headers={"X-Request-ID": "trace-abcdefgh"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["request_id"] == "trace-abcdefgh"
    assert body["detail"] == "指定された URL は存在しません"
    assert body["title"] == "見つかりません"


async def test_malformed_json_is_a_japanese_422(as_staff: Callable[[str], httpx.AsyncClient]) -> None:
    response = await as_staff("admin").post(
        "/staff", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": "JSON の形式が正しくありません (1行目 2列目)"}
    ]


async def test_openapi_documents_every_route(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert {
        "/healthz",
        "/readyz",
        "/persons",
        "/persons/{atena_no}",
        "/insured",
        "/insured/{insured_no}",
    } <= set(spec["paths"])
