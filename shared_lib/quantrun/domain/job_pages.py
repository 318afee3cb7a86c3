"""A page of a user's jobs: what a list asks for (``JobQuery``), what it answers
(``JobPage``), and the cursor that marks where the next page starts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from quantrun.domain.jobs import Job, JobStatus


@dataclass(frozen=True)
class JobQuery:
    """Which of a user's jobs a list reads: ``limit`` of them after ``cursor``, of this
    status and model when given; ``with_payload=False`` leaves params and result unread
    (empty)."""

    limit: int
    status: JobStatus | None = None
    model: str | None = None
    cursor: str | None = None
    with_payload: bool = True


@dataclass(frozen=True)
class JobPage:
    items: list[Job] = field(default_factory=list)
    next_cursor: str | None = None


# A list's position: after the job created at this microsecond since the epoch (UTC) with
# this id. Every string the pattern admits is a position (one past the end of time is
# simply an empty page), so the OpenAPI document's pattern is exactly what is accepted.
CURSOR_PATTERN = r"^[0-9]{1,17}\.[0-9a-f]{32}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(created_at: datetime, job_id: str) -> str:
    micros = (created_at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{uuid.UUID(job_id).hex}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for anything ``CURSOR_PATTERN`` does not admit."""
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise ValueError("cursor is not one this API issued")
    micros, hex_id = cursor.split(".")
    return _EPOCH + timedelta(microseconds=int(micros)), str(uuid.UUID(hex=hex_id))
