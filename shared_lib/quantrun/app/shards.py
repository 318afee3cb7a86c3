"""Sharded jobs (CONTRACT 5.2): a job of a model that splits runs as shards, each a job
row of its own on the queue (claimed, leased, retried, dead-lettered and cancelled like
any job) and the last shard to finish merges them into the job's result.

A shard's params are ``{"shard": <the model's shard input>, "cost": <its estimated
cost>}``; its result is the model's partial result. The job itself is never queued: it
turns running when its first shard starts and is finished by the merge, which the job
store hands to exactly one worker (the one whose shard completed the count). A shard
that fails for good fails the job and cancels the other shards; a shard whose job has
ended stops before it starts.

Here: the shard rows a submit makes, and failing a shard (with its job). Running a shard
and merging a job are steps of the one run path, ``app/pipeline.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from quantrun.catalog.spec import ModelSpec
from quantrun.clock import utcnow
from quantrun.domain.jobs import Job, JobEnd, JobError, JobStatus
from quantrun.logging import get_logger
from quantrun.ports import JobStore

log = get_logger(__name__)


def shard_jobs(job: Job, spec: ModelSpec[Any], params: BaseModel, n: int, cost: float) -> list[Job]:
    """The n shard rows of ``job`` (which gets ``shards_total``), each queued."""
    assert spec.sharding is not None
    inputs = spec.sharding.split(params, n)
    return [
        Job(
            id=str(uuid.uuid4()),
            user_id=job.user_id,
            model=job.model,
            params={"shard": shard, "cost": cost / len(inputs)},
            status=JobStatus.QUEUED,
            created_at=job.created_at,
            parent_id=job.id,
            shard_index=i,
            trace=job.trace,
        )
        for i, shard in enumerate(inputs)
    ]


def fail_shard(store: JobStore, shard: Job, error: JobError) -> None:
    """A shard failed for good: so does its job (the other shards are cancelled)."""
    assert shard.parent_id is not None
    store.fail_shards(
        shard.parent_id,
        now=utcnow(),
        error=JobError(error.code, f"shard {shard.shard_index}: {error.message}"),
    )


def fail_row(store: JobStore, row: Job, worker: str, error: JobError) -> bool:
    """Fail a job (or shard) this worker holds; a shard takes its job down with it."""
    failed = store.finish(row.id, JobEnd.failed(error), worker=worker, now=utcnow())
    if failed and row.parent_id is not None:
        fail_shard(store, row, error)
    return failed
