"""``JobStore`` on SQLAlchemy Core: users and keys (``users.py``), job rows and queries
(here), and guarded state transitions (``transitions.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from quantrun.adapters.sql import pg_statements
from quantrun.adapters.sql.rows import (
    decode_cursor,
    encode_cursor,
    to_job,
    write_event,
    write_outbox,
)
from quantrun.adapters.sql.schema import job_events, jobs
from quantrun.adapters.sql.transitions import SqlTransitions
from quantrun.adapters.sql.users import SqlUsers
from quantrun.errors import Conflict
from quantrun.jobs.domain import Job, JobEvent, JobPage, JobStatus

__all__ = ["SqlJobStore", "decode_cursor", "encode_cursor"]


class SqlJobStore(SqlUsers, SqlTransitions):
    """With ``outbox=True`` (gcp mode) a new job's outbox row commits with the job row, so
    a crash between the commit and the publish never loses the job.

    Reads and single-statement writes go through ``_autocommit`` (one round trip on
    PostgreSQL, no BEGIN/COMMIT); writes of several statements through ``_engine.begin()``.
    On PostgreSQL the hot transitions (create, claim, finish) are single statements
    (``pg_statements.py``)."""

    def __init__(self, engine: Engine, *, outbox: bool = False) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._single_statements = engine.dialect.name == "postgresql"
        self._outbox = outbox

    # -- health ---------------------------------------------------------------
    def ping(self) -> None:
        with self._autocommit.connect() as conn:
            conn.execute(text("SELECT 1"))

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
            if self._single_statements:
                with self._autocommit.connect() as conn:
                    pg_statements.create_job(conn, values, with_outbox=self._outbox)
            else:
                with self._engine.begin() as conn:
                    conn.execute(insert(jobs).values(**values))
                    write_event(conn, job.id, job.created_at, None, JobStatus.QUEUED, "submitted")
                    if self._outbox:
                        write_outbox(conn, job.id, job.created_at)
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
            return to_job(row)

    def get_job(self, job_id: str, user_id: str | None = None) -> Job | None:
        query = select(jobs).where(jobs.c.id == job_id)
        if user_id is not None:
            query = query.where(jobs.c.user_id == user_id)
        with self._autocommit.connect() as conn:
            row = conn.execute(query).first()
        return to_job(row) if row else None

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
        with self._autocommit.connect() as conn:
            rows = conn.execute(query).all()
        items = [to_job(r) for r in rows[:limit]]
        next_cursor = (
            encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None
        )
        return JobPage(items=items, next_cursor=next_cursor)

    def events(self, job_id: str) -> list[JobEvent]:
        with self._autocommit.connect() as conn:
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
