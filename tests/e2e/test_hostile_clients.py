"""Hostile and careless clients against a real `quantrun serve` process (CONTRACT 5.1):
every case answers its documented 4xx in under a second, and the server's resident
memory stays under 600 MB throughout (sampled every 20 ms while the cases run).

The cases are the ones the issue found by hand, plus chunked bodies, deep JSON,
NaN/Infinity, 10 MB strings in maps, 1e6-element arrays, unknown fields and another
user's ids on every route."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devtools.postgres import free_port
from tests.harness.serve import QUANTRUN, Server

RSS_LIMIT_MB = 600
ANSWER_WITHIN_S = 1.0

BS = {"type": "call", "spot": 100, "strike": 100, "maturity": 1, "rate": 0.0, "volatility": 0.2}
HISTORY = {"symbols": ["AAPL", "XOM"], "start": "2015-01-02", "end": "2016-12-30"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class RssWatch:
    """The most memory the process held while the block ran."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.02)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("hostile") / "data", free_port())
    srv.start()
    yield srv
    srv.stop()


def key_for(server: Server, user: str) -> str:
    out = subprocess.run(
        [QUANTRUN, "keys", "create", "--user", user],
        env={**os.environ, "QUANTRUN_DATA_DIR": str(server.data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def answered(
    call: Callable[[], httpx.Response], status: int, code: str | None = None
) -> httpx.Response:
    started = time.monotonic()
    response = call()
    took = time.monotonic() - started
    assert response.status_code == status, response.text[:500]
    if code is not None:
        assert response.json()["error"]["code"] == code, response.text[:500]
    assert took < ANSWER_WITHIN_S, f"{took:.2f} s"
    return response


def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        return conn.recv(65536)


def test_hostile_requests_get_their_4xx_fast_and_memory_stays_bounded(server: Server) -> None:
    key = server.key
    auth = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=server.url, headers=auth, timeout=30) as c,
        RssWatch(
            server.proc.pid  # type: ignore[union-attr]
        ) as rss,
    ):
        post_job = c.post

        # a 9e6-option chain with Greeks as a job: 5.4e7 result values, over the job limit
        chain = {**BS, "spot": [[float(s)] for s in range(1, 3001)], "strike": list(range(1, 3001))}
        refused = answered(
            lambda: post_job("/v1/jobs", json={"model": "black_scholes", "params": chain}),
            413,
            "input_too_large",
        )
        assert refused.json()["error"]["details"] == [{"estimate": 5.4e7, "limit": 2e7}]
        # 1e8 paths x 1e4 steps of an Asian: 1e12 path-steps
        asian = {**BS, "style": "asian_arithmetic", "paths": 100_000_000, "steps": 10_000}
        answered(
            lambda: post_job("/v1/jobs", json={"model": "monte_carlo_option", "params": asian}),
            413,
            "input_too_large",
        )
        # a 2000x2000 broadcast in the request: refused before computing
        square = {
            **BS,
            "spot": [[float(s)] for s in range(1, 2001)],
            "strike": list(range(1, 2001)),
        }
        answered(
            lambda: c.post("/v1/models/black_scholes/run", json={"params": square}),
            413,
            "input_too_large",
        )
        # 1e6-element arrays: over the synchronous result budget, and as a job over the
        # params a job keeps
        million = {**BS, "strike": list(range(1, 1_000_001))}
        answered(
            lambda: c.post("/v1/models/black_scholes/run", json={"params": million}),
            413,
            "input_too_large",
        )
        answered(
            lambda: post_job("/v1/jobs", json={"model": "black_scholes", "params": million}),
            413,
            "input_too_large",
        )
        # 16,000 symbols: refused by the list's length
        many = {**HISTORY, "symbols": [f"S{i}" for i in range(16_000)]}
        answered(
            lambda: post_job("/v1/jobs", json={"model": "risk_metrics", "params": many}),
            422,
            "validation_error",
        )
        # a 10 MB string in a map: over the params a job keeps (the body is under its cap)
        sectors = {"AAPL": "x" * 9_000_000, "XOM": "energy"}
        markowitz = {**HISTORY, "sector_map": sectors}
        answered(
            lambda: post_job("/v1/jobs", json={"model": "markowitz", "params": markowitz}),
            413,
            "input_too_large",
        )
        # JSON's NaN and Infinity, and 1e309, anywhere in params
        for bad in ("NaN", "Infinity", "-Infinity", "1e309"):
            body = json.dumps({"model": "black_scholes", "params": BS}).replace(
                '"volatility": 0.2', f'"volatility": [0.2, {bad}]'
            )
            answered(
                lambda body=body: c.post(  # type: ignore[misc]
                    "/v1/jobs", content=body, headers={"Content-Type": "application/json"}
                ),
                422,
                "validation_error",
            )
        bounds = {**HISTORY, "sector_map": {"AAPL": "tech", "XOM": "energy"}}
        body = json.dumps({"model": "markowitz", "params": bounds})[:-2]
        body += ', "sector_bounds": {"tech": [0, 1e309]}}}'
        answered(
            lambda: c.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"}),
            422,
            "validation_error",
        )
        # JSON nested 100,000 deep
        deep = '{"model": "black_scholes", "params": {"spot": ' + "[" * 100_000 + "]" * 100_000
        answered(
            lambda: c.post(
                "/v1/jobs", content=deep + "}}", headers={"Content-Type": "application/json"}
            ),
            400,
        )
        # unknown fields, at the top and in params
        answered(
            lambda: post_job("/v1/jobs", json={"model": "black_scholes", "params": BS, "x": 1}),
            422,
            "validation_error",
        )
        answered(
            lambda: post_job(
                "/v1/jobs", json={"model": "black_scholes", "params": {**BS, "colour": "red"}}
            ),
            422,
            "validation_error",
        )
        # a crafted list cursor
        answered(
            lambda: c.get("/v1/jobs", params={"cursor": "0001-01-01T00:00:00+05:00|x"}),
            422,
            "validation_error",
        )
        # a chunked body over the size cap, and one without credentials (not read)
        cap = 10 * 1024 * 1024
        chunk = b"[" + b"1," * (1024 * 1024) + b"1]"
        chunks = b"".join(
            f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(cap // len(chunk) + 2)
        )
        head = (
            b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n"
        )
        started = time.monotonic()
        answer = raw_exchange(
            server.url,
            head + f"Authorization: Bearer {key}\r\n\r\n".encode() + chunks + b"0\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - started < ANSWER_WITHIN_S
        answer = raw_exchange(server.url, head + b"\r\n" + chunks[: 1024 * 1024])
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]

        # another user's ids on every route answer as unknown ones do
        job = c.post("/v1/jobs", json={"model": "black_scholes", "params": BS}).json()
        mine = c.get("/v1/keys").json()[0]["prefix"]
        other = {"Authorization": f"Bearer {key_for(server, 'mallory')}"}
        for method, path in [
            ("GET", f"/v1/jobs/{job['id']}"),
            ("POST", f"/v1/jobs/{job['id']}/cancel"),
            ("GET", f"/v1/jobs/{job['id']}/artifacts/result.json"),
            ("DELETE", f"/v1/keys/{mine}"),
        ]:
            answered(lambda m=method, p=path: c.request(m, p, headers=other), 404, "not_found")  # type: ignore[misc]
        assert c.get(f"/v1/jobs/{job['id']}").status_code == 200  # still mine, untouched
        assert all(j["id"] != job["id"] for j in c.get("/v1/jobs", headers=other).json()["items"])

        # 300 requests at once from one key: the bucket (100 at once, then 50 a second)
        # lets through no more than it holds, and refuses the rest with Retry-After
        hasty = {"Authorization": f"Bearer {key_for(server, 'hasty')}"}
        started = time.monotonic()
        answers = [c.get("/v1/models", headers=hasty) for _ in range(300)]
        allowed = 100 + 50 * (time.monotonic() - started)
        codes = [a.status_code for a in answers]
        assert set(codes) == {200, 429} and codes.count(200) <= allowed + 1
        # every refusal says when to come back (the bucket refills between requests, so
        # the one after the burst may pass on a loaded machine: the burst's are read)
        limited = [a for a in answers if a.status_code == 429]
        assert all(int(a.headers["retry-after"]) >= 1 for a in limited)

    assert rss.peak < RSS_LIMIT_MB, f"the server held {rss.peak:.0f} MB"
    # and it still serves
    assert c.is_closed
    with server.client() as fresh:
        assert fresh.get("/v1/models").status_code == 200
