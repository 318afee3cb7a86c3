"""Row <-> domain mapping, list cursors, the guards and the event/outbox writers shared by
the SQL store's statements (``job_store.py``, ``transitions.py``, ``pg_statements.py``).
The guards take values or bound parameters alike."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, insert, or_

from quantrun.adapters.sql.schema import job_events, jobs, outbox
from quantrun.jobs.domain import ArtifactRef, Job, JobError, JobStatus


def to_job(row: Any) -> Job:
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


def write_event(
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


def claimable(job_id: Any, now: Any) -> ColumnElement[bool]:
    """The job is queued, or running under a lease that expired before ``now``."""
    return and_(
        jobs.c.id == job_id,
        or_(
            jobs.c.status == JobStatus.QUEUED.value,
            and_(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now),
        ),
    )


def leased_to(job_id: Any, worker: Any) -> ColumnElement[bool]:
    """The job is running under this worker's lease (a lost lease updates no row)."""
    return and_(
        jobs.c.id == job_id,
        jobs.c.status == JobStatus.RUNNING.value,
        jobs.c.lease_owner == worker,
    )


def write_outbox(conn: Connection, job_id: str, at: datetime) -> None:
    """gcp mode: the job's outbox row, in the transaction that made it queued."""
    conn.execute(insert(outbox).values(job_id=job_id, created_at=at, attempts=0))
