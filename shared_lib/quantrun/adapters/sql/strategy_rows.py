"""``StrategyStore`` on SQLAlchemy Core (PostgreSQL / SQLite)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select, update

from quantrun.adapters.sql import audit_rows, owned
from quantrun.adapters.sql.rows import from_row, soft_delete, values_of
from quantrun.adapters.sql.schema import schedules, strategies
from quantrun.domain.audit import AuditEntry
from quantrun.domain.strategies import Schedule, Strategy


class SqlStrategyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_strategy(
        self, strategy: Strategy, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        values = values_of(strategy, strategies)
        return owned.add(self._engine, strategies, values, most=most, audit=audit)

    def strategy(self, strategy_id: str, user_id: str | None = None) -> Strategy | None:
        row = owned.live(self._engine, strategies, strategy_id, user_id)
        return from_row(Strategy, row) if row else None

    def strategies(self, user_id: str) -> list[Strategy]:
        return owned.for_user(self._engine, strategies, user_id, Strategy)

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
        values = values_of(schedule, schedules)
        return owned.add(self._engine, schedules, values, most=most, audit=audit)

    def schedule(self, schedule_id: str, user_id: str) -> Schedule | None:
        row = owned.live(self._engine, schedules, schedule_id, user_id)
        return from_row(Schedule, row) if row else None

    def schedules(self, user_id: str) -> list[Schedule]:
        return owned.for_user(self._engine, schedules, user_id, Schedule)

    def delete_schedule(
        self, schedule_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        return owned.delete(self._engine, schedules, schedule_id, user_id, now=now, audit=audit)

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
            return [from_row(Schedule, r) for r in conn.execute(query)]

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
