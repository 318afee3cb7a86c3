"""The dead letter: a job whose message Pub/Sub gave up on fails, with the reason."""

from __future__ import annotations

from datetime import datetime

from quantrun.domain.jobs import JobError
from quantrun.logging import get_logger
from quantrun.ports import JobStore

log = get_logger(__name__)


def fail_dead_lettered(
    *, store: JobStore, job_id: str, delivery_attempt: int | None, now: datetime
) -> bool:
    """Fail the job unless it already finished; True when this marked it failed."""
    attempts = f" after {delivery_attempt} attempts" if delivery_attempt else ""
    failed = store.fail(
        job_id,
        now=now,
        error=JobError(
            "dead_lettered",
            f"the job's message could not be processed{attempts} and was dead-lettered",
        ),
    )
    log.error("dead-lettered job", extra={"fields": {"job_id": job_id, "marked_failed": failed}})
    return failed
