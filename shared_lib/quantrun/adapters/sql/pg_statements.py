"""The job store's hot transitions as single PostgreSQL statements.

Each is a guarded write plus its event row (and, for a new job in gcp mode, its outbox
row) in data-modifying CTEs: one statement, so it runs in autocommit as one round trip
and is still atomic. The statements are built once with bound parameters (building a
CTE costs more CPU than running it); SQLite (embedded mode) runs the same transitions as
several statements in a transaction (``job_store.py``, ``transitions.py``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)

from quantrun.adapters.sql.rows import claimable, leased_to
from quantrun.adapters.sql.schema import job_events, jobs, outbox
from quantrun.jobs.domain import JobStatus

_EVENT_COLUMNS = ["job_id", "at", "from_status", "to_status", "reason"]
_RUNNING = JobStatus.RUNNING.value
# columns a new job leaves NULL until it runs
_SET_LATER = {"started_at", "finished_at", "lease_owner", "lease_expires_at", "result", "error"}
_CREATE_COLUMNS = [c.name for c in jobs.c if c.name not in _SET_LATER]


def _param(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


@functools.cache
def _create_statement(with_outbox: bool) -> Select[Any]:
    # bind names differ from column names: SQLAlchemy reserves those for VALUES
    values = {name: _param(f"p_{name}", jobs.c[name]) for name in _CREATE_COLUMNS}
    new_job = insert(jobs).values(**values).returning(jobs.c.id).cte("new_job")
    event = insert(job_events).values(
        job_id=_param("p_id", jobs.c.id),
        at=_param("p_created_at", jobs.c.created_at),
        from_status=None,
        to_status=JobStatus.QUEUED.value,
        reason="submitted",
    )
    stmt = select(new_job.c.id).add_cte(event.cte("new_event"))
    if with_outbox:
        row = insert(outbox).values(
            job_id=_param("p_id", jobs.c.id),
            created_at=_param("p_created_at", jobs.c.created_at),
            attempts=0,
        )
        stmt = stmt.add_cte(row.cte("new_outbox"))
    return stmt


def create_job(conn: Connection, values: dict[str, Any], *, with_outbox: bool) -> None:
    """The job row, its ``submitted`` event and (gcp mode) its outbox row; the foreign
    key from the event to the job is checked at the statement's end."""
    conn.execute(
        _create_statement(with_outbox),
        {f"p_{name}": values.get(name) for name in _CREATE_COLUMNS},
    )


@functools.cache
def _claim_statement() -> Select[Any]:
    now = _param("p_now", jobs.c.updated_at)
    job_id = bindparam("p_job_id", type_=String)
    previous = (
        select(jobs.c.id, jobs.c.status)
        .where(jobs.c.id == job_id)
        .with_for_update()
        .cte("previous")
    )
    claimed = (
        update(jobs)
        .where(
            # the row by its key, not only through the join with ``previous``: a generic
            # plan made without statistics (a new or fast-growing table) otherwise found
            # it through the status index, reading every queued job on each claim
            claimable(job_id, now),
            jobs.c.id == previous.c.id,
            jobs.c.attempts < bindparam("p_max_attempts", type_=Integer),
        )
        .values(
            status=_RUNNING,
            lease_owner=bindparam("p_worker", type_=String),
            lease_expires_at=_param("p_lease_until", jobs.c.lease_expires_at),
            attempts=jobs.c.attempts + 1,
            started_at=func.coalesce(jobs.c.started_at, now),
            updated_at=now,
        )
        .returning(*jobs.c, previous.c.status.label("previous_status"))
        .cte("claimed")
    )
    reason = (
        literal("claimed by ", String)
        + bindparam("p_worker", type_=String)
        + literal(" (attempt ", String)
        + cast(claimed.c.attempts, String)
        + literal(")", String)
    )
    event = insert(job_events).from_select(
        _EVENT_COLUMNS,
        select(claimed.c.id, now, claimed.c.previous_status, literal(_RUNNING, String), reason),
    )
    return select(*[claimed.c[c.name] for c in jobs.c]).add_cte(event.cte("claim_event"))


def claim(
    conn: Connection,
    job_id: str,
    *,
    worker: str,
    now: datetime,
    lease_until: datetime,
    max_attempts: int,
) -> Row[Any] | None:
    """Lease a queued job (or a running one whose lease expired) and record the event
    with the status it really had; the claimed row, or None."""
    return conn.execute(
        _claim_statement(),
        {
            "p_job_id": job_id,
            "p_worker": worker,
            "p_now": now,
            "p_lease_until": lease_until,
            "p_max_attempts": max_attempts,
        },
    ).first()


@functools.cache
def _finish_statement() -> Select[Any]:
    now = _param("p_now", jobs.c.finished_at)
    status = bindparam("p_status", type_=String)
    finished = (
        update(jobs)
        .where(leased_to(bindparam("p_job_id", type_=String), bindparam("p_worker", type_=String)))
        .values(
            status=status,
            result=_param("p_result", jobs.c.result),
            error=_param("p_error", jobs.c.error),
            artifacts=_param("p_artifacts", jobs.c.artifacts),
            # a failed job keeps the progress it reached
            progress=func.coalesce(_param("p_progress", jobs.c.progress), jobs.c.progress),
            finished_at=now,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(jobs.c.id)
        .cte("finished")
    )
    event = insert(job_events).from_select(
        _EVENT_COLUMNS,
        select(
            finished.c.id,
            now,
            literal(_RUNNING, String),
            status,
            bindparam("p_reason", type_=String),
        ),
    )
    return select(func.count(finished.c.id)).add_cte(event.cte("finish_event"))


def finish(
    conn: Connection,
    job_id: str,
    *,
    worker: str,
    now: datetime,
    status: JobStatus,
    values: dict[str, Any],
    reason: str,
) -> bool:
    """Finish a job this worker leases (``values``: result, error, artifacts, progress
    or None to keep it) and record the event; False when the lease was lost."""
    moved = conn.execute(
        _finish_statement(),
        {
            "p_job_id": job_id,
            "p_worker": worker,
            "p_now": now,
            "p_status": status.value,
            "p_reason": reason[:2000],
            **{f"p_{k}": v for k, v in values.items()},
        },
    ).scalar_one()
    return bool(moved)
