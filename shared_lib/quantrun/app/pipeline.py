"""The run path of every claimed job, whatever its kind: a whole job, a shard of a sharded
job, or a sharded job's merge (CONTRACT 5.2; the shards' rows: ``app/shards.py``).

Each goes through the same steps, once each:

1. under the job's lease (``execute.Worker.run`` claimed it), the model computes
   (``guarded``: a cancel stops it, a transient failure gives the lease back for a
   retry, any other failure fails the row, and a shard's failure its job);
2. what it made is stored (``stored``): its artifacts under this attempt's keys, then
   the report (``app/provenance.py``); a shard keeps its partial result and parts
   instead;
3. the row is finished (``finished``): the job succeeds with its result and
   ``manifest.json`` in one transaction, or the shard is counted on its job and the
   worker whose shard completed the count merges the job at once.

A step returns True when the message is settled (acknowledge it) and False when the
run must be retried (its lease was given back).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from quantrun.app.job_log import finished_fields
from quantrun.app.lease import Lease, WorkerConfig
from quantrun.app.provenance import Outcome, RecordedLoads, Timings, record
from quantrun.app.shards import fail_row
from quantrun.app.stored import put_new
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext
from quantrun.clock import utcnow
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import JobCancelled, ModelInputError, TransientError
from quantrun.domain.jobs import Job, JobEnd, JobError, JobStatus
from quantrun.domain.results import json_safe
from quantrun.logging import get_logger
from quantrun.ports import ArtifactStore, JobStore

log = get_logger(__name__)

# (a checkpoint, the job's params) -> what the model may use
Context = Callable[[Callable[[float], None], Any], RunContext]
T = TypeVar("T")


@dataclass(frozen=True)
class Stored:
    """What a run made, stored: the result and the artifacts' references."""

    result: dict[str, Any]
    artifacts: list[ArtifactRef]
    manifest: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunPipeline:
    """What running any kind of job needs (built by ``execute.Worker``)."""

    spec: ModelSpec[Any]
    store: JobStore
    artifacts: ArtifactStore
    cfg: WorkerConfig
    context: Context
    keepalive: Callable[[], None]
    fields: dict[str, Any]

    # -- the three kinds ----------------------------------------------------------------
    def whole(self, job: Job, params: Any) -> bool:
        """Run a claimed job that is not sharded."""
        started = time.monotonic()

        def compute(lease: Lease) -> Stored:
            plain = self.context(lease.checkpoint, params)
            loads = RecordedLoads(plain.load_prices)
            output = self.spec.run(params, replace(plain, load_prices=loads))
            return self.stored(job, params, output, loads, started)

        outcome = self.guarded(job, "job", compute)
        if not isinstance(outcome, Stored):
            return outcome
        self.finished(job, outcome, started, "job finished")
        return True

    def shard(self, shard: Job) -> bool:
        """Run a claimed shard and count it on its job; merge the job when it was the
        last."""
        assert self.spec.sharding is not None and shard.parent_id is not None
        sharding = self.spec.sharding
        job = self.store.get_job(shard.parent_id)
        if job is None or job.status.terminal:
            self.store.cancel(shard.id, user_id=shard.user_id, now=utcnow())
            log.info("shard not run: its job has ended", extra={"fields": self.fields})
            return True
        if job.status == JobStatus.QUEUED:
            self.store.start_shards(job.id, now=utcnow())

        def compute(lease: Lease) -> Stored:
            params = self.spec.params.model_validate(job.params)
            ctx = self.context(lease.checkpoint, params)
            output = sharding.run(params, shard.params["shard"], ctx)
            partial = json_safe(output.result)
            if output.artifacts:
                partial["parts"] = {
                    a.name: _put_part(self.artifacts, shard, a.name, a.data, a.content_type)
                    for a in output.artifacts
                }
            json.dumps(partial, allow_nan=False)
            return Stored(partial, [])

        outcome = self.guarded(shard, "shard", compute)
        if not isinstance(outcome, Stored):
            return outcome
        now = utcnow()
        _, merge = self.store.finish_shard(
            shard.id,
            job_id=job.id,
            worker=self.cfg.worker_id,
            now=now,
            result=outcome.result,
            lease_until=now + timedelta(seconds=self.cfg.lease_seconds),
        )
        log.info("shard finished", extra={"fields": {**self.fields, "shard": shard.shard_index}})
        return self.merge(job.id) if merge else True

    def merge(self, job_id: str) -> bool:
        """Merge a sharded job whose lease this worker holds, from its shards' partial
        results."""
        assert self.spec.sharding is not None
        sharding = self.spec.sharding
        job = self.store.get_job(job_id)
        if job is None or job.status.terminal:
            return True
        if job.shards_total is None or job.shards_done < job.shards_total:
            # a stray message for a job whose shards are still running: not ours to merge
            # yet (the worker of its last shard will be given it)
            self.store.hand_off(job.id, worker=self.cfg.worker_id, now=utcnow())
            log.info("merge not due: shards still running", extra={"fields": self.fields})
            return True
        started = time.monotonic()

        def compute(lease: Lease) -> Stored:
            partials = self.store.shard_results(job.id)
            if len(partials) != job.shards_total:
                raise ValueError(f"{len(partials)} of {job.shards_total} shard results found")
            params = self.spec.params.model_validate(job.params)
            plain = self.context(lease.checkpoint, params)
            loads = RecordedLoads(plain.load_prices)
            ctx = replace(plain, load_prices=loads,
                          read_part=lambda ref: _read_part(self.artifacts, ref))  # fmt: skip
            output = sharding.merge(params, partials, ctx)
            return self.stored(job, params, output, loads, started, job.shards_total)

        outcome = self.guarded(job, "merge", compute)
        if not isinstance(outcome, Stored):
            return outcome
        self.finished(job, outcome, started, "job merged", shards=job.shards_total)
        return True

    # -- the steps they share -----------------------------------------------------------
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
                said = {**self.fields, **ended, "code": error.code, "reason": error.message}
                log.info(f"{what} failed", extra={"fields": said})
                return True

    def stored(
        self,
        job: Job,
        params: Any,
        output: ModelOutput,
        loads: RecordedLoads,
        started: float,
        shards: int | None = None,
    ) -> Stored:
        """A finished computation's result checked as JSON, its artifacts stored under
        this attempt's keys (an earlier, failed attempt's never block them), then its
        manifest and report."""
        computed = time.monotonic()
        result = json_safe(output.result)
        json.dumps(result, allow_nan=False)
        refs = [
            put_new(self.artifacts, job.id, a.name, a.data, a.content_type, job.attempts)
            for a in output.artifacts
        ]
        timings = Timings(computed - started, time.monotonic() - computed)
        outcome = Outcome(params, result, output, loads, timings, shards)
        recorded = record(self.artifacts, job, self.spec, outcome, self.cfg)
        return Stored(result, refs + recorded.artifacts, recorded.manifest)

    def finished(self, job: Job, stored: Stored, started: float, said: str, **more: Any) -> None:
        """The job succeeds with what was stored; a job cancelled meanwhile keeps its
        cancel (the result is discarded)."""
        end = JobEnd.succeeded(stored.result, stored.artifacts, stored.manifest)
        done = self.store.finish(job.id, end, worker=self.cfg.worker_id, now=utcnow())
        seconds = time.monotonic() - started
        if done:
            ended = finished_fields(job.model, JobStatus.SUCCEEDED, seconds)
            log.info(said, extra={"fields": {**self.fields, **ended, "job_id": job.id, **more}})
        else:
            log.info(
                "job result discarded (cancelled meanwhile)",
                extra={"fields": {**self.fields, "model": job.model, "seconds": round(seconds, 4)}},
            )


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
