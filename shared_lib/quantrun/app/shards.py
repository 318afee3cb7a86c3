"""Sharded jobs (CONTRACT 5.2): a job of a model that splits runs as shards, each a job
row of its own on the queue (claimed, leased, retried, dead-lettered and cancelled like
any job) and the last shard to finish merges them into the job's result.

A shard's params are ``{"shard": <the model's shard input>, "cost": <its estimated
cost>}``; its result is the model's partial result. The job itself is never queued: it
turns running when its first shard starts and is finished by the merge, which the job
store hands to exactly one worker (the one whose shard completed the count). A shard
that fails for good fails the job and cancels the other shards; a shard whose job has
ended stops before it starts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from quantrun.app.job_log import finished_fields
from quantrun.app.lease import Lease, WorkerConfig
from quantrun.app.provenance import Outcome, RecordedLoads, Timings, record
from quantrun.app.stored import put_new
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext
from quantrun.clock import utcnow
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import JobCancelled, ModelInputError, TransientError
from quantrun.domain.jobs import Job, JobError, JobStatus
from quantrun.domain.results import json_safe
from quantrun.logging import get_logger
from quantrun.ports import ArtifactStore, JobStore

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
    failed = store.finish(row.id, worker=worker, now=utcnow(), status=JobStatus.FAILED, error=error)
    if failed and row.parent_id is not None:
        fail_shard(store, row, error)
    return failed


# (a checkpoint, the job's params) -> what the model may use
Context = Callable[[Callable[[float], None], Any], RunContext]
T = TypeVar("T")


@dataclass(frozen=True)
class ShardWork:
    """What running a shard or merging a job needs (built by ``execute.run_job``)."""

    spec: ModelSpec[Any]
    store: JobStore
    artifacts: ArtifactStore
    cfg: WorkerConfig
    context: Context
    keepalive: Callable[[], None]
    fields: dict[str, Any]

    def guarded(self, row: Job, what: str, work: Callable[[Lease], T]) -> T | bool:
        """``work`` under ``row``'s lease, with the rules every run keeps: a cancel stops
        it (True: done), a transient failure gives the lease back (False: retry), any
        other failure fails the row (a shard: its job too) (True)."""
        with Lease(self.store, row.id, self.cfg, self.keepalive) as lease:
            try:
                return work(lease)
            except JobCancelled:
                log.info(f"{what} stopped at a checkpoint", extra={"fields": self.fields})
                return True
            except TransientError as exc:
                reason = {**self.fields, "reason": exc.message}
                log.warning(
                    f"transient failure; the {what} will be retried", extra={"fields": reason}
                )
                lease.release()
                return False
            except Exception as exc:
                error = _error(exc)
                fail_row(self.store, row, self.cfg.worker_id, error)
                # a shard's failure or a merge's is its job's: the job ended failed
                ended = finished_fields(row.model, JobStatus.FAILED, None)
                log.info(
                    f"{what} failed", extra={"fields": {**self.fields, **ended, "code": error.code}}
                )
                return True


@dataclass(frozen=True)
class _Partial:
    value: dict[str, Any]


def run_shard(shard: Job, w: ShardWork) -> bool:
    """Run a claimed shard and record it; merge the job when it was the last. False
    when the shard must be retried (a transient failure: its lease was given back)."""
    assert w.spec.sharding is not None and shard.parent_id is not None
    sharding = w.spec.sharding
    job = w.store.get_job(shard.parent_id)
    if job is None or job.status.terminal:
        w.store.cancel(shard.id, user_id=shard.user_id, now=utcnow())
        log.info("shard not run: its job has ended", extra={"fields": w.fields})
        return True
    if job.status == JobStatus.QUEUED:
        w.store.start_shards(job.id, now=utcnow())

    def compute(lease: Lease) -> _Partial:
        params = w.spec.params.model_validate(job.params)
        output = sharding.run(params, shard.params["shard"], w.context(lease.checkpoint, params))
        partial = json_safe(output.result)
        if output.artifacts:
            partial["parts"] = {
                a.name: _put_part(w.artifacts, shard, a.name, a.data, a.content_type)
                for a in output.artifacts
            }
        json.dumps(partial, allow_nan=False)
        return _Partial(partial)

    outcome = w.guarded(shard, "shard", compute)
    if not isinstance(outcome, _Partial):
        return outcome
    now = utcnow()
    _, merge = w.store.finish_shard(
        shard.id,
        job_id=job.id,
        worker=w.cfg.worker_id,
        now=now,
        result=outcome.value,
        lease_until=now + timedelta(seconds=w.cfg.lease_seconds),
    )
    log.info("shard finished", extra={"fields": {**w.fields, "shard": shard.shard_index}})
    return merge_job(job.id, w) if merge else True


@dataclass(frozen=True)
class _Merged:
    result: dict[str, Any]
    artifacts: list[ArtifactRef]


def merge_job(job_id: str, w: ShardWork) -> bool:
    """Merge a sharded job whose lease this worker holds: its result and artifacts from
    the shards' partial results. False when it must be retried."""
    assert w.spec.sharding is not None
    sharding = w.spec.sharding
    job = w.store.get_job(job_id)
    if job is None or job.status.terminal:
        return True
    if job.shards_total is None or job.shards_done < job.shards_total:
        # a stray message for a job whose shards are still running: not ours to merge yet
        # (the worker of its last shard will be given it)
        w.store.hand_off(job.id, worker=w.cfg.worker_id, now=utcnow())
        log.info("merge not due: shards still running", extra={"fields": w.fields})
        return True
    started = time.monotonic()

    def merge(lease: Lease) -> _Merged:
        partials = w.store.shard_results(job.id)
        if len(partials) != job.shards_total:
            raise ValueError(f"{len(partials)} of {job.shards_total} shard results found")
        params = w.spec.params.model_validate(job.params)
        plain = w.context(lease.checkpoint, params)
        loads = RecordedLoads(plain.load_prices)
        ctx = replace(plain, load_prices=loads, read_part=lambda ref: _read_part(w.artifacts, ref))
        output: ModelOutput = sharding.merge(params, partials, ctx)
        computed = time.monotonic()
        result = json_safe(output.result)
        json.dumps(result, allow_nan=False)
        refs = [
            put_new(w.artifacts, job.id, a.name, a.data, a.content_type, job.attempts)
            for a in output.artifacts
        ]
        timings = Timings(computed - started, time.monotonic() - computed)
        outcome = Outcome(params, result, output, loads, timings, job.shards_total)
        return _Merged(result, refs + record(w.artifacts, job, w.spec, outcome, w.cfg))

    outcome = w.guarded(job, "merge", merge)
    if not isinstance(outcome, _Merged):
        return outcome
    w.store.finish(
        job.id,
        worker=w.cfg.worker_id,
        now=utcnow(),
        status=JobStatus.SUCCEEDED,
        result=outcome.result,
        artifacts=outcome.artifacts,
    )
    ended = finished_fields(job.model, JobStatus.SUCCEEDED, time.monotonic() - started)
    log.info(
        "job merged",
        extra={"fields": {**w.fields, **ended, "job_id": job.id, "shards": job.shards_total}},
    )
    return True


def _put_part(
    artifacts: ArtifactStore, shard: Job, name: str, data: bytes, content_type: str
) -> dict[str, Any]:
    """Store a shard's part beside the shard (its own id, its attempt: a retried shard
    writes anew) and give the reference its partial keeps."""
    ref = put_new(artifacts, shard.id, name, data, content_type, shard.attempts)
    return {"job_id": shard.id, "name": name, "attempt": ref.attempt}


def _read_part(artifacts: ArtifactStore, ref: dict[str, Any]) -> bytes:
    stored = artifacts.get(ref["job_id"], ref["name"], attempt=int(ref["attempt"]))
    if stored is None:
        # written before the shard was recorded done: gone means the bucket lost it
        raise ValueError(f"shard part {ref['name']} of {ref['job_id']} is missing")
    return stored.data


def _error(exc: Exception) -> JobError:
    if isinstance(exc, ModelInputError):
        return JobError(exc.code, exc.message)
    log.exception("model raised")
    return JobError("model_error", f"the model failed unexpectedly ({type(exc).__name__}: {exc})")
