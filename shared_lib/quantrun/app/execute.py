"""Running one job: claim it, run its model under a lease, store what it made, finish it.

``run_job`` is what every queue consumer calls (embedded loop, Pub/Sub push, pull).
Its outcome tells the consumer whether to acknowledge the message:

- ``DONE``: the job finished (or had finished, or was cancelled, or is unknown): ack.
- ``BUSY``: another worker holds a live lease on it: ack (that worker will finish it).
- ``RETRY``: a transient failure (price or artifact store unavailable): do not ack;
  the lease was released so the redelivery can claim the job again.
"""

from __future__ import annotations

import enum
import functools
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

import quantrun.tracing as tracing
from quantrun.app.history_loads import loader
from quantrun.app.job_log import finished_fields
from quantrun.app.lease import Lease, WorkerConfig, draining
from quantrun.app.limits import check_cost
from quantrun.app.provenance import Outcome, RecordedLoads, Timings, record
from quantrun.app.shards import ShardWork, fail_row, fail_shard, merge_job, run_shard
from quantrun.app.stored import put_new
from quantrun.catalog import get_spec
from quantrun.catalog.spec import ModelOutput, ModelSpec, RunContext
from quantrun.clock import utcnow
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import InputTooLarge, JobCancelled, ModelInputError, TransientError
from quantrun.domain.jobs import ClaimOutcome, Job, JobError, JobStatus, attempts_exhausted
from quantrun.domain.results import json_safe
from quantrun.logging import get_logger
from quantrun.ports import ArtifactStore, JobStore, PriceStore

log = get_logger(__name__)


class RunOutcome(enum.StrEnum):
    DONE = "done"
    BUSY = "busy"
    RETRY = "retry"


@functools.cache
def _cpu_count() -> int:
    """The cores this process may run on (its affinity: a cpuset or a pinned process
    sees fewer than the machine has); read once, since it reads /proc."""
    return len(os.sched_getaffinity(0)) or 1


def _fail(
    store: JobStore,
    job: Job,
    cfg: WorkerConfig,
    code: str,
    message: str,
    log_fields: Mapping[str, Any],
) -> RunOutcome:
    fail_row(store, job, cfg.worker_id, JobError(code, message))
    ended = finished_fields(job.model, JobStatus.FAILED, None)  # a shard takes its job down
    log.info(
        "job failed",
        extra={"fields": {**log_fields, **ended, "code": code, "reason": message}},
    )
    return RunOutcome.DONE


