"""The audit trail on SQLAlchemy Core: ``write`` in a change's own transaction (the
stores call it with their connection), ``SqlAuditLog`` to read it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from quantrun.adapters.sql.rows import cursor_after
from quantrun.adapters.sql.schema import audit_events
from quantrun.domain.audit import AuditEntry
from quantrun.domain.lists import Page


def write(conn: Connection, entry: AuditEntry | None) -> None:
    if entry is None:
        return
    conn.execute(
        insert(audit_events).values(
            id=entry.id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_name=entry.actor_name,
            address=entry.address,
            action=entry.action,
            subject_id=entry.subject_id,
            details=entry.details,
        )
    )


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(row.id, row.at, row.actor_id, row.actor_name, row.address, row.action,
                      row.subject_id, row.details)  # fmt: skip


class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, entry: AuditEntry) -> None:
        with self._engine.begin() as conn:
            write(conn, entry)

    def entries(self, *, limit: int, cursor: str | None) -> Page:
        """Newest first."""
        query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(audit_events.c.seq < cursor_after(cursor))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([_entry(r) for r in rows], str(rows[-1].seq) if more and rows else None)
