"""`make bench-load`: the API and worker in gcp mode on the emulator stack (PostgreSQL,
Pub/Sub push, BigQuery, Cloud Storage), driven over HTTP from this process.

Reports submits/s and POST /v1/jobs latency, end-to-end jobs/s and submit-to-done
latency for N small jobs, and submit-to-done at a paced offered rate. Figures only.
Last, the same N jobs through the pull runner (``quantrun worker --pull``, the push
subscription turned into a pull one): the Pub/Sub emulator pushes from two loops, one
message at a time each, so push throughput is two over the time one push takes; the pull
row shows what the pipeline does without that limit. Before it, with the subscription
turned, N jobs are submitted with nothing consuming them and the pull runner then drains
that backlog: each side with the two cores to itself. In a burst the API and the worker
share them (about 6 ms of CPU a job over all the processes here, 2 of them the API's),
so the burst's submits/s is not the API's capacity. Four reference rows close the table:
those two, then (``benchmarks/pubsub_floor.py``) the emulator alone pushing to an
endpoint that does nothing, in a burst (the most the push path can carry here) and at the
paced rate (its publish-to-push latency: a loop with nothing to push sleeps 100 ms).
Each phase submits as its own user, so waiting for a phase lists only its jobs. Before
the first row, a warm-up of 500 jobs runs to completion and is not measured: the
figures are the steady state, not the first seconds of freshly started processes (caches,
the emulator JVM's compiler). The burst of N jobs runs three times (``LOAD_BURSTS``):
its rates are the median with the range, its latencies pooled over the runs, since one
run's rate moves by up to a fifth on this shared machine.

The load generator shares the two cores with everything it measures, so it is kept light:
``http.client`` on one keep-alive connection per thread (~0.5 ms of CPU per request
here; httpx took ~1.5 ms)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pubsub_floor import emulator_floor
from devtools.jobs import BLACK_SCHOLES, wait_until
from devtools.stack import QUANTRUN, Stack, start_stack

N_JOBS = int(os.environ.get("LOAD_JOBS", "2000"))
CONCURRENCY = int(os.environ.get("LOAD_CONCURRENCY", "16"))
PACED_RATE = float(os.environ.get("LOAD_RATE", "100"))
PACED_JOBS = int(os.environ.get("LOAD_PACED_JOBS", "500"))
PULL_THREADS = int(os.environ.get("LOAD_PULL_THREADS", "8"))
WARM_UP_JOBS = int(os.environ.get("LOAD_WARM_UP_JOBS", "500"))
BURSTS = int(os.environ.get("LOAD_BURSTS", "3"))
BODY = {"model": "black_scholes", "params": BLACK_SCHOLES}


def _median_range(values: list[float]) -> str:
    """The median, and the range when there are several runs."""
    median = f"{statistics.median(values):,.0f}"
    return median if len(values) == 1 else f"{median} ({min(values):,.0f}-{max(values):,.0f})"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Submitter:
    """POST /v1/jobs over one keep-alive connection."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._body = json.dumps(BODY).encode()

    def submit(self) -> str:
        self._conn.request("POST", "/v1/jobs", body=self._body, headers=self._headers)
        response = self._conn.getresponse()
        payload = response.read()
        if response.status != 202:
            raise RuntimeError(f"POST /v1/jobs answered {response.status}: {payload[:300]!r}")
        return str(json.loads(payload)["id"])


def submit_many(
    url: str, key: str, n: int, concurrency: int
) -> tuple[list[str], list[float], float]:
    local = threading.local()

    def one(_i: int) -> tuple[str, float]:
        if not hasattr(local, "submitter"):
            local.submitter = Submitter(url, key)
        start = time.perf_counter()
        job_id = local.submitter.submit()
        return job_id, time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
    return [r[0] for r in results], [r[1] for r in results], wall


def _list(client: httpx.Client, **params: str | int) -> dict:
    response = client.get("/v1/jobs", params=params)
    response.raise_for_status()
    return dict(response.json())


def _all_jobs(client: httpx.Client) -> dict[str, dict]:
    jobs: dict[str, dict] = {}
    params: dict[str, str | int] = {"limit": 200}
    while True:
        page = _list(client, **params)
        jobs.update((job["id"], job) for job in page["items"])
        if not page["next_cursor"]:
            return jobs
        params["cursor"] = page["next_cursor"]


