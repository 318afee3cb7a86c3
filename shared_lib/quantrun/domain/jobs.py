"""Jobs, their states, and the one table of transitions allowed between them.

    queued ──claim──▶ running ──finish──▶ succeeded | failed
      │  ▲              │  ▲
      │  └──requeue─────┤  └── claim again once the lease expired (attempts + 1)
      │  └──release─────┘      (a worker shutting down gives it back: attempts - 1;
      │  └──hand_off────┘       a push worker passes it to the long-jobs queue)
      └──cancel / fail──┴──cancel / fail──▶ cancelled | failed
         / dead_letter     / dead_letter once the lease expired

``TRANSITIONS`` is that picture as data: for each transition, the states it may start
from, what the lease must be for a running job, and the states it may end in. The job
store derives its guarded statements from it (a transition not allowed here updates no
row), and its contract suite checks every (transition, state, lease) against it, so the
rules are written once. A finished job never changes again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantrun.domain.artifacts import ArtifactRef


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class LeaseRule(enum.StrEnum):
    """What a transition asks of the lease of the state it starts from."""

    ANY = "any"  # whatever the lease
    EXPIRED = "expired"  # a running job only when its lease expired (its worker is gone)
    HELD = "held"  # a running job only under the caller's own, live lease


class LeaseState(enum.StrEnum):
    """A job's lease as one caller sees it (for ``Transition.allows``)."""

    NONE = "none"
    EXPIRED = "expired"
    MINE = "mine"
    OTHERS = "others"


@dataclass(frozen=True)
class Transition:
    name: str
    sources: Mapping[JobStatus, LeaseRule]
    targets: frozenset[JobStatus]
    # claim: only while the job has attempts left (else the use case fails it)
    needs_attempts_left: bool = False
    # cancel: only the job's owner
    owner_only: bool = False
    # the job goes (back) on the queue: gcp mode's outbox row commits with it
    enqueues: bool = False
    # record an event even when the status does not change (running -> running)
    event_on_same_status: bool = True
    # renewing a lease records no event at all
    records_event: bool = True

    @property
    def ends_job(self) -> bool:
        """Every state it ends in is final: the job no longer counts as active (queued
        or running) toward its user's quota."""
        return all(t.terminal for t in self.targets)

    def allows(self, status: JobStatus, lease: LeaseState = LeaseState.NONE) -> bool:
        rule = self.sources.get(status)
        if rule is None:
            return False
        if rule is LeaseRule.EXPIRED:
            return lease is LeaseState.EXPIRED
        if rule is LeaseRule.HELD:
            return lease is LeaseState.MINE
        return True


_Q, _R = JobStatus.QUEUED, JobStatus.RUNNING

TRANSITIONS: Mapping[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "claim",
            {_Q: LeaseRule.ANY, _R: LeaseRule.EXPIRED},
            frozenset({_R}),
            needs_attempts_left=True,
        ),
        Transition("renew", {_R: LeaseRule.HELD}, frozenset({_R}), records_event=False),
        Transition(
            "finish",
            {_R: LeaseRule.HELD},
            frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED}),
        ),
        Transition("fail", {_Q: LeaseRule.ANY, _R: LeaseRule.ANY}, frozenset({JobStatus.FAILED})),
        Transition(
            "dead_letter",
            # a message Pub/Sub gave up on fails its job, unless a live run holds the job
            # (another message's, e.g. after a reclaim): that run finishes it, or its lease
            # expires and the reclaim sweep takes the job on
            {_Q: LeaseRule.ANY, _R: LeaseRule.EXPIRED},
            frozenset({JobStatus.FAILED}),
        ),
        Transition(
            "cancel",
            {_Q: LeaseRule.ANY, _R: LeaseRule.ANY},
            frozenset({JobStatus.CANCELLED}),
            owner_only=True,
        ),
        Transition(
            "release",
            # a worker shutting down gives its job back at once (the attempt not counted)
            {_R: LeaseRule.HELD},
            frozenset({_Q}),
            enqueues=True,
        ),
        Transition(
            "hand_off",
            # a push worker passes a job too long for a push request to the long-jobs
            # queue (the attempt not counted); its caller publishes it there, not here
            {_R: LeaseRule.HELD},
            frozenset({_Q}),
        ),
        Transition(
            "start_shards",
            # a sharded job is never claimed: it turns running when its first shard starts
            {_Q: LeaseRule.ANY},
            frozenset({_R}),
        ),
        Transition(
            "requeue",
            # a queued job is published again (its message may be lost): no event for that
            {_Q: LeaseRule.ANY, _R: LeaseRule.EXPIRED},
            frozenset({_Q}),
            enqueues=True,
            event_on_same_status=False,
        ),
    )
}
# submit creates a job in this state (and enqueues it)
INITIAL_STATUS = JobStatus.QUEUED


