"""The values the transitions' statements (``transitions.py``) are bound to: ``p_*``
parameters named as ``Bind``'s, for a job and for a shard alike."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from quantrun.domain.jobs import JobEnd, JobError, JobStatus


def binds(job_id: str, now: datetime, **values: Any) -> dict[str, Any]:
    """A transition's bind parameters: the job (or shard), the time, and ``values`` named
    as ``Bind``'s without their ``p_``."""
    return {"p_job_id": job_id, "p_now": now, **{f"p_{k}": v for k, v in values.items()}}


def error_values(error: JobError) -> dict[str, Any]:
    """A job error as stored, and the event's reason that names it."""
    return {"error": asdict(error), "reason": f"{error.code}: {error.message}"}


def finish_values(end: JobEnd) -> dict[str, Any]:
    """The ``finish`` transition's values for how a run ended, for a job and for a shard
    alike."""
    ended = error_values(end.error) if end.error else {"error": None, "reason": "completed"}
    return {
        "status": end.status.value,
        "result": end.result,
        "artifacts": [asdict(a) for a in end.artifacts],
        "manifest": end.manifest,
        "progress": 1.0 if end.status == JobStatus.SUCCEEDED else None,  # None: keep it
        **ended,
    }
