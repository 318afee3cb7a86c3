"""The Python client (``clients/python``, CONTRACT 6.3) as a user has it: installed with
pip into its own venv (``make client-venv``: the client, its extras, pytest and the
notebook runner, nothing of the server), its own tests and ``docs/quickstart.ipynb``
run there against a live ``quantrun serve`` over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.postgres import free_port
from tests.harness.serve import Server

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-client" / "bin" / "python"
OUT = ROOT / ".test-output"
# what the client must never pull in: the server's numerical, database and cloud stacks
SERVER_ONLY = re.compile(
    r"^(numba|llvmlite|scipy|sqlalchemy|pg8000|alembic|duckdb|fastapi|uvicorn|google-.*"
    r"|grpcio.*|cloud-sql-python-connector|functions-framework|quantrun)$"
)


def _venv_python() -> Path:
    if not VENV_PYTHON.exists():
        pytest.fail("no .venv-client: `make client-venv` builds it (make test does)")
    return VENV_PYTHON


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", free_port(), QUANTRUN_WEBHOOK_ALLOW_PRIVATE="true")
    srv.start()
    yield srv
    srv.stop()


def test_the_client_installs_without_any_server_package() -> None:
    python = _venv_python()
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert "quantrun-client" in names and {"httpx", "pandas"} <= names
    assert sorted(n for n in names if SERVER_ONLY.match(n)) == []
    # and it declares only httpx and pandas (pyarrow, tqdm as extras)
    requires = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps(m.requires('quantrun-client')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    plain = [r for r in json.loads(requires) if "extra ==" not in r]
    assert sorted(re.split(r"[<>=\s]", r)[0] for r in plain) == ["httpx", "pandas"]


def test_the_clients_tests_and_the_quickstart_pass_against_a_live_server(
    server: Server,
) -> None:
    OUT.mkdir(exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("QUANTRUN_", "PYTHON"))},
        "QUANTRUN_URL": server.url,
        "QUANTRUN_API_KEY": server.key,
        "QUANTRUN_TEST_OUTPUT": str(OUT),
    }
    run = subprocess.run(
        [
            _venv_python(),
            "-m",
            "pytest",
            "clients/python/tests",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (OUT / "python-client.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert re.search(r"\b(\d+) passed", run.stdout)
    assert " skipped" not in run.stdout and (OUT / "quickstart.ipynb").exists()
    latency = re.search(r"wait\(\) returned .*", run.stdout)
    assert latency, "the wait latency line is missing"
    (OUT / "client-wait-latency.txt").write_text(latency.group(0) + "\n")
