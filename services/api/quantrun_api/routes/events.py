"""A job's live events: Server-Sent Events (CONTRACT 5.4; what they say: app/live.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from quantrun.app import jobs, live
from quantrun.bootstrap import Container
from quantrun.domain.jobs import Job, JobStatus
from quantrun.domain.users import User
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.schemas import ErrorResponse

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

# no proxy may hold the stream back (nginx honours X-Accel-Buffering; Cloud Run streams
# HTTP/1.1 chunked responses as they are written)
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


_NULLABLE_TIME = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
_COUNT = {"type": "integer", "minimum": 0}
# one event as schemathesis and OpenAPI 3.2's SSE item read it: its data is JSON
EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string"},
        "event": {"enum": [live.FIRST, *live.KINDS]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "required": ["id", "status", "progress", "shards", "error", "finished_at"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"enum": [s.value for s in JobStatus]},
                    "progress": {"type": "number", "minimum": 0, "maximum": 1},
                    "shards": {
                        "anyOf": [
                            {
                                "type": "object",
                                "required": ["total", "done", "failed"],
                                "properties": {"total": _COUNT, "done": _COUNT, "failed": _COUNT},
                            },
                            {"type": "null"},
                        ]
                    },
                    "error": {
                        "anyOf": [
                            {
                                "type": "object",
                                "required": ["code", "message"],
                                "properties": {
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                            {"type": "null"},
                        ]
                    },
                    "finished_at": _NULLABLE_TIME,
                },
            },
        },
    },
}


@router.get(
    "/{job_id}/events",
    summary="Follow a job: Server-Sent Events until it ends",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
            "description": "event `state` first (the job now), then `shards`, `progress` and "
            "`status` as they change, each with data {id, status, progress, shards, error, "
            "finished_at}; a comment line at least every 15 s; the stream ends after the "
            "event that says the job has ended",
        },
        401: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
    },
)
async def job_events(
    job_id: str, request: Request, user: CurrentUser, container: ContainerDep
) -> StreamingResponse:
    job = await run_in_threadpool(
        partial(jobs.get_job, store=container.store, user=user, job_id=job_id)
    )
    return StreamingResponse(
        _stream(job, user, container, request), media_type="text/event-stream", headers=HEADERS
    )


async def _stream(
    job: Job, user: User, container: Container, request: Request
) -> AsyncIterator[bytes]:
    settings = container.settings.api
    began = last_sent = time.monotonic()
    before: Job | None = None
    current: Job | None = job
    sent = 0
    while current is not None:
        for event in live.changes(before, current):
            sent += 1
            yield event.encode(sent)
            last_sent = time.monotonic()
        if current.status.terminal or time.monotonic() - began > settings.events_max_seconds:
            return
        await asyncio.sleep(settings.events_poll_seconds)
        if await request.is_disconnected():
            return
        if time.monotonic() - last_sent >= settings.events_keepalive_seconds:
            yield live.KEEPALIVE
            last_sent = time.monotonic()
        before, current = (
            current,
            await run_in_threadpool(
                partial(container.store.get_job, job.id, user.id, with_payload=False)
            ),
        )
