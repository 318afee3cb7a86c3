from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-stock-dialect"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The job store's engines: SQLite (embedded), PostgreSQL through the prepared-statement
    dialect, and through SQLAlchemy's stock pg8000 dialect (QUANTRUN_DB_PREPARED_STATEMENTS
    =false, for transaction-pooling proxies)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    eng = make_engine(url, prepared_statements=request.param != "postgresql-stock-dialect")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine: Engine) -> SqlJobStore:
    return SqlJobStore(engine)
