"""A dependency that is down gives 503 problem+json with Retry-After, quickly, and the API recovers by
itself when the dependency is back — no restart. The outages are real: a proxy in front of the real
PostgreSQL and Temporal cuts or freezes their connections (tests/api/outage_proxy.py)."""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from temporalio.client import Client

from api.deps import Resources
from api.main import create_app
from kaigo import temporal_client
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security.tokens import issue_token
from tests.api.outage_proxy import OutageProxy, proxy_to
from tests.factories import insured_payload, person_payload


def _client(resources: Resources, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(resources=resources)),
        base_url="http://kaigo.test",
        headers=headers,
    )


def _token(resources: Resources, login_id: str) -> str:
    return issue_token(
        secret=resources.settings.secret_key, login_id=login_id, version=0, lifetime=timedelta(minutes=5)
    )[0]


def _assert_unavailable(response: httpx.Response, part: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["unavailable"] == part
    assert "しばらくしてから" in body["detail"]
    assert "Traceback" not in response.text and "Error" not in body["detail"]
    return body


# ------------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
async def database_proxy(database_url: str) -> AsyncIterator[tuple[OutageProxy, str]]:
    """A proxy to the test database's server and a URL that goes through it (TCP or the Unix socket)."""
    parts = urlsplit(database_url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    if socket_dir:
        upstream = proxy_to(next(p for p in glob.glob(f"{socket_dir}/.s.PGSQL.*") if not p.endswith(".lock")))
    else:
        upstream = proxy_to(parts.hostname or "127.0.0.1", parts.port or 5432)
    async with upstream as proxy:
        user = parts.username or "postgres"
        credentials = f"{user}:{parts.password}" if parts.password else user
        url = urlunsplit((parts.scheme, f"{credentials}@{proxy.address}", parts.path, "", ""))
        yield proxy, url


@pytest.fixture
async def through_database_proxy(
    resources: Resources, staff_tokens: dict[str, str], database_proxy: tuple[OutageProxy, str]
) -> AsyncIterator[tuple[OutageProxy, Resources]]:
    proxy, url = database_proxy
    engine = make_engine(url, pool_size=2)
    yield proxy, dataclasses.replace(resources, engine=engine, sessions=make_sessionmaker(engine))
    await engine.dispose()


async def test_reads_and_logins_answer_503_while_postgresql_is_down_and_recover_by_themselves(
    through_database_proxy: tuple[OutageProxy, Resources], demo_password_hash: str
) -> None:
    proxy, resources = through_database_proxy
    person = person_payload()
    async with _client(resources, _token(resources, "intake")) as intake, _client(resources) as anonymous:
        assert (await intake.post("/persons", json=person)).status_code == 201
        login = {"username": "intake", "password": "test-password-2026"}
        assert (await anonymous.post("/auth/token", data=login)).status_code == 200

        proxy.down()
        _assert_unavailable(await intake.get(f"/persons/{person['atena_no']}"), "postgresql")
        _assert_unavailable(await intake.post("/persons", json=person_payload()), "postgresql")
        _assert_unavailable(await anonymous.post("/auth/token", data=login), "postgresql")

        proxy.up()
        again = await intake.get(f"/persons/{person['atena_no']}")
        assert (again.status_code, again.json()["atena_no"]) == (200, person["atena_no"])
        assert (await anonymous.post("/auth/token", data=login)).status_code == 200


# --------------------------------------------------------------------------------------------- Temporal


@pytest.fixture
async def temporal_proxy(resources: Resources) -> AsyncIterator[tuple[OutageProxy, Resources]]:
    """The API's Temporal client goes through a proxy; the worker talks to the server directly."""
    host, port = resources.settings.require_temporal_address().rsplit(":", 1)
    async with proxy_to(host, int(port)) as proxy:
        client = await Client.connect(
            proxy.address, data_converter=temporal_client.data_converter(resources.settings)
        )
        yield proxy, dataclasses.replace(resources, temporal=client)


async def _new_insured(intake: httpx.AsyncClient) -> str:
    atena = (await intake.post("/persons", json=person_payload())).json()["atena_no"]
    return (await intake.post("/insured", json=insured_payload(atena))).json()["insured_no"]


def _application(insured_no: str) -> dict[str, str]:
    return {"insured_no": insured_no, "kind": "new", "applied_on": "2026-11-02", "applicant_kind": "self"}


async def test_writes_answer_503_while_temporal_is_paused_and_work_again_after(
    temporal_proxy: tuple[OutageProxy, Resources], staff_tokens: dict[str, str], running_worker: None
) -> None:
    proxy, resources = temporal_proxy
    async with _client(resources, _token(resources, "intake")) as intake:
        first = await intake.post(
            "/certification-applications", json=_application(await _new_insured(intake))
        )
        assert first.status_code == 201, first.text
        application_id = first.json()["id"]
        waiting = await _new_insured(intake)

        proxy.pause()  # like `kill -STOP`: connections stay open, nothing answers
        _assert_unavailable(
            await intake.post("/certification-applications", json=_application(waiting)), "temporal"
        )
        withdrawal = {"withdrawn_on": "2026-11-03", "reason": "本人の意思"}
        _assert_unavailable(
            await intake.post(f"/certification-applications/{application_id}/withdrawal", json=withdrawal),
            "temporal",
        )

        proxy.resume()
        # Nothing half-written: the refused application left no row (a second one would be a 409).
        retried = await intake.post("/certification-applications", json=_application(waiting))
        assert retried.status_code == 201, retried.text
        ended = await intake.post(f"/certification-applications/{application_id}/withdrawal", json=withdrawal)
        assert ended.status_code == 200, ended.text


async def test_an_unreachable_temporal_answers_503_at_once(
    resources: Resources, staff_tokens: dict[str, str]
) -> None:
    nowhere = await Client.connect(
        "127.0.0.1:1", lazy=True, data_converter=temporal_client.data_converter(resources.settings)
    )
    down = dataclasses.replace(resources, temporal=nowhere)
    async with _client(down, _token(down, "intake")) as intake:
        response = await intake.post(
            "/certification-applications", json=_application(await _new_insured(intake))
        )
    _assert_unavailable(response, "temporal")
