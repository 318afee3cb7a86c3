"""Reclaim: jobs whose worker died or whose message was lost go back on the queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from quantrun.logging import get_logger
from quantrun.ports import JobQueue, JobStore

log = get_logger(__name__)


def reclaim_stale(
    *, store: JobStore, queue: JobQueue, now: datetime, queued_grace: timedelta, limit: int = 100
) -> int:
    """Publish again the running jobs whose lease expired and the queued jobs that waited
    past ``queued_grace`` (their message may have been lost). Claims are guarded, so a
    duplicate message is harmless."""
    count = 0
    for job_id in store.reclaimable(now=now, queued_before=now - queued_grace, limit=limit):
        if store.requeue(job_id, now=now):
            queue.publish(job_id)
            count += 1
    if count:
        log.info("reclaimed stale jobs", extra={"fields": {"count": count}})
    return count
