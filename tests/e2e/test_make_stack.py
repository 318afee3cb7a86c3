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


def test_make_stack_serves_writes_env_and_stops_everything(tmp_path: Path) -> None:
    ports = {name: free_port() for name in NAMES}
    args = [sys.executable, "-m", "devtools.stack", "--dir", str(tmp_path)]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    log = (tmp_path / "stack.log").open("wb")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
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
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    time.sleep(1)
    still = [name for name, port in ports.items() if _listening(port)]
    assert still == [], f"still listening after Ctrl-C: {still}"
