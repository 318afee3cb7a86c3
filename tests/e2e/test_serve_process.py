"""`quantrun serve` as a real process, driven over HTTP; the CLI as users run it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.jobs import HAUG_PUT, asian_monte_carlo, wait_for_job
from devtools.postgres import free_port
from quantrun.models.options import black_scholes
from tests.harness.serve import QUANTRUN, Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", free_port())
    srv.start()
    yield srv
    srv.stop()


def test_serve_prints_url_key_and_a_working_curl_line(server: Server) -> None:
    banner = server.stderr.read_text()
    assert server.url in banner and server.key in banner
    curl = next(line for line in banner.splitlines() if line.strip().startswith("curl "))
    out = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=30, check=True)
    job = json.loads(out.stdout)
    with server.client() as client:
        assert wait_for_job(client, job["id"])["status"] == "succeeded"
    # logs are JSON lines with Cloud Logging's fields
    first = json.loads(server.stdout.read_text().splitlines()[0])
    assert {"severity", "message", "time"} <= set(first)


def test_black_scholes_and_risk_metrics_jobs_over_http(server: Server) -> None:
    with server.client() as client:
        job = client.post("/v1/jobs", json={"model": "black_scholes", "params": HAUG_PUT}).json()
        done = wait_for_job(client, job["id"])
        expected = float(black_scholes(False, 100, 95, 0.5, 0.1, 0.2, 0.05).price)
        assert done["result"]["price"] == pytest.approx(expected, rel=1e-12)
        assert done["result"]["price"] == pytest.approx(2.4648, abs=5e-5)  # Haug 1.1.1

        params = {"symbols": ["AAPL", "XOM"], "start": "2015-01-01", "end": "2017-12-31"}
        job = client.post("/v1/jobs", json={"model": "risk_metrics", "params": params}).json()
        done = wait_for_job(client, job["id"])
        assert done["status"] == "succeeded"
        for artifact in done["artifacts"]:
            body = client.get(artifact["url"])
            assert body.status_code == 200 and len(body.content) == artifact["size_bytes"]


def test_a_job_killed_mid_run_is_reclaimed_and_finishes_once(server: Server) -> None:
    params = asian_monte_carlo(paths=1_200_000, seed=7)
    with server.client() as client:
        job = client.post(
            "/v1/jobs",
            json={"model": "monte_carlo_option", "params": params, "options": {"shards": 1}},
        ).json()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = client.get(f"/v1/jobs/{job['id']}").json()
            if current["status"] == "running" and current["progress"] > 0:
                break
            time.sleep(0.05)
        assert current["status"] == "running", current
    server.kill()
    server.start()
    with server.client() as client:
        done = wait_for_job(client, job["id"], timeout=120)
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2
        assert client.get("/v1/jobs", params={"status": "running"}).json()["items"] == []
    # exactly one run finished it: one 'succeeded' transition in the job's history
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.job_store import SqlJobStore

    engine = make_engine(f"sqlite:///{server.data_dir / 'quantrun.db'}")
    events = SqlJobStore(engine).events(job["id"])
    engine.dispose()
    assert [e.to_status.value for e in events].count("succeeded") == 1
    # taken back after its lease expired: requeued by the sweep, or claimed over the
    # expired lease by the restarted worker, whichever came first
    assert any("expired" in e.reason for e in events), [e.reason for e in events]


def test_cli_keys_submit_status(server: Server) -> None:
    env = {**server.env, "QUANTRUN_URL": server.url}
    key = subprocess.run(
        [QUANTRUN, "keys", "create", "--user", "carol"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert re.fullmatch(r"qr_[A-Za-z0-9_-]{40,}", key)
    env["QUANTRUN_API_KEY"] = key
    params = json.dumps(
        {"type": "call", "spot": 42, "strike": 40, "maturity": 0.5, "rate": 0.1, "volatility": 0.2}
    )
    out = subprocess.run(
        [QUANTRUN, "submit", "black_scholes", "--params", params, "--wait"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    job = json.loads(out.stdout)
    assert job["status"] == "succeeded" and job["result"]["price"] == pytest.approx(4.76, abs=0.005)
    status = subprocess.run(
        [QUANTRUN, "status", job["id"]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(status.stdout)["id"] == job["id"]
    # the dev user cannot see carol's job
    with server.client() as client:
        assert client.get(f"/v1/jobs/{job['id']}").status_code == 404
    bad = subprocess.run(
        [QUANTRUN, "submit", "black_scholes", "--params", "{nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "not valid JSON" in bad.stderr


def test_cli_load_prices(tmp_path: Path) -> None:
    env = {**os.environ, "QUANTRUN_DATA_DIR": str(tmp_path / "data")}
    good = tmp_path / "prices.csv"
    good.write_text("date,symbol,close,volume\n2020-01-02,ACME,10.5,100\n2020-01-03,ACME,10.7,\n")
    out = subprocess.run(
        [QUANTRUN, "load-prices", str(good)], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "loaded 2 rows" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("date,symbol,close\n2020-01-02,ACME,-1\n2020-01-02,ACME,3\n")
    out = subprocess.run(
        [QUANTRUN, "load-prices", str(bad)], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1
    assert "line 2" in out.stderr and "positive" in out.stderr
    srv = Server(tmp_path / "data", free_port())
    srv.start()
    try:
        with srv.client() as client:
            instruments = {i["symbol"]: i for i in client.get("/v1/instruments").json()}
            assert instruments["ACME"]["rows"] == 2  # the bad file loaded nothing
    finally:
        srv.stop()


def test_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "QUANTRUN_DATA_DIR": str(tmp_path), "QUANTRUN_MODE": "gcp"}
    out = subprocess.run([QUANTRUN, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "QUANTRUN_PROJECT" in out.stderr and "Traceback" not in out.stderr
    env = {**os.environ, "QUANTRUN_DATA_DIR": str(tmp_path), "QUANTRUN_API_KEY": "changeme"}
    out = subprocess.run([QUANTRUN, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "QUANTRUN_API_KEY" in out.stderr and "placeholder" in out.stderr


def test_quantrun_api_key_sets_the_dev_key(tmp_path: Path) -> None:
    chosen = "qr_chosen-dev-key-for-this-test-0123456789"
    srv = Server(tmp_path / "data", free_port(), QUANTRUN_API_KEY=chosen)
    srv.start()
    try:
        assert chosen in srv.stderr.read_text()
        ok = httpx.get(f"{srv.url}/v1/models", headers={"Authorization": f"Bearer {chosen}"})
        assert ok.status_code == 200
        assert httpx.get(f"{srv.url}/v1/models").status_code == 401
    finally:
        srv.stop()


def test_sigterm_stops_the_server_within_cloud_runs_ten_seconds(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", free_port())
    srv.start()
    assert srv.proc is not None
    started = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=15)
    assert time.monotonic() - started < 10
