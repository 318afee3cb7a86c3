"""Live job events (CONTRACT 5.4): what a watcher of a job is told as it changes.

A stream reads the job from the job store (every API instance sees every change, from
whichever instance or worker made it) and tells, first, the job's state (event
``state``), then one event per change of its ``shards``, ``progress`` or ``status``, in
that order within one read, so the event that says a job has ended is the last one.
Each event's data is the same small view of the job; the result is read with
``GET /v1/jobs/{id}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quantrun.domain.jobs import Job

FIRST = "state"
KINDS = ("shards", "progress", "status")


@dataclass(frozen=True)
class JobEvent:
    kind: str
    data: dict[str, Any]

    def encode(self, event_id: int) -> bytes:
        """The event as Server-Sent Events text (one ``data`` line: the JSON has none)."""
        body = json.dumps(self.data, separators=(",", ":"))
        return f"id: {event_id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


KEEPALIVE = b": keep-alive\n\n"


def view(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status.value,
        "progress": job.progress,
        "shards": job.shards,
        "error": None if job.error is None else job.error.document(),
        # as the job's JSON writes times (UTC as Z)
        "finished_at": job.finished_at.isoformat().replace("+00:00", "Z")
        if job.finished_at
        else None,
    }


def changes(before: Job | None, after: Job) -> list[JobEvent]:
    """The events that tell a watcher who last saw ``before`` (None: nothing yet) that
    the job is now ``after``."""
    now = view(after)
    if before is None:
        return [JobEvent(FIRST, now)]
    was = view(before)
    return [JobEvent(kind, now) for kind in KINDS if was[kind] != now[kind]]
