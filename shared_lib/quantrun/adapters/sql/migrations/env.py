"""Alembic environment: runs on the connection ``quantrun.adapters.sql.migrate`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from quantrun.adapters.sql.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:  # `alembic` command line, with sqlalchemy.url set in the config
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
