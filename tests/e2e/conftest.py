"""Fixtures over a module's own ``stack`` fixture (an emulator stack it starts as it
needs): a client with a fresh API key (user: the module's ``USER``, else its name) and
the job store read directly from the stack's database."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devtools.stack import Stack
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore


@pytest.fixture(scope="module")
def client(stack: Stack, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    user = getattr(request.module, "USER", request.module.__name__.rsplit(".", 1)[-1])
    with stack.client(user) as c:
        yield c


@pytest.fixture(scope="module")
def store(stack: Stack) -> Iterator[SqlJobStore]:
    engine = make_engine(stack.env["QUANTRUN_DATABASE_URL"])
    yield SqlJobStore(engine)
    engine.dispose()
