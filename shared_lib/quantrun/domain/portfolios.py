"""Paper portfolios and alerts (CONTRACT 6.1).

A portfolio runs a one-set ``backtest`` strategy forward from ``start`` with ``cash``;
its strategy's params are copied in when it is made, so a later edit of the strategy
does not rewrite a running book. Each trading day it steps is one ``DayBooking`` (the
book's state after that day's close), stored once per portfolio and day: whatever steps
it, and however many at once, the first to store the day wins and the others stop.

An alert is an event for webhooks beside the job events: ``signal.changed``,
``order.filled``, ``portfolio.drawdown`` (a portfolio owner's) and ``data.stale`` (every
user's). Its ``key`` makes it once: the same key is never stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

ALERT_TYPES = ("signal.changed", "order.filled", "portfolio.drawdown", "data.stale")


@dataclass(frozen=True)
class Portfolio:
    id: str
    user_id: str
    strategy_id: str
    name: str
    cash: float
    start: date
    params: dict[str, Any]  # the strategy's backtest params when the portfolio was made
    created_at: datetime
    max_drawdown_alert: float | None = None  # alert once the drawdown passes this fraction


@dataclass(frozen=True)
class DayBooking:
    """One stepped day: the book after its close (``state``: ``app.portfolios`` lays it
    out), its equity, cash and drawdown, and the symbols whose close was carried."""

    portfolio_id: str
    seq: int  # the book's day number, from 0
    day: date
    equity: float
    cash: float
    drawdown: float
    state: dict[str, Any]
    carried: tuple[str, ...] = ()


@dataclass(frozen=True)
class Order:
    """A market-on-close order of a booked day, filled at that close."""

    portfolio_id: str
    day: date
    symbol: str
    side: str  # BUY | SELL
    quantity: float
    price: float
    notional: float
    cost: float  # fees and slippage
    reason: str


@dataclass(frozen=True)
class Trade:
    """A closed round trip, as ``trades.csv`` has it."""

    portfolio_id: str
    symbol: str
    entry_date: date
    entry_price: float
    exit_date: date
    exit_price: float
    quantity: float
    pnl: float
    ret: float
    days_held: int
    exit_reason: str


@dataclass(frozen=True)
class Alert:
    id: str
    type: str  # ALERT_TYPES
    key: str  # one alert per key
    created_at: datetime
    body: dict[str, Any] = field(default_factory=dict)  # the delivery's fields but id/type/times
    user_id: str | None = None  # None: every user's webhooks (data.stale)
