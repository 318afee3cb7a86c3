"""Row <-> domain mapping (jobs, events, API keys) and list cursors for the SQL job store."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, Table, func, select, update

from quantrun.adapters.sql.schema import api_keys, users
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import InvalidInput
from quantrun.domain.jobs import Job, JobError, JobEvent, JobStatus
from quantrun.domain.users import ApiKey

T = TypeVar("T")


def to_job(row: Any) -> Job:
    """A job from a result row or a mapping of its columns."""
    m = row._mapping if hasattr(row, "_mapping") else row
    err = m["error"]
    return Job(
        id=m["id"],
        user_id=m["user_id"],
        model=m["model"],
        params=m["params"] or {},
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
        parent_id=m["parent_id"],
        shard_index=m["shard_index"],
        shards_total=m["shards_total"],
        shards_done=int(m["shards_done"]),
        shards_failed=int(m["shards_failed"]),
        strategy_id=m["strategy_id"],
        schedule_id=m["schedule_id"],
        trace=m.get("trace"),
        manifest=m.get("manifest"),
    )


def to_event(row: Any) -> JobEvent:
    return JobEvent(
        job_id=row.job_id,
        at=row.at,
        from_status=JobStatus(row.from_status) if row.from_status else None,
        to_status=JobStatus(row.to_status),
        reason=row.reason,
    )


def key_query() -> Select[Any]:
    """API keys with their user's name."""
    return select(
        *api_keys.c, users.c.name.label("user_name"), users.c.role.label("user_role")
    ).join(users, api_keys.c.user_id == users.c.id)


def to_api_key(row: Any) -> ApiKey:
    return from_row(ApiKey, row)


def values_of(record: Any, table: Table) -> dict[str, Any]:
    """A domain record's fields that are ``table``'s columns."""
    names = [f.name for f in dataclasses.fields(record)]
    return {name: getattr(record, name) for name in names if name in table.c}


def from_row(cls: type[T], row: Any, **values: Any) -> T:
    """The domain record of ``cls`` from a row with its columns; ``values`` give the
    fields the row keeps in another form (a JSON text, a comma-separated list)."""
    mapping = row._mapping
    read = {f.name: mapping[f.name] for f in dataclasses.fields(cls) if f.name in mapping}  # type: ignore[arg-type]
    return cls(**{**read, **values})


def cursor_after(cursor: str | None) -> int:
    """The row number a numeric list cursor names (-1: the first page); ``InvalidInput``
    for anything a list did not give."""
    if cursor is None:
        return -1
    if not cursor.isdigit():
        raise InvalidInput("cursor: not a cursor this list gave", field="cursor")
    return int(cursor)


# A user's rows that are deleted by marking them (webhooks, strategies, schedules).


def owned_rows(table: Table, user_id: str) -> Select[Any]:
    """The user's live rows, oldest first."""
    return (
        select(table)
        .where(table.c.user_id == user_id, table.c.deleted_at.is_(None))
        .order_by(table.c.created_at, table.c.id)
    )


def soft_delete(conn: Connection, table: Table, row_id: str, user_id: str, now: datetime) -> bool:
    """Mark the user's live row deleted; False when there is none."""
    moved = conn.execute(
        update(table)
        .where(table.c.id == row_id, table.c.user_id == user_id, table.c.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    return moved.rowcount == 1


def under_cap(
    conn: Connection, table: Table, user_id: str, most: int | None, live: Any = None
) -> bool:
    """Whether the user has fewer than ``most`` live rows in ``table`` (None: no cap), in
    the caller's transaction. On PostgreSQL a per-user, per-table advisory lock held to
    the transaction's end makes count-then-insert exact under concurrent creates."""
    if most is None:
        return True
    if conn.dialect.name == "postgresql":
        lock = func.hashtextextended(f"{table.name}:{user_id}", 0)
        conn.execute(select(func.pg_advisory_xact_lock(lock)))
    condition = live if live is not None else table.c.deleted_at.is_(None)
    count = conn.execute(
        select(func.count()).select_from(table).where(table.c.user_id == user_id, condition)
    ).scalar_one()
    return int(count) < most
