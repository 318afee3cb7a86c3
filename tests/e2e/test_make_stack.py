"""`make stack`'s program: everything up in gcp mode, `.stack/env` written, a job through
the real push subscription, and Ctrl-C stopping every process it started."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.emulators import ROOT
from devtools.jobs import BLACK_SCHOLES
from devtools.postgres import free_port

NAMES = (
    "api",
    "worker",
    "pubsub",
    "bigquery",
    "storage",
    "postgres",
    "ingest-prices",
    "ingest-upload",
)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    ports = {name: free_port() for name in NAMES}
    args = [sys.executable, "-m", "devtools.stack", "--dir", str(tmp_path)]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    log = (tmp_path / "stack.log").open("wb")
    return subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), ports


def _left_running(tmp_path: Path, ports: dict[str, int]) -> list[str]:
    """What still listens on the stack's ports, or still runs from its directory."""
    time.sleep(1)
    still = [name for name, port in ports.items() if _listening(port)]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return still + [line for line in ps.splitlines() if str(tmp_path) in line]


# Ctrl-C early (the emulators and PostgreSQL coming up) and SIGTERM later (the services
# starting); the running stack's Ctrl-C is the last test
@pytest.mark.parametrize(("sig", "seconds"), [(signal.SIGINT, 5), (signal.SIGTERM, 20)])
def test_stopping_the_stack_during_start_up_stops_what_it_started(
    tmp_path: Path, seconds: int, sig: signal.Signals
) -> None:
    """Ctrl-C (or SIGTERM) while the emulators, PostgreSQL or the services are coming up:
    afterwards nothing listens on any of the stack's ports."""
    proc, ports = _start(tmp_path)
    time.sleep(seconds)
    proc.send_signal(sig)
    proc.wait(timeout=90)
    assert _left_running(tmp_path, ports) == [], (tmp_path / "stack.log").read_text()[-3000:]


def test_a_port_in_use_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {name: free_port() for name in NAMES}
        ports["ingest-prices"] = taken.getsockname()[1]
        args = [sys.executable, "-m", "devtools.stack", "--dir", str(tmp_path)]
        for name, port in ports.items():
            args += [f"--{name}-port", str(port)]
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2
        assert f"ingest_prices {ports['ingest-prices']}" in out.stderr
        assert "nothing was started" in out.stderr
        others = {n: p for n, p in ports.items() if n != "ingest-prices"}
        assert _left_running(tmp_path, others) == []


def test_make_stack_serves_writes_env_and_stops_everything(tmp_path: Path) -> None:
    started = time.monotonic()
    proc, ports = _start(tmp_path)
    env_file = tmp_path / "env"
    try:
        deadline = time.monotonic() + 180
        while not env_file.exists():
            assert proc.poll() is None, (tmp_path / "stack.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.5)
        env = {}
        for line in env_file.read_text().splitlines():
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = shlex.split(value)[0]
        for key in (
            "PUBSUB_EMULATOR_HOST",
            "STORAGE_EMULATOR_HOST",
            "BIGQUERY_EMULATOR_HOST",
            "GOOGLE_CLOUD_PROJECT",
            "QUANTRUN_DATABASE_URL",
            "QUANTRUN_JOBS_TOPIC",
            "QUANTRUN_PUSH_SUBSCRIPTION",
            "QUANTRUN_BQ_DATASET",
            "QUANTRUN_ARTIFACTS_BUCKET",
            "QUANTRUN_UPLOADS_BUCKET",
        ):
            assert env.get(key), key
        assert env["QUANTRUN_JOBS_TOPIC"] == "quantrun-jobs"
        assert env["QUANTRUN_PUSH_SUBSCRIPTION"] == "quantrun-jobs-push"
        assert env["QUANTRUN_BQ_DATASET"] == "quantrun"
        assert env["PUBSUB_EMULATOR_HOST"].endswith(f":{ports['pubsub']}")
        key = subprocess.run(
            [str(Path(sys.executable).parent / "quantrun"), "keys", "create", "--user", "stack"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        ).stdout.strip()
        api = f"http://127.0.0.1:{ports['api']}"
        with httpx.Client(
            base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            job = client.post(
                "/v1/jobs",
                json={"model": "black_scholes", "params": BLACK_SCHOLES},
            ).json()
            deadline = time.monotonic() + 60
            while (done := client.get(f"/v1/jobs/{job['id']}").json())["status"] in (
                "queued",
                "running",
            ) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert done["status"] == "succeeded"
        assert all(_listening(port) for port in ports.values())
        # Ctrl-C a minute after the start (a stack that has been serving)
        time.sleep(max(0.0, 60 - (time.monotonic() - started)))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert _left_running(tmp_path, ports) == [], "still running after Ctrl-C"
