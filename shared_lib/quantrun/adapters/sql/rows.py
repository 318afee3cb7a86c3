"""Row <-> domain mapping and list cursors for the SQL job store."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.jobs import Job, JobError, JobStatus


def to_job(row: Any) -> Job:
    """A job from a result row or a mapping of its columns."""
    m = row._mapping if hasattr(row, "_mapping") else row
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
