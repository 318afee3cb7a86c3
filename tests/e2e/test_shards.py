"""Sharded jobs on the emulator stack (CONTRACT 5.2): PostgreSQL, the outbox, Pub/Sub
push through the push front to two worker processes, as `make stack WORKERS=2` runs.

- The seeded Asian Monte Carlo of the issue (2e6 paths x 252 steps) gives the same
  price and standard error, bit for bit, as 1, 3, 16 and 64 shards.
- A worker killed (SIGKILL) in the middle of a 64-shard job: the job succeeds, every
  shard counted once (one `completed` event each, shards_done = 64), the result the
  unkilled run's.
- A 64-shard job cancelled halfway: no shard is claimed after the cancel is recorded.
- An option chain in shards: each shard's part goes through the storage emulator; the
  job's values.parquet is the one-piece job's.
"""

from __future__ import annotations

import contextlib
import io
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from devtools.emulators import Emulators
from devtools.jobs import asian_monte_carlo, wait_for_job, wait_until
from devtools.postgres import PostgresServer
from devtools.stack import Stack, start_stack
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.schema import jobs
from quantrun.domain.jobs import JobStatus

PARAMS = asian_monte_carlo(paths=1_000_000, seed=2026)


USER = "shards"  # the API key's user (tests/e2e/conftest.py)


@pytest.fixture(scope="module")
def stack(postgres_server: PostgresServer, emulators: Emulators) -> Iterator[Stack]:
    s = start_stack(
        postgres=postgres_server,
        emulators=emulators,
        sample_symbols=["AAPL"],
        workers=2,
        service_env={
            "QUANTRUN_LEASE_SECONDS": "2",
            "QUANTRUN_MAX_ATTEMPTS": "5",
            "QUANTRUN_RATE_REQUESTS_PER_SECOND": "0",
        },
    )
    try:
        yield s
    finally:
        s.stop()


def submit(client: httpx.Client, shards: int) -> dict[str, Any]:
    r = client.post(
        "/v1/jobs",
        json={"model": "monte_carlo_option", "params": PARAMS, "options": {"shards": shards}},
    )
    assert r.status_code == 202, r.text
    return dict(r.json())


def finished(client: httpx.Client, stack: Stack, job_id: str) -> dict[str, Any]:
    def sweep() -> None:  # what Cloud Scheduler does in production
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{stack.worker_url}/tasks/reclaim", timeout=10)

    return wait_for_job(client, job_id, timeout=180, interval=0.2, between=sweep)


@pytest.fixture(scope="module")
def results(client: httpx.Client, stack: Stack) -> dict[int, dict[str, Any]]:
    # all four at once: the one-piece job holds one worker while the shards fill the other
    submitted = {n: submit(client, n)["id"] for n in (1, 3, 16, 64)}
    out = {}
    for n, job_id in submitted.items():
        done = finished(client, stack, job_id)
        assert done["status"] == "succeeded", done
        out[n] = done
    return out


def test_any_shard_count_gives_the_same_price_bit_for_bit(
    results: dict[int, dict[str, Any]],
) -> None:
    one = results[1]["result"]
    assert results[1]["shards"] is None
    for n in (3, 16, 64):
        assert results[n]["shards"] == {"total": n, "done": n, "failed": 0}
        got = results[n]["result"]
        assert (got["price"], got["std_error"]) == (one["price"], one["std_error"]), n
        assert got == one


def test_a_worker_killed_mid_job_leaves_every_shard_counted_once(
    client: httpx.Client,
    stack: Stack,
    store: SqlJobStore,
    results: dict[int, dict[str, Any]],
) -> None:
    job = submit(client, 64)
    wait_until(
        lambda: client.get(f"/v1/jobs/{job['id']}").json()["shards"]["done"] >= 8, interval=0.05
    )
    stack.workers[1].stop(signal.SIGKILL)
    try:
        done = finished(client, stack, job["id"])
    finally:
        stack.start_worker(1)
    assert done["status"] == "succeeded", done
    assert done["shards"] == {"total": 64, "done": 64, "failed": 0}
    assert done["result"] == results[64]["result"]
    shards = _shards(store, job["id"])
    completed = [[e.reason for e in store.events(s)].count("completed") for s in shards]
    assert completed == [1] * 64
    merged = [e.reason for e in store.events(job["id"]) if "shards done" in e.reason]
    assert len(merged) == 1


