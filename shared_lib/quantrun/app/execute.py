"""Running one job: claim it, check it can run, and hand it to the run path
(``app/pipeline.py``: compute under the lease, store what it made, finish it).

``Worker.run`` is what every queue consumer calls (embedded loop, Pub/Sub
push, pull). Its outcome tells the consumer whether to acknowledge the message:

- ``DONE``: the job finished (or had finished, or was cancelled, or is unknown): ack.
- ``BUSY``: another worker holds a live lease on it: ack (that worker will finish it).
- ``RETRY``: a transient failure (price or artifact store unavailable): do not ack;
  the lease was released so the redelivery can claim the job again.
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

import quantrun.tracing as tracing
from quantrun.app.history_loads import loader
from quantrun.app.job_log import finished_fields
from quantrun.app.lease import WorkerConfig, draining
from quantrun.app.limits import check_cost
from quantrun.app.pipeline import RunPipeline
from quantrun.app.shards import fail_row, fail_shard
from quantrun.catalog import get_spec
from quantrun.catalog.spec import RunContext
from quantrun.clock import utcnow
from quantrun.domain.errors import InputTooLarge
from quantrun.domain.jobs import ClaimOutcome, Job, JobError, JobStatus, attempts_exhausted
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


@dataclass(frozen=True)
class Worker:
    """What a queue consumer runs jobs with: the stores and this worker's settings (the
    composition root builds one per process, ``Container.runner``)."""

    store: JobStore
    prices: PriceStore
    artifacts: ArtifactStore
    cfg: WorkerConfig

    def run(
        self,
        job_id: str,
        *,
        keepalive: Callable[[], None] = lambda: None,
        log_fields: Mapping[str, Any] | None = None,
        handoff: Callable[[str], None] | None = None,
    ) -> RunOutcome:
        """Claim, run and finish one job. ``log_fields`` (the message's id, its delivery
        attempt) go on the one line logged per message, with the job's id. With
        ``handoff`` (a push worker), a job estimated above ``cfg.push_max_cost`` is queued
        again, its attempt not counted, and handed to the long-jobs queue (acknowledged
        here, run by a pull consumer)."""
        fields = {**(log_fields or {}), "job_id": job_id}
        if draining():
            # shutting down: another worker takes the message (nack: it is redelivered)
            return RunOutcome.RETRY
        store, cfg, now = self.store, self.cfg, utcnow()
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
            said = {**fields, "claim": claim.outcome.value}
            log.info("message needs no run", extra={"fields": said})
            if claim.outcome == ClaimOutcome.LEASED_ELSEWHERE:
                return RunOutcome.BUSY
            return RunOutcome.DONE
        job = claim.job
        # a pushed message brought its trace; a pulled or embedded one takes the job's own
        with tracing.using(None if tracing.current() else tracing.parse(job.trace)):
            return self._claimed(job, keepalive, fields, handoff)

    def _claimed(
        self,
        job: Job,
        keepalive: Callable[[], None],
        fields: dict[str, Any],
        handoff: Callable[[str], None] | None,
    ) -> RunOutcome:
        """A claimed job checked (its model, its params, its cost) and handed to the run
        path, or to the long-jobs queue."""
        cfg = self.cfg
        spec = get_spec(job.model)
        if spec is None:
            return self._fail(job, "unknown_model", f"model {job.model!r} is not installed", fields)
        pipeline = RunPipeline(spec, self.store, self.artifacts, cfg, self._context, keepalive,
                               dict(fields))  # fmt: skip
        if job.parent_id is not None or job.shards_total is not None:
            if spec.sharding is None:
                return self._fail(job, "unknown_model", f"{job.model} does not split", fields)
            if handoff and job.parent_id is not None and job.params["cost"] > cfg.push_max_cost:
                return self._hand_off(job, handoff, fields)
            done = pipeline.shard(job) if job.parent_id is not None else pipeline.merge(job.id)
            return RunOutcome.DONE if done else RunOutcome.RETRY
        try:
            params = spec.params.model_validate(job.params)
            # again here: the limit may have been lowered since the job was queued
            cost = check_cost(
                spec, params, limit=cfg.max_cost, what="job", max_values=cfg.max_result_values
            )
        except ValidationError as exc:
            return self._fail(job, "invalid_params", str(exc), fields)
        except InputTooLarge as exc:
            return self._fail(job, exc.code, exc.message, fields)
        if handoff is not None and cost > cfg.push_max_cost:
            return self._hand_off(job, handoff, fields)
        return RunOutcome.DONE if pipeline.whole(job, params) else RunOutcome.RETRY

    def _context(self, checkpoint: Callable[[float], None], params: Any) -> RunContext:
        # a queued job may use the machine; a sync run (submit.py) keeps to one thread
        return RunContext(
            load_prices=loader(self.prices, params),
            checkpoint=checkpoint,
            threads=_cpu_count(),
            inline_values=self.cfg.inline_values,
        )

    def _fail(self, job: Job, code: str, message: str, fields: Mapping[str, Any]) -> RunOutcome:
        """A job that cannot run fails before it starts (a shard takes its job down)."""
        fail_row(self.store, job, self.cfg.worker_id, JobError(code, message))
        ended = finished_fields(job.model, JobStatus.FAILED, None)
        said = {**fields, **ended, "code": code, "reason": message}
        log.info("job failed", extra={"fields": said})
        return RunOutcome.DONE

    def _hand_off(
        self, job: Job, handoff: Callable[[str], None], fields: Mapping[str, Any]
    ) -> RunOutcome:
        """A job (or shard) too long for a push request goes to the long-jobs queue."""
        # queued again first: were it published first, its consumer could find it ours
        self.store.hand_off(job.id, worker=self.cfg.worker_id, now=utcnow())
        handoff(job.id)
        log.info("job handed to the long-jobs queue", extra={"fields": fields})
        return RunOutcome.DONE
