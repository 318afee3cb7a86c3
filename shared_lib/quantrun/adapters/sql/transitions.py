"""Job state transitions in the SQL job store: each one guarded UPDATE plus its event row,
atomically (a lost race shows as zero rows updated, never as a lost update). On
PostgreSQL claim and finish are single statements (``pg_statements.py``); elsewhere, and
for the rarer transitions, several statements in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update

from quantrun.adapters.sql import pg_statements
from quantrun.adapters.sql.rows import claimable, leased_to, to_job, write_event, write_outbox
from quantrun.adapters.sql.schema import jobs
from quantrun.errors import Conflict
from quantrun.jobs.domain import ArtifactRef, Claim, ClaimOutcome, Job, JobError, JobStatus

_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class SqlTransitions:
    _engine: Engine
    _autocommit: Engine
    _single_statements: bool
    _outbox: bool

    def get_job(self, job_id: str, user_id: str | None = None) -> Job | None:
        raise NotImplementedError  # provided by SqlJobStore

    def claim(
        self, job_id: str, *, worker: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Claim:
        if self._single_statements:
            with self._autocommit.connect() as conn:
                row = pg_statements.claim(
                    conn,
                    job_id,
                    worker=worker,
                    now=now,
                    lease_until=lease_until,
                    max_attempts=max_attempts,
                )
            if row is not None:
                return Claim(ClaimOutcome.CLAIMED, to_job(row))
            return self._unclaimed(job_id, now=now, max_attempts=max_attempts)
        with self._engine.begin() as conn:
            # read the status first, so the event says what it really was; the guarded
            # UPDATE loses (zero rows) if another worker moved the job in between
            previous = conn.execute(
                select(jobs.c.status).where(claimable(job_id, now))
            ).scalar_one_or_none()
            row = None
            if previous is not None:
                row = conn.execute(
                    update(jobs)
                    .where(
                        claimable(job_id, now),
                        jobs.c.status == previous,
                        jobs.c.attempts < max_attempts,
                    )
                    .values(
                        status=JobStatus.RUNNING.value,
                        lease_owner=worker,
                        lease_expires_at=lease_until,
                        attempts=jobs.c.attempts + 1,
                        started_at=func.coalesce(jobs.c.started_at, now),
                        updated_at=now,
                    )
                    .returning(*jobs.c)
                ).first()
            if row is not None and previous is not None:
                job = to_job(row)
                reason = f"claimed by {worker} (attempt {job.attempts})"
                write_event(conn, job_id, now, JobStatus(previous), JobStatus.RUNNING, reason)
                return Claim(ClaimOutcome.CLAIMED, job)
        return self._unclaimed(job_id, now=now, max_attempts=max_attempts)

    def _unclaimed(self, job_id: str, *, now: datetime, max_attempts: int) -> Claim:
        """Why a claim updated no row (and fail a job out of attempts)."""
        current = self.get_job(job_id)
        if current is None:
            return Claim(ClaimOutcome.NOT_FOUND)
        if current.status.terminal:
            return Claim(ClaimOutcome.ALREADY_FINISHED, current)
        if current.attempts >= max_attempts and (
            current.status == JobStatus.QUEUED
            or (current.lease_expires_at is not None and current.lease_expires_at < now)
        ):
            error = JobError(
                "attempts_exhausted",
                f"the job was started {current.attempts} times without finishing "
                f"(limit {max_attempts}); the worker may have crashed or run out of time",
            )
            self.fail(job_id, now=now, error=error)
            return Claim(ClaimOutcome.ATTEMPTS_EXHAUSTED, self.get_job(job_id))
        return Claim(ClaimOutcome.LEASED_ELSEWHERE, current)

    def heartbeat(
        self, job_id: str, *, worker: str, progress: float | None, lease_until: datetime
    ) -> bool:
        values: dict[str, Any] = {"lease_expires_at": lease_until}
        if progress is not None:
            values["progress"] = progress
        with self._autocommit.connect() as conn:
            result = conn.execute(update(jobs).where(leased_to(job_id, worker)).values(**values))
            return bool(result.rowcount)

    def finish(
        self,
        job_id: str,
        *,
        worker: str,
        now: datetime,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: JobError | None = None,
        artifacts: Sequence[ArtifactRef] = (),
    ) -> bool:
        if status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            raise ValueError(f"finish() takes succeeded or failed, not {status}")
        reason = "completed" if error is None else f"{error.code}: {error.message}"
        values: dict[str, Any] = {
            "result": result,
            "error": asdict(error) if error else None,
            "artifacts": [asdict(a) for a in artifacts],
            "progress": 1.0 if status == JobStatus.SUCCEEDED else None,  # None: keep it
        }
        if self._single_statements:
            with self._autocommit.connect() as conn:
                return pg_statements.finish(
                    conn,
                    job_id,
                    worker=worker,
                    now=now,
                    status=status,
                    values=values,
                    reason=reason,
                )
        if values["progress"] is None:
            del values["progress"]
        with self._engine.begin() as conn:
            updated = conn.execute(
                update(jobs)
                .where(leased_to(job_id, worker))
                .values(
                    status=status.value,
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    **values,
                )
            ).rowcount
            if updated:
                write_event(conn, job_id, now, JobStatus.RUNNING, status, reason)
            return bool(updated)

    def fail(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(jobs.c.status).where(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE))
            ).first()
            if row is None:
                return False
            updated = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == row.status)
                .values(
                    status=JobStatus.FAILED.value,
                    error=asdict(error),
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            ).rowcount
            if updated:
                reason = f"{error.code}: {error.message}"
                write_event(conn, job_id, now, JobStatus(row.status), JobStatus.FAILED, reason)
            return bool(updated)

    def cancel(self, job_id: str, *, user_id: str, now: datetime) -> Job | None:
        # The guarded UPDATE loses when a worker moves the job (queued -> running) between
        # our read and our write; read again and retry, since a running job can be cancelled.
        for _ in range(5):
            with self._engine.begin() as conn:
                row = conn.execute(
                    select(jobs.c.status).where(jobs.c.id == job_id, jobs.c.user_id == user_id)
                ).first()
                if row is None:
                    return None
                if row.status not in _ACTIVE:
                    break
                updated = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.status == row.status)
                    .values(
                        status=JobStatus.CANCELLED.value,
                        finished_at=now,
                        updated_at=now,
                        lease_owner=None,
                        lease_expires_at=None,
                    )
                ).rowcount
                if updated:
                    write_event(
                        conn,
                        job_id,
                        now,
                        JobStatus(row.status),
                        JobStatus.CANCELLED,
                        "cancelled by user",
                    )
                    break
        job = self.get_job(job_id, user_id)
        assert job is not None
        if job.status != JobStatus.CANCELLED:
            raise Conflict(f"job {job_id} already finished ({job.status.value})")
        return job

    def requeue(self, job_id: str, *, now: datetime) -> bool:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(jobs.c.status, jobs.c.lease_owner).where(claimable(job_id, now))
            ).first()
            if row is None:
                return False
            updated = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == row.status)
                .where(
                    jobs.c.lease_owner.is_(None)
                    if row.lease_owner is None
                    else jobs.c.lease_owner == row.lease_owner
                )
                .values(
                    status=JobStatus.QUEUED.value,
                    updated_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            ).rowcount
            if updated and self._outbox:  # published by the relay, as a new job's row
                write_outbox(conn, job_id, now)
            if updated and row.status == JobStatus.RUNNING.value:
                write_event(
                    conn,
                    job_id,
                    now,
                    JobStatus.RUNNING,
                    JobStatus.QUEUED,
                    f"lease of {row.lease_owner} expired; requeued",
                )
            return bool(updated)

    def reclaimable(self, *, now: datetime, queued_before: datetime, limit: int) -> list[str]:
        query = (
            select(jobs.c.id)
            .where(
                or_(
                    and_(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now),
                    and_(
                        jobs.c.status == JobStatus.QUEUED.value,
                        jobs.c.updated_at < queued_before,
                    ),
                )
            )
            .order_by(jobs.c.updated_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [r.id for r in conn.execute(query)]
