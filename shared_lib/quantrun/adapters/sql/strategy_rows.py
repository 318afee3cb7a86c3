"""``StrategyStore`` on SQLAlchemy Core (PostgreSQL / SQLite)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from quantrun.adapters.sql import audit_rows
from quantrun.adapters.sql.rows import owned_rows, soft_delete, under_cap
from quantrun.adapters.sql.schema import schedules, strategies
from quantrun.domain.audit import AuditEntry
from quantrun.domain.strategies import Schedule, Strategy


def _strategy(row: Any) -> Strategy:
    return Strategy(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        model=row.model,
        params=row.params,
        active=bool(row.active),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _schedule(row: Any) -> Schedule:
    return Schedule(
        id=row.id,
        user_id=row.user_id,
        strategy_id=row.strategy_id,
        cron=row.cron,
        timezone=row.timezone,
        created_at=row.created_at,
        last_fire_at=row.last_fire_at,
    )


class SqlStrategyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_strategy(
        self, strategy: Strategy, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        with self._engine.begin() as conn:
            if not under_cap(conn, strategies, strategy.user_id, most):
                return False
            conn.execute(
                insert(strategies).values(
                    id=strategy.id,
                    user_id=strategy.user_id,
                    name=strategy.name,
                    model=strategy.model,
                    params=strategy.params,
                    active=strategy.active,
                    created_at=strategy.created_at,
                    updated_at=strategy.updated_at,
                )
            )
            audit_rows.write(conn, audit)
        return True

    def strategy(self, strategy_id: str, user_id: str | None = None) -> Strategy | None:
        query = select(strategies).where(
            strategies.c.id == strategy_id, strategies.c.deleted_at.is_(None)
        )
        if user_id is not None:
            query = query.where(strategies.c.user_id == user_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _strategy(row) if row else None

    def strategies(self, user_id: str) -> list[Strategy]:
        with self._engine.connect() as conn:
            return [_strategy(r) for r in conn.execute(owned_rows(strategies, user_id))]

    def update_strategy(self, strategy: Strategy, *, audit: AuditEntry | None = None) -> bool:
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(strategies)
                .where(
                    strategies.c.id == strategy.id,
                    strategies.c.user_id == strategy.user_id,
                    strategies.c.deleted_at.is_(None),
                )
                .values(
                    name=strategy.name,
                    model=strategy.model,
                    params=strategy.params,
                    active=strategy.active,
                    updated_at=strategy.updated_at,
                )
            )
            if moved.rowcount == 1:
                audit_rows.write(conn, audit)
        return moved.rowcount == 1

    def delete_strategy(
        self, strategy_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        """The owner's strategy and, only when it was theirs and live, its schedules: a
        caller who does not own it changes nothing (each statement names the owner)."""
        with self._engine.begin() as conn:
            deleted = soft_delete(conn, strategies, strategy_id, user_id, now)
            if deleted:
                conn.execute(
                    update(schedules)
                    .where(
                        schedules.c.strategy_id == strategy_id,
                        schedules.c.user_id == user_id,
                        schedules.c.deleted_at.is_(None),
                    )
                    .values(deleted_at=now)
                )
                audit_rows.write(conn, audit)
        return deleted

    def add_schedule(
        self, schedule: Schedule, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        with self._engine.begin() as conn:
            if not under_cap(conn, schedules, schedule.user_id, most):
                return False
            conn.execute(
                insert(schedules).values(
                    id=schedule.id,
                    user_id=schedule.user_id,
                    strategy_id=schedule.strategy_id,
                    cron=schedule.cron,
                    timezone=schedule.timezone,
                    created_at=schedule.created_at,
                    last_fire_at=schedule.last_fire_at,
                )
            )
            audit_rows.write(conn, audit)
        return True

    def schedule(self, schedule_id: str, user_id: str) -> Schedule | None:
        query = select(schedules).where(
            schedules.c.id == schedule_id,
            schedules.c.user_id == user_id,
            schedules.c.deleted_at.is_(None),
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _schedule(row) if row else None

    def schedules(self, user_id: str) -> list[Schedule]:
        with self._engine.connect() as conn:
            return [_schedule(r) for r in conn.execute(owned_rows(schedules, user_id))]

    def delete_schedule(
        self, schedule_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        with self._engine.begin() as conn:
            deleted = soft_delete(conn, schedules, schedule_id, user_id, now)
            if deleted:
                audit_rows.write(conn, audit)
        return deleted

    def live_schedules(self) -> list[Schedule]:
        query = (
            select(schedules)
            .join(strategies, strategies.c.id == schedules.c.strategy_id)
            .where(
                schedules.c.deleted_at.is_(None),
                strategies.c.deleted_at.is_(None),
                strategies.c.active.is_(True),
            )
            .order_by(schedules.c.id)
        )
        with self._engine.connect() as conn:
            return [_schedule(r) for r in conn.execute(query)]

    def take_fire(self, schedule: Schedule, fire_at: datetime) -> bool:
        previous = (
            schedules.c.last_fire_at.is_(None)
            if schedule.last_fire_at is None
            else schedules.c.last_fire_at == schedule.last_fire_at
        )
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule.id, previous)
                .values(last_fire_at=fire_at)
            )
        return moved.rowcount == 1
