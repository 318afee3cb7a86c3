"""The job database's ports (Cloud SQL / SQLite), split by role: users and their keys,
jobs and their events, the shards of sharded jobs; ``JobStore`` is all three (one
adapter, ``adapters/sql/job_store.py``), and the job queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from quantrun.domain.audit import AuditEntry
from quantrun.domain.job_pages import JobPage, JobQuery
from quantrun.domain.jobs import Claim, Job, JobEnd, JobError, JobEvent
from quantrun.domain.quota import JobQuota
from quantrun.domain.users import ApiKey, HashedKey, User


class UserStore(Protocol):
    """Users and API keys."""

    def get_or_create_user(self, name: str) -> User: ...

    def find_user(self, name: str) -> User | None: ...

    def user_by_id(self, user_id: str) -> User | None: ...

    def add_api_key(
        self, key: HashedKey, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """Register a key's hash (idempotent for the same user; ``Conflict`` for another).
        False, and nothing stored, when the user already holds ``most`` usable keys.
        ``audit`` is stored with a new key, in its transaction (as with every ``audit``
        below: written only when the change is)."""
        ...

    def api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or expired ones included (the caller decides)."""
        ...

    def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        """A user's keys (everyone's with None), newest first."""
        ...

    def revoke_api_keys(
        self,
        prefix: str,
        *,
        now: datetime,
        user_id: str | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        """Revoke the live keys with this prefix (of this user, if given); how many."""
        ...

    def set_role(self, name: str, role: str, *, audit: AuditEntry | None = None) -> User | None:
        """Give the named user ``role``; None when there is no such user."""
        ...

    def touch_api_key(self, key_hash: str, *, now: datetime, unless_since: datetime) -> None:
        """Record a use, unless one was recorded at or after ``unless_since``."""
        ...

    def prefix_taken(self, prefix: str) -> bool: ...


class JobRows(Protocol):
    """Jobs, their leases and their events."""

    def ping(self) -> None: ...

    def create_job(self, job: Job, quota: JobQuota = ..., shards: Sequence[Job] = ()) -> Job:
        """Insert a queued job counted toward its user's quota; raises ``Conflict`` on a
        live duplicate idempotency key, ``QuotaExceeded`` when a quota is full (then
        nothing is written). With ``shards``, the job is not queued itself: its shards
        are (counted toward no quota), in the same transaction."""
        ...

    def quota_usage(self, user_id: str, *, now: datetime) -> tuple[int, int]:
        """The user's jobs queued or running now, and submitted on ``now``'s UTC day."""
        ...

    def find_by_idempotency_key(self, user_id: str, key: str, since: datetime) -> Job | None: ...

    def get_job(
        self, job_id: str, user_id: str | None = None, *, with_payload: bool = True
    ) -> Job | None:
        """``with_payload=False`` leaves params and result out (empty): a poll of the
        status reads a few columns, not a result of up to megabytes."""
        ...

    def strategy_jobs(self, strategy_id: str, user_id: str) -> list[Job]:
        """The succeeded jobs made from a strategy, oldest first."""
        ...

    def list_jobs(self, user_id: str, query: JobQuery) -> JobPage:
        """A page of the user's jobs, newest first."""
        ...

    def events(self, job_id: str) -> list[JobEvent]: ...

    def claim(
        self, job_id: str, *, worker: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Claim:
        """Lease the job if ``TRANSITIONS["claim"]`` allows it; else say why not
        (``unclaimed_outcome``: a job out of attempts is reported, not failed)."""
        ...

    def heartbeat(
        self, job_id: str, *, worker: str, progress: float | None, lease_until: datetime
    ) -> bool:
        """Renew the lease (and record progress); False when the job is no longer ours."""
        ...

    def finish(self, job_id: str, end: JobEnd, *, worker: str, now: datetime) -> bool:
        """Record how ``worker``'s run ended; False when the job is no longer its."""
        ...

    def fail(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        """Fail a job that is not finished, whoever holds it (poison or exhausted jobs)."""
        ...

    def dead_letter(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        """Fail a queued job, or a running one whose lease expired: its message was
        dead-lettered. False when it finished, or a live run holds it."""
        ...

    def cancel(self, job_id: str, *, user_id: str, now: datetime) -> Job | None:
        """Cancel the user's queued or running job: the cancelled job, or None when
        nothing moved (unknown, another user's, or already finished). A sharded job's
        shards that have not ended are cancelled with it, in the same transaction."""
        ...

    def requeue(self, job_id: str, *, now: datetime) -> bool:
        """Put a queued job, or a running one whose lease expired, back to queued."""
        ...

    def release(self, job_id: str, *, worker: str, now: datetime) -> bool:
        """Give back a running job ``worker`` holds (it is shutting down): queued again,
        the attempt not counted."""
        ...

    def hand_off(self, job_id: str, *, worker: str, now: datetime) -> bool:
        """Queue again a running job ``worker`` holds without enqueueing it (the caller
        puts it on another queue), the attempt not counted."""
        ...

    def reclaimable(self, *, now: datetime, queued_before: datetime, limit: int) -> list[str]:
        """Running jobs whose lease expired, and queued jobs waiting since ``queued_before``."""
        ...


class ShardStore(Protocol):
    """The shards of sharded jobs (CONTRACT 5.2; ``adapters/sql/shard_rows.py``)."""

    def start_shards(self, job_id: str, *, now: datetime) -> bool:
        """The sharded job turns running (its first shard started)."""
        ...

    def finish_shard(
        self,
        shard_id: str,
        *,
        job_id: str,
        worker: str,
        now: datetime,
        result: dict[str, Any],
        lease_until: datetime,
    ) -> tuple[bool, bool]:
        """A shard's partial result, counted on its job: (finished, the caller holds the
        job's lease to merge it: this was the last shard)."""
        ...

    def fail_shards(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        """A shard failed for good: the job fails, its other shards are cancelled."""
        ...

    def shard_results(self, job_id: str) -> list[dict[str, Any]]:
        """The shards' partial results, in shard order."""
        ...


class JobStore(UserStore, JobRows, ShardStore, Protocol):
    """Users, API keys, jobs, shards and job events: the job database."""


class JobQueue(Protocol):
    """Hands job ids from the API to workers, at least once (Pub/Sub / embedded table)."""

    def ping(self) -> None: ...
    def publish(self, job_id: str, trace: str | None = None, *, quick: bool = False) -> None:
        """Deliver a job the store holds as queued (just created or requeued). In gcp
        mode the store wrote its outbox row in that transaction; this publishes it, with
        ``trace`` (the submitting request's traceparent) as a message attribute, and
        ``quick`` (``app/submit.py``: no price history, a small estimated cost) so a push
        worker can run it on the request's own thread."""
        ...
