"""``PortfolioStore`` on SQLAlchemy Core (PostgreSQL / SQLite).

A day is booked in one transaction: its ``portfolio_days`` row first, inserted only if
no row holds that portfolio and day (``ON CONFLICT DO NOTHING``), then its orders,
closed trades and alerts. A stepper that finds the day taken rolls back and stops: the
other one booked it, from the same state, the same way. Alerts are inserted once per
``key``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from quantrun.adapters.sql import owned
from quantrun.adapters.sql.rows import cursor_after, from_row, values_of
from quantrun.adapters.sql.schema import (
    alerts,
    portfolio_days,
    portfolio_orders,
    portfolio_trades,
    portfolios,
)
from quantrun.domain.audit import AuditEntry
from quantrun.domain.lists import Page
from quantrun.domain.portfolios import Alert, DayBooking, Order, Portfolio, Trade


def _day(row: Any) -> DayBooking:
    carried = tuple(s for s in row.carried.split(",") if s)
    return from_row(DayBooking, row, state=json.loads(row.state), carried=carried)


def _order(row: Any) -> Order:
    return from_row(Order, row)


def _trade(row: Any) -> Trade:
    return Trade(row.portfolio_id, row.symbol, row.entry_date, row.entry_price, row.exit_date,
                 row.exit_price, row.quantity, row.pnl, row.trade_return, row.days_held,
                 row.exit_reason)  # fmt: skip


class SqlPortfolioStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # no conflict target: a step racing another may collide on (portfolio, day) or
        # on (portfolio, seq) first; on PostgreSQL only the target's index would be
        # handled, the other raising a unique violation when both inserts are in flight
        self._new_day = dialect.insert(portfolio_days).on_conflict_do_nothing()
        self._new_alert = dialect.insert(alerts).on_conflict_do_nothing(index_elements=["key"])

    def add(
        self, portfolio: Portfolio, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        values = values_of(portfolio, portfolios)
        return owned.add(self._engine, portfolios, values, most=most, audit=audit)

    def get(self, portfolio_id: str, user_id: str | None = None) -> Portfolio | None:
        row = owned.live(self._engine, portfolios, portfolio_id, user_id)
        return from_row(Portfolio, row) if row else None

    def for_user(self, user_id: str) -> list[Portfolio]:
        return owned.for_user(self._engine, portfolios, user_id, Portfolio)

    def live(self) -> list[Portfolio]:
        query = select(portfolios).where(portfolios.c.deleted_at.is_(None))
        with self._engine.connect() as conn:
            return [
                from_row(Portfolio, r)
                for r in conn.execute(query.order_by(portfolios.c.created_at))
            ]

    def delete(
        self, portfolio_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        return owned.delete(self._engine, portfolios, portfolio_id, user_id, now=now, audit=audit)

    def last_day(self, portfolio_id: str) -> DayBooking | None:
        query = (
            select(portfolio_days)
            .where(portfolio_days.c.portfolio_id == portfolio_id)
            .order_by(portfolio_days.c.seq.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _day(row) if row else None

    def book_day(
        self,
        booking: DayBooking,
        orders: list[Order],
        trades: list[Trade],
        alerts_made: list[Alert],
    ) -> bool:
        with self._engine.begin() as conn:
            taken = conn.execute(
                self._new_day.values(
                    {
                        **values_of(booking, portfolio_days),
                        "state": json.dumps(booking.state, allow_nan=False),
                        "carried": ",".join(booking.carried),
                    }
                )
            ).rowcount
            if taken != 1:  # booked already: nothing was written
                return False
            if orders:
                conn.execute(
                    insert(portfolio_orders), [values_of(o, portfolio_orders) for o in orders]
                )
            if trades:
                conn.execute(insert(portfolio_trades), [_trade_row(t) for t in trades])
            self._insert_alerts(conn, alerts_made)
        return True

    def add_alerts(self, made: list[Alert]) -> int:
        with self._engine.begin() as conn:
            return self._insert_alerts(conn, made)

    def _insert_alerts(self, conn: Connection, made: list[Alert]) -> int:
        return sum(
            conn.execute(self._new_alert.values(**values_of(a, alerts))).rowcount for a in made
        )

    def days(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._page(portfolio_days, portfolio_days.c.seq, portfolio_id, limit, cursor, _day)

    def orders(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        table = portfolio_orders
        return self._page(table, table.c.id, portfolio_id, limit, cursor, _order)

    def trades(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        table = portfolio_trades
        return self._page(table, table.c.id, portfolio_id, limit, cursor, _trade)

    def _page(
        self, table: Table, order: Any, portfolio_id: str, limit: int, cursor: str | None,
        made: Any,
    ) -> Page:  # fmt: skip
        query = (
            select(table)
            .where(table.c.portfolio_id == portfolio_id, order > cursor_after(cursor))
            .order_by(order)
            .limit(limit + 1)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1]._mapping[order.name] if rows else None
        return Page([made(r) for r in rows], str(last) if more else None)


def _trade_row(t: Trade) -> dict[str, Any]:
    return {
        "portfolio_id": t.portfolio_id, "symbol": t.symbol, "entry_date": t.entry_date,
        "entry_price": t.entry_price, "exit_date": t.exit_date, "exit_price": t.exit_price,
        "quantity": t.quantity, "pnl": t.pnl, "trade_return": t.ret, "days_held": t.days_held,
        "exit_reason": t.exit_reason,
    }  # fmt: skip
