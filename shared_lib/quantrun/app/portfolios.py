"""Paper portfolios (CONTRACT 6.1): making, reading and deleting them, and what the API
shows of them. Stepping them: ``app/paper_steps.py``.

A portfolio runs a one-set ``backtest`` strategy of its user from ``start`` with
``cash``; the strategy's params are copied in. A position's ``avg_price`` is what its
entry cost per unit, fees and slippage included, so ``unrealized_pnl`` =
``market_value`` - ``quantity`` x ``avg_price`` is what the trades list shows for the
open trade.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime
from typing import Any, Literal

from quantrun.app.audit import entry
from quantrun.app.limits import check_cost
from quantrun.app.owned import admitted, found, removed
from quantrun.app.paper_alerts import order_document
from quantrun.app.paper_steps import Rule, current_book
from quantrun.app.signals import one_set_rule
from quantrun.catalog.backtest import SPEC as BACKTEST
from quantrun.domain.errors import InvalidInput
from quantrun.domain.lists import Page
from quantrun.domain.portfolios import DayBooking, Portfolio, Trade
from quantrun.domain.users import User
from quantrun.models import paper
from quantrun.ports import PortfolioStore, StrategyStore


def create(
    *,
    store: PortfolioStore,
    strategies: StrategyStore,
    user: User,
    strategy_id: str,
    name: str,
    cash: float,
    start: date,
    max_drawdown: float | None,
    now: datetime,
    most: int | None = None,
    max_cost: float = math.inf,
) -> Portfolio:
    """A portfolio of the user's one-set backtest strategy; its history from ``start`` to
    today is held to the job cost limit (a catch-up step is that backtest's work)."""
    strategy = found(strategies.strategy(strategy_id, user.id), f"strategy {strategy_id}",
                     field="strategy_id")  # fmt: skip
    params, _ = one_set_rule(strategy.model, strategy.params, "portfolios")
    if start > now.date():
        raise InvalidInput(f"start: {start} is in the future", field="start")
    if start < now.date():
        window = params.model_copy(update={"start": start, "end": now.date()})
        check_cost(BACKTEST, window, limit=max_cost, what="job")
    portfolio = Portfolio(
        id=str(uuid.uuid4()),
        user_id=user.id,
        strategy_id=strategy.id,
        name=name,
        cash=cash,
        start=start,
        params=strategy.params,
        created_at=now,
        max_drawdown_alert=max_drawdown,
    )
    audit = entry(user, "portfolio.create", portfolio.id, now, name=name,
                  strategy_id=strategy.id, cash=cash, start=start.isoformat())  # fmt: skip
    admitted(store.add(portfolio, most=most, audit=audit), "portfolios", most, now)
    return portfolio


def get(store: PortfolioStore, user: User, portfolio_id: str) -> Portfolio:
    return found(store.get(portfolio_id, user.id), f"portfolio {portfolio_id}")


def delete(store: PortfolioStore, user: User, portfolio_id: str, now: datetime) -> None:
    audit = entry(user, "portfolio.delete", portfolio_id, now)
    removed(store.delete(portfolio_id, user.id, now=now, audit=audit), f"portfolio {portfolio_id}")


def document(store: PortfolioStore, portfolio: Portfolio) -> dict[str, Any]:
    """``GET /v1/portfolios/{id}``: the portfolio and its book after its last day."""
    rule = Rule.of(portfolio)
    book, entry_dates, last = current_book(store, portfolio, rule)
    positions = [
        {
            "symbol": rule.symbols[j],
            "quantity": s.quantity,
            "avg_price": s.entry_notional / s.quantity,
            "last_price": s.last_price,
            "market_value": s.quantity * s.last_price,
            "unrealized_pnl": s.quantity * s.last_price - s.entry_notional,
            "entry_date": entry_dates[j],
            "carried": last is not None and rule.symbols[j] in last.carried,
        }
        for j, s in enumerate(book.sleeves)
        if s.holding
    ]
    return {
        **summary(portfolio),
        "as_of": None if last is None else last.day.isoformat(),
        "cash": book.cash(),
        "equity": portfolio.cash if last is None else last.equity,
        "positions": positions,
        "realized_pnl": book.realized_pnl,
        "max_drawdown": book.max_drawdown,
        "days": book.days,
        "carried": [] if last is None else list(last.carried),
    }


def summary(portfolio: Portfolio) -> dict[str, Any]:
    return {
        "id": portfolio.id,
        "name": portfolio.name,
        "strategy_id": portfolio.strategy_id,
        "start": portfolio.start.isoformat(),
        "initial_cash": portfolio.cash,
        "alerts": {"max_drawdown": portfolio.max_drawdown_alert},
        "created_at": portfolio.created_at.isoformat().replace("+00:00", "Z"),
    }


def listing(
    store: PortfolioStore,
    user: User,
    portfolio_id: str,
    what: Literal["equity", "orders", "trades"],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """A page of the user's portfolio's equity, orders or trades."""
    found = get(store, user, portfolio_id)
    if what == "equity":
        return equity_page(store.days(found.id, limit=limit, cursor=cursor))
    if what == "orders":
        return orders_page(store.orders(found.id, limit=limit, cursor=cursor))
    return trades_page(store, found, store.trades(found.id, limit=limit, cursor=cursor))


def equity_page(page: Page) -> dict[str, Any]:
    days: list[DayBooking] = page.items
    items = [
        {"date": d.day.isoformat(), "value": d.equity, "cash": d.cash, "drawdown": d.drawdown,
         "carried": list(d.carried)}
        for d in days
    ]  # fmt: skip
    return {"items": items, "next_cursor": page.next_cursor}


def orders_page(page: Page) -> dict[str, Any]:
    return {"items": [order_document(o) for o in page.items], "next_cursor": page.next_cursor}


def trade_document(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "entry_date": t.entry_date.isoformat(),
        "entry_price": t.entry_price,
        "exit_date": t.exit_date.isoformat(),
        "exit_price": t.exit_price,
        "quantity": t.quantity,
        "pnl": t.pnl,
        "return": t.ret,
        "days_held": t.days_held,
        "exit_reason": t.exit_reason,
    }


def trades_page(store: PortfolioStore, portfolio: Portfolio, page: Page) -> dict[str, Any]:
    """Closed round trips as they closed; the last page ends with the open ones (no
    exit date, reason ``end``, marked at the last close), as ``trades.csv`` has them."""
    items = [trade_document(t) for t in page.items]
    if page.next_cursor is None:
        rule = Rule.of(portfolio)
        book, entry_dates, _ = current_book(store, portfolio, rule)
        for trip in paper.open_trades(book):
            items.append(
                {"symbol": rule.symbols[trip.symbol], "entry_date": entry_dates[trip.symbol],
                 "entry_price": trip.entry_price, "exit_date": None,
                 "exit_price": trip.exit_price, "quantity": trip.quantity, "pnl": trip.pnl,
                 "return": trip.ret, "days_held": book.days - 1 - trip.entry_day,
                 "exit_reason": trip.reason}
            )  # fmt: skip
    return {"items": items, "next_cursor": page.next_cursor}
