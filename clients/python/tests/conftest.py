"""The client's tests run against a live QuantRun (``quantrun serve``), never a mock:
``QUANTRUN_URL`` and ``QUANTRUN_API_KEY`` name it (``tests/e2e/test_python_client.py``
in the repository starts one and runs these in the client's own venv). The server is
expected with ``QUANTRUN_WEBHOOK_ALLOW_PRIVATE=true`` (a webhook to a local URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from quantrun_client import Client


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: these tests need a live server (see conftest.py)")
    return value


@pytest.fixture(scope="session")
def url() -> str:
    return _required("QUANTRUN_URL")


@pytest.fixture(scope="session")
def key() -> str:
    return _required("QUANTRUN_API_KEY")


@pytest.fixture
def client(url: str, key: str) -> Iterator[Client]:
    with Client(url, key) as opened:
        yield opened


@pytest.fixture(scope="session")
def examples(url: str, key: str) -> dict[str, dict[str, Any]]:
    """Each model's example params, as the server publishes them."""
    with Client(url, key) as opened:
        return {m["name"]: m["example"] for m in opened.models()}
