"""Migrations and models describe the same schema, and migrations run both ways."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool
from sqlmodel import SQLModel

import models  # noqa: F401
from kaigo import migrate


@pytest.fixture
def scratch_database(create_database: Callable[[str], str]) -> str:
    return create_database("kaigo_migrations")


def test_models_match_migrations(scratch_database: str) -> None:
    migrate.upgrade_to_head(scratch_database)
    engine = create_engine(scratch_database, poolclass=pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; generate a migration: {diff}"


def test_downgrade_to_base_and_upgrade_again(scratch_database: str) -> None:
    migrate.upgrade_to_head(scratch_database)
    config = migrate.alembic_config(scratch_database)
    command.downgrade(config, "base")
    engine = create_engine(scratch_database, poolclass=pool.NullPool)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade_to_head(scratch_database)
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_concurrent_upgrades_are_serialised(scratch_database: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool_:
        list(pool_.map(migrate.upgrade_to_head, [scratch_database] * 3))
    head = ScriptDirectory.from_config(migrate.alembic_config(scratch_database)).get_current_head()
    engine = create_engine(scratch_database, poolclass=pool.NullPool)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    engine.dispose()
    assert head is not None
