"""What a job's event stream says as the job changes (app/live.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from quantrun.app.live import changes
from quantrun.domain.jobs import Job, JobError, JobStatus

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
QUEUED = Job(
    id="j1",
    user_id="u",
    model="monte_carlo_option",
    params={},
    status=JobStatus.QUEUED,
    created_at=T0,
    shards_total=4,
)


def test_the_first_event_is_the_state_then_one_per_change_the_status_last() -> None:
    (first,) = changes(None, QUEUED)
    assert first.kind == "state" and first.data["status"] == "queued"
    assert first.data["shards"] == {"total": 4, "done": 0, "failed": 0}
    assert changes(QUEUED, QUEUED) == []
    running = replace(QUEUED, status=JobStatus.RUNNING)
    assert [e.kind for e in changes(QUEUED, running)] == ["status"]
    one_done = replace(running, shards_done=1, progress=0.25)
    assert [e.kind for e in changes(running, one_done)] == ["shards", "progress"]
    ended = replace(one_done, status=JobStatus.FAILED, shards_failed=1, error=JobError("x", "y"))
    told = changes(one_done, ended)
    assert [e.kind for e in told] == ["shards", "status"]
    assert told[-1].data["error"] == {"code": "x", "message": "y"}


def test_an_event_is_one_sse_block() -> None:
    (first,) = changes(None, QUEUED)
    text = first.encode(7).decode()
    lines = text.split("\n")
    assert lines[:2] == ["id: 7", "event: state"] and text.endswith("\n\n")
    assert json.loads(lines[2].removeprefix("data: "))["id"] == "j1"
