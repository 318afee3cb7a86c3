"""Jobs, their states and the transitions allowed between them.

    queued ──claim──▶ running ──finish──▶ succeeded | failed
      │                 │  ▲
      │                 │  └── lease expired: claimed again (attempts + 1)
      └──cancel──▶ cancelled ◀──cancel──┘

Every transition is a guarded UPDATE in the job store, so two workers racing for
one job cannot both win, and a finished job never changes again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class User:
    id: str
    name: str


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class JobError:
    code: str
    message: str


@dataclass(frozen=True)
class Job:
    id: str
    user_id: str
    model: str
    params: dict[str, Any]
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float = 0.0
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: JobError | None = None
    artifacts: tuple[ArtifactRef, ...] = ()
    idempotency_key: str | None = None
    params_hash: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    at: datetime
    from_status: JobStatus | None
    to_status: JobStatus
    reason: str


class ClaimOutcome(enum.StrEnum):
    CLAIMED = "claimed"
    ALREADY_FINISHED = "already_finished"
    LEASED_ELSEWHERE = "leased_elsewhere"
    NOT_FOUND = "not_found"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    job: Job | None = None


@dataclass(frozen=True)
class JobPage:
    items: list[Job] = field(default_factory=list)
    next_cursor: str | None = None
