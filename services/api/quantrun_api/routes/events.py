"""A job's live events: Server-Sent Events (CONTRACT 5.4; what they say: app/live.py)."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from quantrun.app import jobs, live
from quantrun.app.auth import authenticate_bearer
from quantrun.bootstrap import Container
from quantrun.clock import utcnow
from quantrun.domain.jobs import Job, JobStatus
from quantrun.domain.quota import QuotaExceeded
from quantrun.domain.users import User
from quantrun_api.deps import ContainerDep, CurrentUser
from quantrun_api.responses import errors

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

# no proxy may hold the stream back (nginx honours X-Accel-Buffering; Cloud Run streams
# HTTP/1.1 chunked responses as they are written)
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# how often an open stream asks the store whether its key still works
KEY_RECHECK_SECONDS = 2.0
# a stream reads the job again after FIRST_POLL_SECONDS, then each wait POLL_GROWTH times
# the last, up to the events poll setting: a short job's end is told within a tenth of a
# second or so, a long job costs one read per poll interval
FIRST_POLL_SECONDS = 0.05
POLL_GROWTH = 1.5


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
        **errors(
            401, 404, (429, "`quota_exceeded`: event_streams (you have the most open at once)")
        ),
    },
)
async def job_events(
    job_id: str, request: Request, user: CurrentUser, container: ContainerDep
) -> StreamingResponse:
    job = await run_in_threadpool(
        partial(jobs.get_job, store=container.store, user=user, job_id=job_id)
    )
    streams: OpenStreams = request.app.state.open_streams
    slot = streams.take(user.id, now=utcnow())
    first = _next_event_number(request.headers.get("last-event-id"))
    body = _guarded(_stream(job, user, container, request, _bearer(request), first), slot)
    # given back when the stream ends, or, if it never starts, when it is collected
    weakref.finalize(body, slot.release)
    return StreamingResponse(body, media_type="text/event-stream", headers=HEADERS)


def _next_event_number(last_event_id: str | None) -> int:
    """Event ids go on from a reconnecting client's ``Last-Event-ID`` (a stream always
    starts with the job's whole state, so nothing is lost whatever the id)."""
    text = (last_event_id or "").strip()
    return int(text) if text.isdigit() and len(text) < 16 else 0


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class OpenStreams:
    """The event streams each user holds open on this API process, at most ``most``."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, user_id: str, *, now: datetime) -> _Slot:
        with self._lock:
            if self._open.get(user_id, 0) >= self.most:
                raise QuotaExceeded("event_streams", limit=self.most, now=now)
            self._open[user_id] = self._open.get(user_id, 0) + 1
        return _Slot(self, user_id)

    def _give_back(self, user_id: str) -> None:
        with self._lock:
            left = self._open.get(user_id, 0) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)


class _Slot:
    def __init__(self, streams: OpenStreams, user_id: str) -> None:
        self._streams, self._user_id, self._held = streams, user_id, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._streams._give_back(self._user_id)


async def _guarded(stream: AsyncIterator[bytes], slot: _Slot) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        slot.release()


async def _still_valid(container: Container, token: str) -> bool:
    """Whether the stream's credentials still name a user, asked of the store itself (not
    the cache): a key revoked anywhere ends its streams within ``KEY_RECHECK_SECONDS``."""
    user = await run_in_threadpool(
        partial(
            authenticate_bearer,
            store=container.store,
            token=token,
            now=utcnow(),
            cache=None,
            google=container.google_sign_in,
        )
    )
    return user is not None


async def _stream(
    job: Job, user: User, container: Container, request: Request, token: str, sent: int
) -> AsyncIterator[bytes]:
    settings = container.settings.api
    began = last_sent = last_check = time.monotonic()
    before: Job | None = None
    current: Job | None = job
    pause = min(FIRST_POLL_SECONDS, settings.events_poll_seconds)
    while current is not None:
        for event in live.changes(before, current):
            sent += 1
            yield event.encode(sent)
            last_sent = time.monotonic()
        if current.status.terminal or time.monotonic() - began > settings.events_max_seconds:
            return
        await asyncio.sleep(pause)
        pause = min(pause * POLL_GROWTH, settings.events_poll_seconds)
        if await request.is_disconnected():
            return
        if time.monotonic() - last_check >= KEY_RECHECK_SECONDS:
            last_check = time.monotonic()
            if not await _still_valid(container, token):
                return  # the key was revoked or expired (or the email taken off the list)
        if time.monotonic() - last_sent >= settings.events_keepalive_seconds:
            yield live.KEEPALIVE
            last_sent = time.monotonic()
        before, current = (
            current,
            await run_in_threadpool(
                partial(container.store.get_job, job.id, user.id, with_payload=False)
            ),
        )
