"""The Alembic migrations on SQLite and a real PostgreSQL: up, down, up, and no drift
between the migrations and the table definitions the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.schema import metadata

TABLES = {"users", "api_keys", "jobs", "job_events", "queue_messages", "outbox", "alembic_version"}


def test_upgrade_downgrade_upgrade(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_migrations_match_the_schema_module(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # Only differences that matter: tables, columns, indexes (not type spellings).
    relevant = [
        d
        for d in diff
        if d[0]
        in ("add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index")
    ]
    assert relevant == []
