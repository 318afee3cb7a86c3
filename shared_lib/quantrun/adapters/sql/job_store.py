"""``JobStore`` on SQLAlchemy Core. Every state change is one guarded UPDATE plus its
event row, in one transaction: a lost race shows up as zero rows updated, never as a
lost update."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from quantrun.adapters.sql.schema import api_keys, job_events, jobs, outbox, users
from quantrun.clock import utcnow
from quantrun.errors import Conflict
from quantrun.jobs.domain import (
    ArtifactRef,
    Claim,
    ClaimOutcome,
    Job,
    JobError,
    JobEvent,
    JobPage,
    JobStatus,
    User,
)

_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _to_job(row: Any) -> Job:
    m = row._mapping
    err = m["error"]
    return Job(
        id=m["id"],
        user_id=m["user_id"],
        model=m["model"],
        params=m["params"],
        status=JobStatus(m["status"]),
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        progress=float(m["progress"]),
        attempts=int(m["attempts"]),
        result=m["result"],
        error=JobError(**err) if err else None,
        artifacts=tuple(ArtifactRef(**a) for a in m["artifacts"] or ()),
        idempotency_key=m["idempotency_key"],
        params_hash=m["params_hash"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
    )


def encode_cursor(created_at: datetime, job_id: str) -> str:
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError on anything that is not a cursor this store issued."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        parsed = datetime.fromisoformat(created)
        uuid.UUID(job_id)
    except Exception as exc:
        raise ValueError("cursor is not one this API issued") from exc
    if parsed.tzinfo is None:
        raise ValueError("cursor is not one this API issued")
    return parsed, job_id


class SqlJobStore:
    """With ``outbox=True`` (gcp mode) a new job's outbox row commits with the job row, so
    a crash between the commit and the publish never loses the job."""

    def __init__(self, engine: Engine, *, outbox: bool = False) -> None:
        self._engine = engine
        self._outbox = outbox

    # -- health ---------------------------------------------------------------
    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- users and keys -------------------------------------------------------
    def get_or_create_user(self, name: str) -> User:
        with self._engine.begin() as conn:
            row = conn.execute(select(users.c.id, users.c.name).where(users.c.name == name)).first()
            if row:
                return User(id=row.id, name=row.name)
        user = User(id=str(uuid.uuid4()), name=name)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(users).values(id=user.id, name=name, created_at=utcnow()))
        except IntegrityError:  # created concurrently: read the winner's row
            with self._engine.connect() as conn:
                row = conn.execute(select(users).where(users.c.name == name)).one()
                return User(id=row.id, name=row.name)
        return user

    def add_api_key(self, user_id: str, key_hash: str, prefix: str) -> None:
        with self._engine.begin() as conn:
            exists = conn.execute(
                select(api_keys.c.user_id).where(api_keys.c.key_hash == key_hash)
            ).first()
            if exists is None:
                conn.execute(
                    insert(api_keys).values(
                        key_hash=key_hash, prefix=prefix, user_id=user_id, created_at=utcnow()
                    )
                )
            elif exists.user_id != user_id:
                raise Conflict("this API key already belongs to another user")

    def user_for_key_hash(self, key_hash: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users.c.id, users.c.name)
                .join(api_keys, api_keys.c.user_id == users.c.id)
                .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
            ).first()
        return User(id=row.id, name=row.name) if row else None

    # -- jobs -----------------------------------------------------------------
    def create_job(self, job: Job) -> Job:
        values = {
            "id": job.id,
            "user_id": job.user_id,
            "model": job.model,
            "params": job.params,
            "status": JobStatus.QUEUED.value,
            "created_at": job.created_at,
            "updated_at": job.created_at,
            "progress": 0.0,
            "attempts": 0,
            "artifacts": [],
            "idempotency_key": job.idempotency_key,
            "params_hash": job.params_hash,
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(jobs).values(**values))
                _event(conn, job.id, job.created_at, None, JobStatus.QUEUED, "submitted")
                if self._outbox:
                    conn.execute(
                        insert(outbox).values(job_id=job.id, created_at=job.created_at, attempts=0)
                    )
        except IntegrityError as exc:
            raise Conflict("a job with this Idempotency-Key already exists") from exc
        return job

    def find_by_idempotency_key(self, user_id: str, key: str, since: datetime) -> Job | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(jobs).where(jobs.c.user_id == user_id, jobs.c.idempotency_key == key)
            ).first()
            if row is None:
                return None
            if row.created_at < since:
                # Expired: release the key so a new job may take it.
                conn.execute(update(jobs).where(jobs.c.id == row.id).values(idempotency_key=None))
                return None
            return _to_job(row)

    def get_job(self, job_id: str, user_id: str | None = None) -> Job | None:
        query = select(jobs).where(jobs.c.id == job_id)
        if user_id is not None:
            query = query.where(jobs.c.user_id == user_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _to_job(row) if row else None

    def list_jobs(
        self,
        user_id: str,
        *,
        status: JobStatus | None,
        model: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage:
        query = select(jobs).where(jobs.c.user_id == user_id)
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        if model is not None:
            query = query.where(jobs.c.model == model)
        if cursor:
            created, last_id = decode_cursor(cursor)
            query = query.where(
                or_(
                    jobs.c.created_at < created,
                    and_(jobs.c.created_at == created, jobs.c.id < last_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        items = [_to_job(r) for r in rows[:limit]]
        next_cursor = (
            encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None
        )
        return JobPage(items=items, next_cursor=next_cursor)

    def events(self, job_id: str) -> list[JobEvent]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
            ).all()
        return [
            JobEvent(
                job_id=r.job_id,
                at=r.at,
                from_status=JobStatus(r.from_status) if r.from_status else None,
                to_status=JobStatus(r.to_status),
                reason=r.reason,
            )
            for r in rows
        ]

    # -- transitions ----------------------------------------------------------
    def claim(
        self, job_id: str, *, worker: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Claim:
        with self._engine.begin() as conn:
            row = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.attempts < max_attempts,
                    or_(
                        jobs.c.status == JobStatus.QUEUED.value,
                        and_(
                            jobs.c.status == JobStatus.RUNNING.value,
                            jobs.c.lease_expires_at < now,
                        ),
                    ),
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
            if row is not None:
                job = _to_job(row)
                reason = f"claimed by {worker} (attempt {job.attempts})"
                previous = JobStatus.QUEUED if job.attempts == 1 else JobStatus.RUNNING
                _event(conn, job_id, now, previous, JobStatus.RUNNING, reason)
                return Claim(ClaimOutcome.CLAIMED, job)
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
        with self._engine.begin() as conn:
            result = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status == JobStatus.RUNNING.value,
                    jobs.c.lease_owner == worker,
                )
                .values(**values)
            )
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
        with self._engine.begin() as conn:
            updated = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status == JobStatus.RUNNING.value,
                    jobs.c.lease_owner == worker,
                )
                .values(
                    status=status.value,
                    result=result,
                    error=asdict(error) if error else None,
                    artifacts=[asdict(a) for a in artifacts],
                    progress=1.0 if status == JobStatus.SUCCEEDED else jobs.c.progress,
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            ).rowcount
            if updated:
                reason = "completed" if error is None else f"{error.code}: {error.message}"
                _event(conn, job_id, now, JobStatus.RUNNING, status, reason)
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
                _event(conn, job_id, now, JobStatus(row.status), JobStatus.FAILED, reason)
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
                    _event(
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
                select(jobs.c.status, jobs.c.lease_owner).where(
                    jobs.c.id == job_id,
                    or_(
                        jobs.c.status == JobStatus.QUEUED.value,
                        and_(
                            jobs.c.status == JobStatus.RUNNING.value,
                            jobs.c.lease_expires_at < now,
                        ),
                    ),
                )
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
            if updated and row.status == JobStatus.RUNNING.value:
                _event(
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


def _event(
    conn: Connection,
    job_id: str,
    at: datetime,
    from_status: JobStatus | None,
    to_status: JobStatus,
    reason: str,
) -> None:
    conn.execute(
        insert(job_events).values(
            job_id=job_id,
            at=at,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            reason=reason[:2000],
        )
    )
