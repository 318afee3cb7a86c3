"""The alerts of a paper portfolio's booked day, and the daily stale-data check
(CONTRACT 6.1).

A booked day makes, stored by the transaction that books it: ``order.filled`` per fill,
``signal.changed`` per symbol the rule turns BUY or SELL, ``portfolio.drawdown`` on the
first day the drawdown passes ``alerts.max_drawdown``. ``data.stale``: an active
instrument's latest price older than ``after_days`` trading days (weekdays), once per
instrument and latest date. An alert's ``key`` makes it once, whoever books the day.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import numpy as np

from quantrun.app.universe import inactive
from quantrun.domain.portfolios import Alert, DayBooking, Order, Portfolio
from quantrun.models import paper
from quantrun.ports import PortfolioStore, PriceStore


def day_alerts(
    portfolio: Portfolio,
    symbols: tuple[str, ...],
    booking: DayBooking,
    orders: list[Order],
    done: paper.Booked,
    drawdown_before: float,
    now: datetime,
) -> list[Alert]:
    """The alerts of the day ``booking`` books (``drawdown_before``: the book's drawdown
    the day before, so the drawdown alert fires on the day it is first passed)."""
    about = {"id": portfolio.id, "name": portfolio.name, "strategy_id": portfolio.strategy_id,
             "date": booking.day.isoformat(), "equity": booking.equity}  # fmt: skip
    key = f"{portfolio.id}:{booking.day.isoformat()}"
    made = [
        Alert(str(uuid.uuid4()), "order.filled", f"order.filled:{key}:{o.symbol}:{o.side}", now,
              {"portfolio": about, "order": order_document(o)}, portfolio.user_id)
        for o in orders
    ]  # fmt: skip
    for j, turned in done.turned:
        symbol = symbols[j]
        made.append(
            Alert(str(uuid.uuid4()), "signal.changed", f"signal.changed:{key}:{symbol}", now,
                  {"portfolio": about, "symbol": symbol, "signal": turned}, portfolio.user_id)
        )  # fmt: skip
    limit = portfolio.max_drawdown_alert
    if limit is not None and -done.drawdown >= limit > -drawdown_before:
        made.append(
            Alert(str(uuid.uuid4()), "portfolio.drawdown", f"portfolio.drawdown:{key}", now,
                  {"portfolio": about, "drawdown": done.drawdown, "max_drawdown": limit},
                  portfolio.user_id)
        )  # fmt: skip
    return made


def order_document(o: Order) -> dict[str, Any]:
    return {"date": o.day.isoformat(), "symbol": o.symbol, "side": o.side,
            "quantity": o.quantity, "price": o.price, "notional": o.notional, "cost": o.cost,
            "reason": o.reason}  # fmt: skip


def stale_alerts(
    *, store: PortfolioStore, prices: PriceStore, today: date, after_days: int, now: datetime
) -> int:
    """``data.stale`` for each active instrument whose latest price is more than
    ``after_days`` trading days (weekdays) before ``today``: once per instrument and
    latest date."""
    made = []
    off = inactive(prices)
    for instrument in prices.instruments():
        if instrument.symbol in off:
            continue
        last = instrument.last_date
        behind = int(np.busday_count(np.datetime64(last, "D") + 1, np.datetime64(today, "D") + 1))
        if behind > after_days:
            made.append(
                Alert(str(uuid.uuid4()), "data.stale", f"data.stale:{instrument.symbol}:{last}",
                      now, {"instrument": {"symbol": instrument.symbol,
                                           "last_date": last.isoformat(),
                                           "trading_days_behind": behind}})
            )  # fmt: skip
    return store.add_alerts(made) if made else 0
