"""Session-wide stand-ins. They fail (never skip) when they cannot start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.harness.emulators import Emulators, start_emulators
from tests.harness.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database per test."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    """The Pub/Sub, BigQuery and storage emulators, once per session."""
    emu = start_emulators()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def gcp_env(emulators: Emulators, monkeypatch: pytest.MonkeyPatch) -> Emulators:
    """The emulator variables set for this test (the real clients read them)."""
    for key, value in emulators.env().items():
        monkeypatch.setenv(key, value)
    return emulators
