from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.settings import LimitSettings, Settings
from tests.harness.api import RunningApi, running_api


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


@pytest.fixture(scope="module")
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApi]:
    """A live API over real HTTP for the module, with its worker: the module's
    ``api_settings(data_dir)`` when it has one (``WITH_WORKER = False``: no worker), else
    embedded defaults with no request rate limit (a test makes many calls)."""
    module = request.module
    data_dir = tmp_path_factory.mktemp(module.__name__.rsplit(".", 1)[-1])
    configure = getattr(module, "api_settings", None)
    settings = (
        configure(data_dir)
        if configure is not None
        else Settings(data_dir=data_dir, limits=LimitSettings(rate_requests_per_second=0))
    )
    with running_api(settings, with_worker=getattr(module, "WITH_WORKER", True)) as running:
        yield running


@pytest.fixture(scope="module")
def client(api: RunningApi, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A client of ``api`` with a fresh key of the module's ``USER`` (else its name)."""
    user = getattr(request.module, "USER", request.module.__name__.rsplit(".", 1)[-1])
    with api.client(user) as c:
        yield c
