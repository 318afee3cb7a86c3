"""Rows a user owns and deletes by marking them (strategies, schedules, portfolios,
webhooks): add under the user's cap, read a live one, delete, each change with its audit
entry in its own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, insert, select

from quantrun.adapters.sql import audit_rows
from quantrun.adapters.sql.rows import from_row, owned_rows, soft_delete, under_cap
from quantrun.domain.audit import AuditEntry

T = TypeVar("T")


def for_user(engine: Engine, table: Table, user_id: str, cls: type[T]) -> list[T]:
    """The user's live rows as ``cls`` records, oldest first."""
    with engine.connect() as conn:
        return [from_row(cls, r) for r in conn.execute(owned_rows(table, user_id))]


def add(
    engine: Engine,
    table: Table,
    values: dict[str, Any],
    *,
    most: int | None,
    audit: AuditEntry | None,
) -> bool:
    """Insert the row unless its user already holds ``most`` live ones (False)."""
    with engine.begin() as conn:
        if not under_cap(conn, table, values["user_id"], most):
            return False
        conn.execute(insert(table).values(**values))
        audit_rows.write(conn, audit)
    return True


def live(engine: Engine, table: Table, row_id: str, user_id: str | None = None) -> Any:
    """The live row (the user's, when ``user_id`` is given), or None."""
    query = select(table).where(table.c.id == row_id, table.c.deleted_at.is_(None))
    if user_id is not None:
        query = query.where(table.c.user_id == user_id)
    with engine.connect() as conn:
        return conn.execute(query).first()


def delete(
    engine: Engine,
    table: Table,
    row_id: str,
    user_id: str,
    *,
    now: datetime,
    audit: AuditEntry | None,
) -> bool:
    """Mark the user's live row deleted; False when they have none by that id."""
    with engine.begin() as conn:
        deleted = soft_delete(conn, table, row_id, user_id, now)
        if deleted:
            audit_rows.write(conn, audit)
    return deleted