def wait_all(client: httpx.Client, ids: list[str], timeout: float = 600) -> list[dict]:
    """The jobs once all have finished (the client's user has only these); a failed or
    cancelled one stops the run, since its figures would be wrong.

    While jobs run it asks only whether any is still queued or running (two one-item
    pages every half second): listing every job while measuring would load the API
    and database it measures. The full listing comes once, at the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in ("failed", "cancelled"):
            if items := _list(client, status=status, limit=1)["items"]:
                raise RuntimeError(f"job {items[0]['id']} {status}: {items[0]['error']}")
        if any(_list(client, status=s, limit=1)["items"] for s in ("queued", "running")):
            time.sleep(0.5)
            continue
        jobs = _all_jobs(client)
        if all(jobs.get(i, {}).get("status") == "succeeded" for i in ids):
            return [jobs[i] for i in ids]
        time.sleep(0.5)
    raise RuntimeError(f"jobs did not finish within {timeout:.0f} s")


def _at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def to_done_ms(jobs: list[dict]) -> list[float]:
    return [(_at(j["finished_at"]) - _at(j["created_at"])).total_seconds() * 1000 for j in jobs]


def end_to_end(jobs: list[dict]) -> float:
    """Jobs per second from the first submit to the last finish."""
    last_finish = max(_at(j["finished_at"]) for j in jobs)
    first_create = min(_at(j["created_at"]) for j in jobs)
    return len(jobs) / (last_finish - first_create).total_seconds()


@dataclass
class PullPhase:
    """What the phase with the push subscription turned into a pull one measured."""

    alone_submit_rate: float  # submits/s with nothing consuming: the API's own capacity
    drain_rate: float  # jobs/s the pull runner takes a queued backlog of N_JOBS down at
    pulled: list[dict]  # N_JOBS submitted while the pull runner runs, finished


def through_pull_runner(stack: Stack) -> PullPhase:
    """The push subscription turned into a pull one: first N jobs submitted with nothing
    consuming them (the API with the cores to itself, where a burst shares them with the
    worker), then a pull runner drains that backlog (the workers' side to itself), then
    N more go through it end to end."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    assert stack.worker is not None
    stack.worker.stop()
    with stack.env_applied():
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(stack.emulators.project, stack.names.subscription)
        subscriber.modify_push_config(subscription=path, push_config={})
        subscriber.close()
    key, backlog_client = phase_user(stack, "load-alone")
    backlog, _, wall = submit_many(stack.api_url, key, N_JOBS, CONCURRENCY)
    alone_submit_rate = N_JOBS / wall
    log = stack.workdir / "worker-pull.log"
    proc = subprocess.Popen(
        [QUANTRUN, "worker", "--pull", stack.names.subscription],
        env={**os.environ, **stack.env, "QUANTRUN_WORKER_THREADS": str(PULL_THREADS)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        # measure the runner, not its start-up
        wait_until(lambda: "pull worker started" in log.read_text(), timeout=120, interval=0.1)
        started = datetime.now(UTC)
        drained = wait_all(backlog_client, backlog)
        last_finish = max(_at(j["finished_at"]) for j in drained)
        drain_rate = N_JOBS / (last_finish - started).total_seconds()
        key, client = phase_user(stack, "load-pull")
        ids, _, _ = submit_many(stack.api_url, key, N_JOBS, CONCURRENCY)
        return PullPhase(alone_submit_rate, drain_rate, wait_all(client, ids))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def phase_user(stack: Stack, name: str) -> tuple[str, httpx.Client]:
    key = stack.create_key(name)
    client = httpx.Client(
        base_url=stack.api_url, timeout=30, headers={"Authorization": f"Bearer {key}"}
    )
    return key, client


def main() -> None:
    stack = start_stack(
        sample_symbols=["AAPL", "SPY"],
        service_env={
            "QUANTRUN_API_WORKERS": os.environ.get("LOAD_API_WORKERS", "2"),
            # the limiter's bookkeeping runs on every request, but never refuses one here
            "QUANTRUN_RATE_REQUESTS_PER_SECOND": "1000000",
            # the quota counts change with every submit and every finished job, but a
            # burst's backlog stays under the active limit
            "QUANTRUN_QUOTA_ACTIVE_JOBS": "1000000",
        },
    )
    try:
        key, client = phase_user(stack, "load-warm-up")
        wait_all(client, submit_many(stack.api_url, key, WARM_UP_JOBS, CONCURRENCY)[0])
        submit_rates: list[float] = []
        burst_rates: list[float] = []
        latencies: list[float] = []
        burst_done: list[float] = []
        for run in range(BURSTS):
            key, client = phase_user(stack, f"load-burst-{run}")
            ids, run_latencies, wall = submit_many(stack.api_url, key, N_JOBS, CONCURRENCY)
            jobs = wait_all(client, ids)
            submit_rates.append(N_JOBS / wall)
            burst_rates.append(end_to_end(jobs))
            latencies += run_latencies
            burst_done += to_done_ms(jobs)

        paced_ids: list[str] = []
        key, client = phase_user(stack, "load-paced")
        submitter = Submitter(stack.api_url, key)
        interval = 1.0 / PACED_RATE
        start = time.perf_counter()
        for i in range(PACED_JOBS):
            target = start + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            paced_ids.append(submitter.submit())
        achieved = PACED_JOBS / (time.perf_counter() - start)
        paced_done = to_done_ms(wait_all(client, paced_ids))
        pull_phase = through_pull_runner(stack)
        pulled = pull_phase.pulled
        pull_done = to_done_ms(pulled)
        floor_rate, floor_latencies = emulator_floor(stack, N_JOBS, PACED_RATE, PACED_JOBS)

        rows = [
            (
                f"POST /v1/jobs (concurrency {CONCURRENCY})",
                f"{_median_range(submit_rates)} submits/s",
                f"p50 {pct(latencies, 0.5) * 1000:.1f} ms",
                f"p99 {pct(latencies, 0.99) * 1000:.1f} ms",
            ),
            (
                f"{N_JOBS} small jobs end to end",
                f"{_median_range(burst_rates)} jobs/s",
                f"p50 {pct(burst_done, 0.5):,.0f} ms",
                f"p99 {pct(burst_done, 0.99):,.0f} ms",
            ),
            (
                f"paced {PACED_RATE:.0f} jobs/s offered ({achieved:.0f} achieved)",
                "submit-to-done",
                f"p50 {pct(paced_done, 0.5):,.0f} ms",
                f"p99 {pct(paced_done, 0.99):,.0f} ms",
            ),
            (
                f"{N_JOBS} small jobs, pull runner ({PULL_THREADS} threads)",
                f"{end_to_end(pulled):,.0f} jobs/s",
                f"p50 {pct(pull_done, 0.5):,.0f} ms",
                f"p99 {pct(pull_done, 0.99):,.0f} ms",
            ),
            (
                "reference: POST /v1/jobs, nothing consuming",
                f"{pull_phase.alone_submit_rate:,.0f} submits/s",
                "(the API with",
                "the cores to itself)",
            ),
            (
                f"reference: pull runner draining {N_JOBS} queued",
                f"{pull_phase.drain_rate:,.0f} jobs/s",
                "(the workers with",
                "the cores to themselves)",
            ),
            (
                f"reference: the emulator alone, {N_JOBS} pushes",
                f"{floor_rate:,.0f} pushes/s",
                "(an endpoint",
                "doing nothing)",
            ),
            (
                f"reference: the emulator alone, paced {PACED_RATE:.0f}/s",
                "publish-to-push",
                f"p50 {pct(floor_latencies, 0.5):,.0f} ms",
                f"p99 {pct(floor_latencies, 0.99):,.0f} ms",
            ),
        ]
        print(
            f"load test through the emulator stack; cores={os.cpu_count()}, "
            f"load1={os.getloadavg()[0]:.2f}"
        )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        print(f"mean submit latency {statistics.fmean(latencies) * 1000:.1f} ms")
        print(
            f"end to end at {statistics.median(burst_rates) / floor_rate:.2f}x the emulator's "
            f"do-nothing push rate; paced submit-to-done p50 "
            f"{pct(paced_done, 0.5) / pct(floor_latencies, 0.5):.2f}x its publish-to-push p50"
        )
        print(
            f"burst submits at "
            f"{statistics.median(submit_rates) / pull_phase.alone_submit_rate:.2f}x "
            "the rate with nothing consuming"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
