"""The dead letter: a job whose message Pub/Sub gave up on fails, with the reason."""

from __future__ import annotations

from datetime import datetime

from quantrun.app.shards import fail_shard
from quantrun.domain.jobs import JobError
from quantrun.logging import get_logger
from quantrun.ports import JobStore

log = get_logger(__name__)


def fail_dead_lettered(
    *, store: JobStore, job_id: str, delivery_attempt: int | None, now: datetime
) -> bool:
    """Fail the job (a shard: its job too) unless it already finished or a live run
    holds it: a message of a job that was reclaimed and is running again can run out
    of deliveries while the new run works. True when this marked it failed."""
    attempts = f" after {delivery_attempt} attempts" if delivery_attempt else ""
    error = JobError(
        "dead_lettered",
        f"the job's message could not be processed{attempts} and was dead-lettered",
    )
    failed = store.dead_letter(job_id, now=now, error=error)
    job = store.get_job(job_id)
    if failed and job is not None and job.parent_id is not None:
        fail_shard(store, job, error)
    said = {"job_id": job_id, "marked_failed": failed, "status": job and job.status.value}
    log.error("dead-lettered job", extra={"fields": said})
    return failed
