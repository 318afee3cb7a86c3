"""``JobStore`` on SQLAlchemy Core: job rows and queries (users and API keys in
``user_rows.py``), the quota counts, and the guarded state transitions of
``transitions.py`` (the dialect's runner chosen once).

With ``outbox=True`` (gcp mode) a job's outbox row commits with the transition that
makes it queued (submit, requeue), so a crash between the commit and the publish never
loses the job. Reads and single-statement writes run in autocommit (one round trip on
PostgreSQL, no BEGIN/COMMIT).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, bindparam, null, or_, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError

from quantrun.adapters.sql.binds import binds, error_values, finish_values
from quantrun.adapters.sql.direct import DirectStatements
from quantrun.adapters.sql.rows import (
    to_event,
    to_job,
)
from quantrun.adapters.sql.runners import runner_for
from quantrun.adapters.sql.schema import job_events, job_quotas, jobs
from quantrun.adapters.sql.shard_rows import ShardRows, cancel_shard_rows, create_values
from quantrun.adapters.sql.transitions import SQL
from quantrun.adapters.sql.user_rows import UserRows
from quantrun.clock import utcnow
from quantrun.domain.errors import Conflict
from quantrun.domain.job_pages import JobPage, JobQuery, decode_cursor, encode_cursor
from quantrun.domain.jobs import (
    Claim,
    ClaimOutcome,
    Job,
    JobEnd,
    JobError,
    JobEvent,
    JobStatus,
    unclaimed_outcome,
)
from quantrun.domain.quota import JobQuota, QuotaExceeded


class SqlJobStore(UserRows, ShardRows):
    def __init__(self, engine: Engine, *, outbox: bool = False) -> None:
        super().__init__(engine)
        self._transitions = runner_for(engine, outbox=outbox)
        # on PostgreSQL a job is read direct (direct.py): the read clients poll with
        self._reads = (
            DirectStatements(engine.dialect) if engine.dialect.name == "postgresql" else None
        )

    def ping(self) -> None:
        with self._autocommit.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- jobs -----------------------------------------------------------------
    def create_job(self, job: Job, quota: JobQuota = JobQuota(), shards: Sequence[Job] = ()) -> Job:
        given = create_values(job)
        given.update(
            p_day=job.created_at.astimezone(UTC).date(),
            p_max_active=quota.active_jobs,
            p_max_per_day=quota.jobs_per_day,
        )
        try:
            if shards:
                created = self._transitions.create_sharded(
                    given, [create_values(s) for s in shards]
                )
            else:
                created = self._transitions.create(given)
        except IntegrityError as exc:
            raise Conflict("a job with this Idempotency-Key already exists") from exc
        if not created:
            raise self._quota_exceeded(job.user_id, quota, job.created_at)
        return job

    def _quota_exceeded(self, user_id: str, quota: JobQuota, now: datetime) -> QuotaExceeded:
        """Which quota refused the job (the active count is the one a retry can clear)."""
        with self._autocommit.connect() as conn:
            row = conn.execute(
                select(job_quotas.c.active).where(job_quotas.c.user_id == user_id)
            ).first()
        if row is not None and row.active >= quota.active_jobs:
            return QuotaExceeded("active_jobs", limit=quota.active_jobs, now=now)
        return QuotaExceeded("jobs_per_day", limit=quota.jobs_per_day, now=now)

    def quota_usage(self, user_id: str, *, now: datetime) -> tuple[int, int]:
        """The user's (active jobs, jobs submitted on ``now``'s UTC day)."""
        with self._autocommit.connect() as conn:
            row = conn.execute(select(job_quotas).where(job_quotas.c.user_id == user_id)).first()
        if row is None:
            return 0, 0
        return row.active, row.submitted if row.day == now.astimezone(UTC).date() else 0

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

    def strategy_jobs(self, strategy_id: str, user_id: str) -> list[Job]:
        query = (
            select(jobs)
            .where(
                jobs.c.strategy_id == strategy_id,
                jobs.c.user_id == user_id,
                jobs.c.status == JobStatus.SUCCEEDED.value,
            )
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self._autocommit.connect() as conn:
            return [to_job(r) for r in conn.execute(query)]

    def get_job(
        self, job_id: str, user_id: str | None = None, *, with_payload: bool = True
    ) -> Job | None:
        query = _job_by_id(with_payload, owned=user_id is not None)
        values = {"p_job_id": job_id, "p_user_id": user_id}
        with self._autocommit.connect() as conn:
            if self._reads is not None:
                row: Any = self._reads[query].first(conn, values)
            else:
                row = conn.execute(query, values).first()
        return to_job(row) if row is not None else None

    def list_jobs(self, user_id: str, query: JobQuery) -> JobPage:
        # a sharded job's shards are part of it, not jobs of their own in the list
        stmt = select(*_columns(query.with_payload)).where(
            jobs.c.user_id == user_id, jobs.c.parent_id.is_(None)
        )
        if query.status is not None:
            stmt = stmt.where(jobs.c.status == query.status.value)
        if query.model is not None:
            stmt = stmt.where(jobs.c.model == query.model)
        if query.cursor is not None:  # "" is no cursor this API issued: refused
            created, last_id = decode_cursor(query.cursor)
            # a row value, not (created < c OR created = c AND id < i): both databases
            # start the index scan at the cursor with it, where the OR made them walk
            # every newer job first (a page k jobs deep cost k rows read)
            stmt = stmt.where(tuple_(jobs.c.created_at, jobs.c.id) < tuple_(created, last_id))
        stmt = stmt.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(query.limit + 1)
        with self._autocommit.connect() as conn:
            rows = conn.execute(stmt).all()
        items = [to_job(r) for r in rows[: query.limit]]
        next_cursor = (
            encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > query.limit else None
        )
        return JobPage(items=items, next_cursor=next_cursor)

    def events(self, job_id: str) -> list[JobEvent]:
        with self._autocommit.connect() as conn:
            rows = conn.execute(
                select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
            ).all()
        return [to_event(r) for r in rows]

    def reclaimable(self, *, now: datetime, queued_before: datetime, limit: int) -> list[str]:
        query = (
            select(jobs.c.id)
            .where(
                or_(
                    and_(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now),
                    and_(
                        jobs.c.status == JobStatus.QUEUED.value,
                        jobs.c.updated_at < queued_before,
                        # a sharded job is on the queue itself only to be merged (its
                        # shards all done, its merger gone); before, its shards are
                        or_(
                            jobs.c.shards_total.is_(None),
                            jobs.c.shards_done >= jobs.c.shards_total,
                        ),
                    ),
                )
            )
            .order_by(jobs.c.updated_at)
            .limit(limit)
        )
        with self._autocommit.connect() as conn:
            return [r.id for r in conn.execute(query)]

    # -- transitions (guards and events: transitions.py, from the domain's table) ----
    def _move(self, name: str, job_id: str, now: datetime, **params: Any) -> Any:
        return self._transitions.run(name, binds(job_id, now, **params))

    def claim(
        self, job_id: str, *, worker: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Claim:
        moved = self._move(
            "claim",
            job_id,
            now,
            worker=worker,
            lease_expires_at=lease_until,
            max_attempts=max_attempts,
        )
        if moved is not None:
            return Claim(ClaimOutcome.CLAIMED, to_job(moved))
        current = self.get_job(job_id)
        return Claim(unclaimed_outcome(current, now=now, max_attempts=max_attempts), current)

    def heartbeat(
        self, job_id: str, *, worker: str, progress: float | None, lease_until: datetime
    ) -> bool:
        moved = self._move(
            "renew",
            job_id,
            utcnow(),
            worker=worker,
            lease_expires_at=lease_until,
            progress=progress,
        )
        return moved is not None

    def finish(self, job_id: str, end: JobEnd, *, worker: str, now: datetime) -> bool:
        if end.status not in SQL["finish"].rule.targets:
            raise ValueError(f"finish() takes succeeded or failed, not {end.status}")
        return self._move("finish", job_id, now, worker=worker, **finish_values(end)) is not None

    def fail(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        return self._move("fail", job_id, now, **error_values(error)) is not None

    def dead_letter(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        return self._move("dead_letter", job_id, now, **error_values(error)) is not None

    def cancel(self, job_id: str, *, user_id: str, now: datetime) -> Job | None:
        """Cancel the job and, in the same transaction, its shards that have not ended:
        a worker claiming one afterwards finds it cancelled."""
        given = binds(job_id, now, user_id=user_id, reason="cancelled by user")
        with self._engine.begin() as conn:
            moved = self._transitions.run_in(conn, "cancel", given)
            if moved is not None and moved["shards_total"] is not None:
                cancel_shard_rows(conn, job_id, now, "its job was cancelled")
        return to_job(moved) if moved is not None else None

    def release(self, job_id: str, *, worker: str, now: datetime) -> bool:
        return self._move("release", job_id, now, worker=worker) is not None

    def hand_off(self, job_id: str, *, worker: str, now: datetime) -> bool:
        return self._move("hand_off", job_id, now, worker=worker) is not None

    def requeue(self, job_id: str, *, now: datetime) -> bool:
        return self._move("requeue", job_id, now) is not None


_PAYLOAD = ("params", "result", "manifest")


@functools.cache
def _job_by_id(with_payload: bool, owned: bool) -> Select[Any]:
    """A job by its id (``p_job_id``), and its owner's (``p_user_id``) when ``owned``."""
    query = select(*_columns(with_payload)).where(jobs.c.id == bindparam("p_job_id"))
    if owned:
        query = query.where(jobs.c.user_id == bindparam("p_user_id"))
    return query


def _columns(with_payload: bool) -> list[Any]:
    """The job's columns; without the payload, params, result and manifest read as NULL."""
    return [c if with_payload or c.name not in _PAYLOAD else null().label(c.name) for c in jobs.c]
