"""What a job's queue message carries besides its id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobMessage:
    """A queued job as published: its id, the submitting request's trace (``traceparent``)
    and whether the API found it quick (no price history, a tiny estimated cost: a push
    worker runs it on the request's own thread)."""

    job_id: str
    trace: str | None = None
    quick: bool = False
