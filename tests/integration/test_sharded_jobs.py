"""Sharded jobs (CONTRACT 5.2) through the API and the embedded worker threads, on
SQLite: the merged result is the one-piece job's bit for bit, the job counts its
shards, the list shows the job and not its shards, cancelling stops the shards, a
shard that fails fails the job. (On PostgreSQL and Pub/Sub: tests/e2e/test_shards.py.)"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
from sqlalchemy import select

from devtools.jobs import asian_monte_carlo, wait_for_job
from quantrun.adapters.sql.schema import jobs
from quantrun.app.auth import create_key
from quantrun.app.shards import shard_jobs
from quantrun.catalog import REGISTRY
from quantrun.catalog.spec import RunContext
from quantrun.clock import utcnow
from quantrun.domain.jobs import Job, JobStatus
from quantrun.domain.results import json_safe
from quantrun.settings import LimitSettings, Settings, WorkerSettings
from tests.harness.api import RunningApi

USER = "sharding"


def api_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        worker=WorkerSettings(lease_seconds=5, worker_threads=2),
        # a small inline budget: the option-chain job below writes values.parquet
        limits=LimitSettings(max_shards=64, rate_requests_per_second=0, result_inline_values=1000),
    )


def submit(
    client: httpx.Client,
    params: dict[str, Any],
    shards: int | None,
    model: str = "monte_carlo_option",
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "params": params}
    if shards is not None:
        body["options"] = {"shards": shards}
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 202, r.text
    return dict(r.json())


def sharded_rows(user_id: str, params: Any, n: int) -> tuple[Job, list[Job]]:
    """A monte_carlo_option job of n shards, as the submit use case makes them (for a
    test to store without publishing)."""
    job = Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model="monte_carlo_option",
        params=params.model_dump(mode="json"),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        shards_total=n,
    )
    return job, shard_jobs(job, REGISTRY["monte_carlo_option"], params, n, cost=1.0)


def shard_rows(api: RunningApi, job_id: str) -> list[Any]:
    with api.container.engine.connect() as conn:
        return conn.execute(
            select(jobs).where(jobs.c.parent_id == job_id).order_by(jobs.c.shard_index)
        ).all()


def test_shards_merge_to_the_one_piece_result_bit_for_bit(
    api: RunningApi, client: httpx.Client
) -> None:
    params = asian_monte_carlo(paths=200_000, seed=21)
    whole = wait_for_job(client, submit(client, params, 1)["id"], timeout=120)
    job = submit(client, params, 8)
    assert job["shards"] == {"total": 8, "done": 0, "failed": 0}
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    assert done["result"] == whole["result"] and whole["shards"] is None
    assert done["shards"] == {"total": 8, "done": 8, "failed": 0} and done["progress"] == 1
    rows = shard_rows(api, job["id"])
    assert [r.shard_index for r in rows] == list(range(8))
    assert {r.status for r in rows} == {"succeeded"}
    events = [e.reason for e in api.container.store.events(job["id"])]
    assert events[0] == "submitted" and "first shard started" in events
    assert sum("all 8 shards done" in e for e in events) == 1  # merged once
    listed = client.get("/v1/jobs", params={"limit": 100}).json()["items"]
    assert {j["id"] for j in listed} >= {job["id"]} and not {r.id for r in rows} & {
        j["id"] for j in listed
    }


def test_the_default_shard_count_comes_from_the_cost(client: httpx.Client) -> None:
    # 2e6 paths x 252 steps = 5.04e8 cost units; the default shard is 2e8: 3 shards
    job = submit(client, asian_monte_carlo(paths=2_000_000, seed=2), None)
    assert job["shards"]["total"] == 3
    small = submit(client, asian_monte_carlo(paths=10_000, seed=2), None)
    assert small["shards"] is None
    client.post(f"/v1/jobs/{job['id']}/cancel")


def test_too_many_shards_or_a_model_that_does_not_split_is_422(client: httpx.Client) -> None:
    r = client.post(
        "/v1/jobs",
        json={
            "model": "monte_carlo_option",
            "params": asian_monte_carlo(10_000, 1),
            "options": {"shards": 65},
        },
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "options.shards"
    markowitz = REGISTRY["markowitz"].example
    r = client.post(
        "/v1/jobs", json={"model": "markowitz", "params": markowitz, "options": {"shards": 2}}
    )
    assert r.status_code == 422 and "one piece" in r.json()["error"]["message"]


def test_cancelling_a_sharded_job_cancels_its_shards(api: RunningApi) -> None:
    """No shard starts after the cancel is recorded (a shard's claim and its cancel
    serialise on its row: its events say which came first; their clock times, read
    before each statement runs, cannot); and the job counts once toward its user's
    active quota, its shards not at all."""
    store = api.container.store
    key = create_key(store, "canceller").key
    client = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"})
    user = store.find_user("canceller")
    assert user is not None
    active_before = store.quota_usage(user.id, now=utcnow())[0]
    job = submit(client, asian_monte_carlo(paths=3_000_000, seed=3), 32)
    assert store.quota_usage(user.id, now=utcnow())[0] == active_before + 1
    r = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time.sleep(1.0)  # the worker threads go on taking messages: none may start a shard
    rows = shard_rows(api, job["id"])
    assert len(rows) == 32 and {r.status for r in rows} <= {"succeeded", "cancelled"}
    assert sum(r.status == "cancelled" for r in rows) >= 16  # most had not run
    for row in rows:  # in each shard's own history no claim follows its cancel
        history = [(e.to_status, e.reason) for e in store.events(row.id)]
        cancel = next(
            (i for i, (to, _) in enumerate(history) if to == JobStatus.CANCELLED), len(history)
        )
        assert not any(r.startswith("claimed") for _, r in history[cancel:]), history
        # each event starts where the one before ended (the cascade names the status it
        # cancelled from: it wrote none before)
        events = store.events(row.id)
        assert [e.from_status for e in events[1:]] == [e.to_status for e in events[:-1]]
    assert store.quota_usage(user.id, now=utcnow())[0] == active_before


def test_a_shard_that_fails_fails_its_job(api: RunningApi, client: httpx.Client) -> None:
    """A shard whose input its model refuses: the job fails naming the shard, and the
    shards that had not run are cancelled."""
    store, queue = api.container.store, api.container.queue
    user = store.find_user("sharding")
    assert user is not None
    spec = REGISTRY["monte_carlo_option"]
    params = spec.params.model_validate(asian_monte_carlo(paths=100_000, seed=4))
    job, pieces = sharded_rows(user.id, params, 4)
    broken = {**pieces[0].params, "shard": {"seed": "not a seed", "blocks": [0, 1]}}
    pieces[0] = replace(pieces[0], params=broken)
    store.create_job(job, shards=pieces)
    queue.publish(pieces[0].id)  # only the broken one: the others wait, queued
    done = wait_for_job(client, job.id, timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "model_error"
    assert done["error"]["message"].startswith("shard 0: ")
    assert done["shards"] == {"total": 4, "done": 0, "failed": 1}
    assert [r.status for r in shard_rows(api, job.id)] == ["failed"] + ["cancelled"] * 3


def test_an_option_chain_in_shards_writes_the_one_piece_values_file(
    client: httpx.Client,
) -> None:
    """black_scholes past the inline budget in 3 shards of whole chunks (262,144 options
    each): each shard stores its rows as a part beside it, the merge joins the parts into
    the job's values.parquet: the one-piece file's rows and summary exactly."""
    chain = {
        "type": "call",
        "spot": [[50.0 + 0.1 * i] for i in range(600)],
        "strike": [40.0 + 0.05 * i for i in range(1000)],
        "maturity": 0.75,
        "rate": 0.03,
        "volatility": 0.25,
        "greeks": False,
    }
    whole = wait_for_job(client, submit(client, chain, 1, "black_scholes")["id"], timeout=120)
    job = submit(client, chain, 8, "black_scholes")
    assert job["shards"]["total"] == 3  # 600,000 options: 3 chunks, however many asked
    done = wait_for_job(client, job["id"], timeout=120)
    assert done["status"] == "succeeded", done
    assert done["result"] == whole["result"] and done["result"]["values"]["rows"] == 600_000
    tables = [
        pq.read_table(
            io.BytesIO(client.get(f"/v1/jobs/{j['id']}/artifacts/values.parquet").content)
        )
        for j in (whole, done)
    ]
    assert tables[0].num_rows == 600_000 and tables[1].equals(tables[0])
    assert [a["name"] for a in done["artifacts"]] == ["values.parquet", "manifest.json"]


def test_a_merger_that_dies_is_replaced(api: RunningApi, client: httpx.Client) -> None:
    """The worker whose shard completed the count is given the merge and dies before it:
    its lease on the job runs out, the sweep puts the job back on the queue, and another
    worker merges it, once, to the one-piece result."""
    store = api.container.store
    spec = REGISTRY["monte_carlo_option"]
    assert spec.sharding is not None
    user = store.find_user("sharding")
    assert user is not None
    params = spec.params.model_validate(asian_monte_carlo(paths=60_000, seed=8))
    job, pieces = sharded_rows(user.id, params, 3)
    store.create_job(job, shards=pieces)  # not published: this test is the doomed worker
    context = RunContext(load_prices=api.container.prices.load_close)
    store.start_shards(job.id, now=utcnow())
    merge = False
    for piece in pieces:
        now = utcnow()
        claim = store.claim(
            piece.id,
            worker="doomed",
            now=now,
            lease_until=now + timedelta(seconds=30),
            max_attempts=3,
        )
        assert claim.job is not None
        partial = spec.sharding.run(params, piece.params["shard"], context).result
        _, merge = store.finish_shard(
            piece.id,
            job_id=job.id,
            worker="doomed",
            now=utcnow(),
            result=json_safe(partial),
            lease_until=utcnow() + timedelta(seconds=1),
        )
    assert merge  # the last shard's worker holds the job's lease to merge it, and dies
    done = wait_for_job(client, job.id, timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"] == spec.run(params, context).result
    events = store.events(job.id)
    assert sum(e.to_status == JobStatus.SUCCEEDED for e in events) == 1
    assert any(e.reason.startswith("claimed") for e in events), [e.reason for e in events]
