"""Per-user job quotas (CONTRACT 5.1): jobs queued or running at once, and jobs
submitted per UTC day. The job store keeps the counts beside the jobs and changes them
in the same statements that create or finish a job, so they are exact across every API
instance; a refused submit answers 429 ``quota_exceeded`` with ``Retry-After``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quantrun.domain.errors import QuantRunError

# no limit (a count never reaches it)
UNLIMITED = 2**31 - 1


@dataclass(frozen=True)
class JobQuota:
    active_jobs: int = UNLIMITED
    jobs_per_day: int = UNLIMITED


# what a user may hold at once besides jobs: quota name -> (what it counts, the way out)
CAPS = {
    "api_keys": ("usable API keys", "revoke one first"),
    "webhooks": ("webhooks", "delete one first"),
    "strategies": ("strategies", "delete one first"),
    "schedules": ("schedules", "delete one first"),
    "event_streams": ("event streams open", "close one first"),
}


class QuotaExceeded(QuantRunError):
    """A submit over one of the user's job quotas, or a create over one of ``CAPS``."""

    code = "quota_exceeded"
    # a running job may finish any moment: ask the client to look again soon
    ACTIVE_RETRY_SECONDS = 10
    # an event stream ends when its job does or its client leaves
    STREAM_RETRY_SECONDS = 5
    # a cap frees only when the user deletes something: a hint to look again later
    CAP_RETRY_SECONDS = 60

    def __init__(self, quota: str, *, limit: int, now: datetime) -> None:
        self.retry_after: int
        if quota in CAPS:
            what, way_out = CAPS[quota]
            super().__init__(
                f"you have {limit} {what}, the most a user may have (quota {quota}); {way_out}"
            )
            self.quota, self.limit = quota, limit
            streams = quota == "event_streams"
            self.retry_after = self.STREAM_RETRY_SECONDS if streams else self.CAP_RETRY_SECONDS
            return
        if quota == "active_jobs":
            message = (
                f"you have {limit} jobs queued or running, the most a user may have at once; "
                "submit again when one finishes"
            )
            retry = float(self.ACTIVE_RETRY_SECONDS)
        else:
            message = f"you have submitted {limit} jobs today (UTC), the most a user may per day"
            today = now.astimezone(UTC).date()  # the quota's day is UTC's, whatever the clock
            midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
            retry = (midnight - now).total_seconds()
        super().__init__(message)
        self.quota, self.limit = quota, limit
        self.retry_after = max(1, math.ceil(retry))