def run_job(
    *,
    job_id: str,
    store: JobStore,
    prices: PriceStore,
    artifacts: ArtifactStore,
    cfg: WorkerConfig,
    keepalive: Callable[[], None] = lambda: None,
    log_fields: Mapping[str, Any] | None = None,
    handoff: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Claim, run and finish one job. ``log_fields`` (the message's id, its delivery
    attempt) go on the one line logged per message, with the job's id. With ``handoff``
    (a push worker), a job estimated above ``cfg.push_max_cost`` is queued again, its
    attempt not counted, and handed to the long-jobs queue (acknowledged here, run by a
    pull consumer)."""
    fields = {**(log_fields or {}), "job_id": job_id}
    if draining():
        # shutting down: another worker takes the message (nack: it is redelivered)
        return RunOutcome.RETRY
    now = utcnow()
    claim = store.claim(
        job_id,
        worker=cfg.worker_id,
        now=now,
        lease_until=now + timedelta(seconds=cfg.lease_seconds),
        max_attempts=cfg.max_attempts,
    )
    if claim.outcome == ClaimOutcome.ATTEMPTS_EXHAUSTED and claim.job is not None:
        # claimable but for its attempts: earlier runs died (or ran out of time) mid-job
        error = attempts_exhausted(claim.job, cfg.max_attempts)
        if store.fail(job_id, now=now, error=error) and claim.job.parent_id is not None:
            fail_shard(store, claim.job, error)
    if claim.outcome != ClaimOutcome.CLAIMED or claim.job is None:
        log.info(
            "message needs no run",
            extra={"fields": {**fields, "claim": claim.outcome.value}},
        )
        if claim.outcome == ClaimOutcome.LEASED_ELSEWHERE:
            return RunOutcome.BUSY
        return RunOutcome.DONE
    job = claim.job
    # a pushed message brought its trace; a pulled or embedded one takes the job's own
    with tracing.using(None if tracing.current() else tracing.parse(job.trace)):
        return _run_claimed(job, store, prices, artifacts, cfg, keepalive, fields, handoff)


def _run_claimed(
    job: Job,
    store: JobStore,
    prices: PriceStore,
    artifacts: ArtifactStore,
    cfg: WorkerConfig,
    keepalive: Callable[[], None],
    fields: dict[str, Any],
    handoff: Callable[[str], None] | None,
) -> RunOutcome:
    spec = get_spec(job.model)
    if spec is None:
        return _fail(
            store, job, cfg, "unknown_model", f"model {job.model!r} is not installed", fields
        )
    if job.parent_id is not None or job.shards_total is not None:
        return _sharded(job, spec, store, prices, artifacts, cfg, keepalive, fields, handoff)
    try:
        params = spec.params.model_validate(job.params)
        # again here: the limit may have been lowered since the job was queued
        cost = check_cost(
            spec, params, limit=cfg.max_cost, what="job", max_values=cfg.max_result_values
        )
    except ValidationError as exc:
        return _fail(store, job, cfg, "invalid_params", str(exc), fields)
    except InputTooLarge as exc:
        return _fail(store, job, cfg, exc.code, exc.message, fields)
    if handoff is not None and cost > cfg.push_max_cost:
        return _hand_off(store, job, cfg, handoff, fields)

    with Lease(store, job.id, cfg, keepalive) as lease:
        started = time.monotonic()
        loads = RecordedLoads(loader(prices, params))
        try:
            output = spec.run(
                params,
                # a queued job may use the machine; a sync run (submit.py) keeps to one
                RunContext(
                    load_prices=loads,
                    checkpoint=lease.checkpoint,
                    threads=_cpu_count(),
                    inline_values=cfg.inline_values,
                ),
            )
            computed = time.monotonic()
            result = json_safe(output.result)
            json.dumps(result, allow_nan=False)
            refs = _store_artifacts(artifacts, job, output)
            timings = Timings(computed - started, time.monotonic() - computed)
            refs += record(
                artifacts, job, spec, Outcome(params, result, output, loads, timings), cfg
            )
        except JobCancelled:
            log.info("job stopped at a checkpoint", extra={"fields": fields})
            return RunOutcome.DONE
        except ModelInputError as exc:
            return _fail(store, job, cfg, exc.code, exc.message, fields)
        except TransientError as exc:
            log.warning(
                "transient failure; the job will be retried",
                extra={"fields": {**fields, "reason": exc.message}},
            )
            lease.release()
            return RunOutcome.RETRY
        except Exception as exc:
            log.exception("model raised", extra={"fields": fields})
            return _fail(
                store,
                job,
                cfg,
                "model_error",
                f"the model failed unexpectedly ({type(exc).__name__}: {exc})",
                fields,
            )
    finished = store.finish(
        job.id,
        worker=cfg.worker_id,
        now=utcnow(),
        status=JobStatus.SUCCEEDED,
        result=result,
        artifacts=refs,
    )
    seconds = time.monotonic() - started
    if finished:
        ended = finished_fields(job.model, JobStatus.SUCCEEDED, seconds)
        log.info("job finished", extra={"fields": {**fields, **ended}})
    else:
        log.info(
            "job result discarded (cancelled meanwhile)",
            extra={"fields": {**fields, "model": job.model, "seconds": round(seconds, 4)}},
        )
    return RunOutcome.DONE


def _hand_off(
    store: JobStore,
    job: Job,
    cfg: WorkerConfig,
    handoff: Callable[[str], None],
    fields: Mapping[str, Any],
) -> RunOutcome:
    """A job (or shard) too long for a push request goes to the long-jobs queue."""
    # queued again first: were it published first, its consumer could find it ours
    store.hand_off(job.id, worker=cfg.worker_id, now=utcnow())
    handoff(job.id)
    log.info("job handed to the long-jobs queue", extra={"fields": fields})
    return RunOutcome.DONE


def _sharded(
    job: Job,
    spec: ModelSpec[Any],
    store: JobStore,
    prices: PriceStore,
    artifacts: ArtifactStore,
    cfg: WorkerConfig,
    keepalive: Callable[[], None],
    fields: dict[str, Any],
    handoff: Callable[[str], None] | None,
) -> RunOutcome:
    """A claimed shard (run it; merge if last) or sharded job (its merge, retried)."""
    if spec.sharding is None:
        return _fail(store, job, cfg, "unknown_model", f"{job.model} does not split", fields)
    if handoff is not None and job.parent_id is not None and job.params["cost"] > cfg.push_max_cost:
        return _hand_off(store, job, cfg, handoff, fields)

    def context(checkpoint: Callable[[float], None], params: Any) -> RunContext:
        return RunContext(
            load_prices=loader(prices, params),
            checkpoint=checkpoint,
            threads=_cpu_count(),
            inline_values=cfg.inline_values,
        )

    work = ShardWork(spec, store, artifacts, cfg, context, keepalive, dict(fields))
    done = run_shard(job, work) if job.parent_id is not None else merge_job(job.id, work)
    return RunOutcome.DONE if done else RunOutcome.RETRY


def _store_artifacts(store: ArtifactStore, job: Job, output: ModelOutput) -> list[ArtifactRef]:
    # under this attempt's keys: what an earlier, failed attempt wrote never blocks these
    return [
        put_new(store, job.id, a.name, a.data, a.content_type, job.attempts)
        for a in output.artifacts
    ]