def test_a_cancel_halfway_stops_every_pending_shard(
    client: httpx.Client, store: SqlJobStore
) -> None:
    job = submit(client, 64)
    wait_until(
        lambda: client.get(f"/v1/jobs/{job['id']}").json()["shards"]["done"] >= 16, interval=0.05
    )
    r = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time.sleep(2.0)  # messages keep arriving for the cancelled shards
    shards = _shards(store, job["id"])
    assert_no_claim_after_a_cancel(store, shards)
    statuses = [store.get_job(s).status for s in shards]  # type: ignore[union-attr]
    assert statuses.count(JobStatus.CANCELLED) >= 1
    assert set(statuses) <= {JobStatus.SUCCEEDED, JobStatus.CANCELLED}


def assert_no_claim_after_a_cancel(store: SqlJobStore, shards: list[str]) -> None:
    """In each shard's own history (the events its row's transitions wrote, in the order
    they committed) no claim follows its cancel: the cancel and a claim serialise on the
    row, so a shard claimed an instant before the cancel committed is cancelled after its
    claim (and stops at its next checkpoint), and none is claimed once cancelled. (The
    events' clock times cannot say this: each is read before its statement runs.)"""
    claimed = 0
    for shard in shards:
        reasons = [(e.to_status, e.reason) for e in store.events(shard)]
        cancel = next(
            (i for i, (to, _) in enumerate(reasons) if to == JobStatus.CANCELLED), len(reasons)
        )
        after = [r for _, r in reasons[cancel:] if r.startswith("claimed")]
        assert after == [], f"shard {shard} claimed after its cancel: {reasons}"
        claimed += any(r.startswith("claimed") for _, r in reasons)
    assert claimed, "no shard ran before the cancel"


def _shards(store: SqlJobStore, job_id: str) -> list[str]:
    with store._engine.connect() as conn:
        rows = conn.execute(
            select(jobs.c.id).where(jobs.c.parent_id == job_id).order_by(jobs.c.shard_index)
        ).all()
    return [r.id for r in rows]


def test_an_option_chain_in_shards_through_cloud_storage(
    client: httpx.Client, stack: Stack
) -> None:
    """implied_volatility over 600,000 options (3 chunks) in 3 shards on the two workers:
    the parts go to the storage emulator beside each shard, and the job's values.parquet
    and summary are the one-piece job's."""
    chain = {
        "type": "put",
        "price": [[0.5 + 0.02 * i] for i in range(600)],
        "spot": 100.0,
        "strike": [60.0 + 0.08 * i for i in range(1000)],
        "maturity": 0.5,
        "rate": 0.02,
    }
    done = []
    for shards in (1, 3):
        r = client.post(
            "/v1/jobs",
            json={"model": "implied_volatility", "params": chain, "options": {"shards": shards}},
        )
        assert r.status_code == 202, r.text
        done.append(finished(client, stack, r.json()["id"]))
    one, three = done
    assert one["status"] == three["status"] == "succeeded", done
    assert three["shards"] == {"total": 3, "done": 3, "failed": 0}
    assert three["result"] == one["result"] and one["result"]["values"]["rows"] == 600_000
    assert sum(one["result"]["counts"].values()) == 600_000
    files = [
        client.get(f"/v1/jobs/{j['id']}/artifacts/values.parquet", follow_redirects=True)
        for j in done
    ]
    tables = [pq.read_table(io.BytesIO(f.content)) for f in files]
    assert tables[1].equals(tables[0]) and tables[0].num_rows == 600_000
