"""Session-wide stand-ins. They fail (never skip) when they cannot start."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from devtools.emulators import Emulators, start_emulators
from devtools.postgres import PostgresServer, start_postgres


def pytest_configure(config: pytest.Config) -> None:
    """With several test processes (``make test``'s ``-n``), one BLAS thread each: both
    OpenBLAS copies (numpy's, scipy's) otherwise spread every product over every core,
    and two processes doing so on two cores oversubscribe them (the 100-asset frontier's
    trust-constr check took 5.6 s beside the other process, 0.9 s with one thread each).
    Only this process: the services a test starts keep their defaults."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, to be limited too)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The declared markers, applied where they hold: ``e2e`` on everything under
    tests/e2e, ``postgres`` on every test that needs the PostgreSQL server (so
    ``pytest -m "not e2e"`` and ``-m "not postgres"`` select as they say)."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
        callspec = getattr(item, "callspec", None)
        engine_param = callspec.params.get("engine", "") if callspec is not None else ""
        needs = getattr(item, "fixturenames", ())
        if "postgres_server" in needs or str(engine_param).startswith("postgresql"):
            item.add_marker(pytest.mark.postgres)


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


_SESSION_STARTED = time.time()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The Python client's measured wait latency, when its test ran in this session; with
    ``--cov`` (``make test``): line coverage per layer, after pytest-cov saved it."""
    import os
    from pathlib import Path

    if os.environ.get("QUANTRUN_TEST_SUMMARY") == "off":  # make test's first run: the
        return  # second prints both runs' figures
    latency = Path(config.rootpath) / ".test-output" / "client-wait-latency.txt"
    since = float(os.environ.get("QUANTRUN_TEST_SINCE") or _SESSION_STARTED)
    if latency.exists() and latency.stat().st_mtime >= since:
        terminalreporter.section("python client (tests/e2e/test_python_client.py)")
        terminalreporter.write_line(latency.read_text().strip())
    if not getattr(config.option, "cov_source", None):
        return
    from devtools.coverage_summary import summary_lines

    lines = summary_lines(Path(config.rootpath) / ".coverage")
    if lines:
        terminalreporter.section("line coverage (in-process; README: Coverage)")
        for line in lines:
            terminalreporter.write_line(line)
