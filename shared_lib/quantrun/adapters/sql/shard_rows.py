"""Sharded jobs (CONTRACT 5.2): the ``JobStore`` methods that create a job with its
shards and keep the job's counts.

A shard is a job row (``parent_id`` names its job, ``shard_index`` its place), queued,
claimed, leased, retried, dead-lettered and cancelled like any job, but counted toward
no quota and not listed. Its job is never queued itself: it turns running when its
first shard starts, counts ``shards_done`` and ``shards_failed``, and the statement
that counts the last shard done also gives the job a lease to the worker that finished
it, which merges (exactly once: one statement reaches the total). A merger that dies
leaves a running job with an expired lease, which the reclaim sweep requeues like any.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Float, case, cast, func, insert, select, update

from quantrun.adapters.sql.binds import binds, error_values, finish_values
from quantrun.adapters.sql.runners import TransitionRunner
from quantrun.adapters.sql.schema import job_events, jobs
from quantrun.adapters.sql.transitions import CREATE_COLUMNS
from quantrun.domain.jobs import INITIAL_STATUS, TRANSITIONS, Job, JobEnd, JobError, JobStatus

_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def create_values(job: Job) -> dict[str, Any]:
    """The bound values of a new job row (``p_<column>``)."""
    values: dict[str, Any] = {
        **{name: getattr(job, name, None) for name in CREATE_COLUMNS},
        "status": INITIAL_STATUS.value,
        "updated_at": job.created_at,
        "progress": 0.0,
        "attempts": 0,
        "artifacts": [],
        "shards_done": 0,
        "shards_failed": 0,
    }
    return {f"p_{k}": v for k, v in values.items()}


class ShardRows:
    _engine: Any
    _autocommit: Any
    _transitions: TransitionRunner

    def start_shards(self, job_id: str, *, now: datetime) -> bool:
        """The job turns running (its first shard started); False if it already had."""
        return self._transitions.run("start_shards", binds(job_id, now)) is not None

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
        """Record a shard's partial result under its lease and count it on its job, in one
        transaction: (the shard finished, this caller now holds the job to merge it)."""
        with self._engine.begin() as conn:
            # The job's row is locked first, as a cancel and a failing shard lock it
            # before its shards: locking the shard first deadlocks against them.
            conn.execute(select(jobs.c.id).where(jobs.c.id == job_id).with_for_update())
            ended = finish_values(JobEnd.succeeded(result))
            moved = self._transitions.run_in(
                conn, "finish", binds(shard_id, now, worker=worker, **ended)
            )
            if moved is None:
                return False, False
            last = jobs.c.shards_done + 1 >= jobs.c.shards_total
            counted = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE))
                .values(
                    shards_done=jobs.c.shards_done + 1,
                    status=JobStatus.RUNNING.value,
                    started_at=func.coalesce(jobs.c.started_at, now),
                    updated_at=now,
                    progress=cast(jobs.c.shards_done + 1, Float) / jobs.c.shards_total,
                    lease_owner=case((last, worker), else_=jobs.c.lease_owner),
                    lease_expires_at=case((last, lease_until), else_=jobs.c.lease_expires_at),
                    attempts=case((last, jobs.c.attempts + 1), else_=jobs.c.attempts),
                )
                .returning(jobs.c.shards_done, jobs.c.shards_total)
            ).first()
            merge = counted is not None and counted.shards_done == counted.shards_total
            if merge:
                _event(
                    conn,
                    job_id,
                    now,
                    JobStatus.RUNNING,
                    JobStatus.RUNNING,
                    f"all {counted.shards_total} shards done; merged by {worker}",
                )
        return True, merge

    def fail_shards(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        """A shard failed for good: the job fails with its error, counts it, and its other
        shards are cancelled, in one transaction; False if the job had already ended."""
        with self._engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(shards_failed=jobs.c.shards_failed + 1)
            )
            failed = self._transitions.run_in(
                conn, "fail", binds(job_id, now, **error_values(error))
            )
            cancel_shard_rows(conn, job_id, now, "its job failed")
        return failed is not None

    def shard_results(self, job_id: str) -> list[dict[str, Any]]:
        """The shards' partial results in shard order (only succeeded shards have one)."""
        with self._autocommit.connect() as conn:
            rows = conn.execute(
                select(jobs.c.result)
                .where(jobs.c.parent_id == job_id, jobs.c.status == JobStatus.SUCCEEDED.value)
                .order_by(jobs.c.shard_index)
            ).all()
        return [r.result for r in rows]


def cancel_shard_rows(conn: Connection, job_id: str, now: datetime, reason: str) -> int:
    """Cancel a job's shards that may still be cancelled (the domain's ``cancel``
    sources), one source status at a time so that each event says where its shard was."""
    cancel = TRANSITIONS["cancel"]
    (target,) = cancel.targets
    events: list[dict[str, Any]] = []
    for source in cancel.sources:  # the lease does not matter to a cancel
        rows = conn.execute(
            update(jobs)
            .where(jobs.c.parent_id == job_id, jobs.c.status == source.value)
            .values(
                status=target.value,
                finished_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(jobs.c.id)
        ).all()
        events += [
            {
                "job_id": r.id,
                "at": now,
                "from_status": source.value,
                "to_status": target.value,
                "reason": f"shard cancelled: {reason}",
            }
            for r in rows
        ]
    if events:
        conn.execute(insert(job_events), events)
    return len(events)


def _event(
    conn: Connection, job_id: str, now: datetime, old: JobStatus, new: JobStatus, reason: str
) -> None:
    conn.execute(
        insert(job_events).values(
            job_id=job_id, at=now, from_status=old.value, to_status=new.value, reason=reason
        )
    )