@dataclass(frozen=True)
class JobError:
    code: str
    message: str

    def document(self) -> dict[str, str]:
        """As the API and its events show it."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class JobEnd:
    """How a worker's run of a job ended, as the store records it: succeeded with its
    result, artifacts and manifest, or failed with its error."""

    status: JobStatus
    result: dict[str, Any] | None = None
    error: JobError | None = None
    artifacts: Sequence[ArtifactRef] = ()
    manifest: dict[str, Any] | None = None

    @classmethod
    def succeeded(
        cls,
        result: dict[str, Any],
        artifacts: Sequence[ArtifactRef] = (),
        manifest: dict[str, Any] | None = None,
    ) -> JobEnd:
        return cls(JobStatus.SUCCEEDED, result, None, artifacts, manifest)

    @classmethod
    def failed(cls, error: JobError) -> JobEnd:
        return cls(JobStatus.FAILED, error=error)


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
    # a shard: its job and its place among the job's shards
    parent_id: str | None = None
    shard_index: int | None = None
    # a sharded job: how many shards it has, how many succeeded, how many failed
    shards_total: int | None = None
    shards_done: int = 0
    shards_failed: int = 0
    # a job made from a strategy (by hand or by one of its schedules)
    strategy_id: str | None = None
    schedule_id: str | None = None
    # the submitting request's trace (W3C traceparent): the worker's log lines carry it
    trace: str | None = None
    # a succeeded job's manifest.json (read with the payload; CONTRACT 5.4)
    manifest: dict[str, Any] | None = None

    @property
    def shards(self) -> dict[str, int] | None:
        if self.shards_total is None:
            return None
        return {"total": self.shards_total, "done": self.shards_done, "failed": self.shards_failed}

    def lease_state(self, worker: str | None, now: datetime) -> LeaseState:
        if self.lease_owner is None or self.lease_expires_at is None:
            return LeaseState.NONE
        if self.lease_expires_at < now:
            return LeaseState.EXPIRED
        return LeaseState.MINE if self.lease_owner == worker else LeaseState.OTHERS


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


def unclaimed_outcome(job: Job | None, *, now: datetime, max_attempts: int) -> ClaimOutcome:
    """Why a claim took nothing: the job is unknown, finished, out of attempts (it would
    be claimable but for them: the caller fails it), or held by another worker's lease."""
    if job is None:
        return ClaimOutcome.NOT_FOUND
    if job.status.terminal:
        return ClaimOutcome.ALREADY_FINISHED
    claimable = TRANSITIONS["claim"].allows(job.status, job.lease_state(None, now))
    if claimable and job.attempts >= max_attempts:
        return ClaimOutcome.ATTEMPTS_EXHAUSTED
    return ClaimOutcome.LEASED_ELSEWHERE


def attempts_exhausted(job: Job, max_attempts: int) -> JobError:
    return JobError(
        "attempts_exhausted",
        f"the job was started {job.attempts} times without finishing "
        f"(limit {max_attempts}); the worker may have crashed or run out of time",
    )
