"""Stepping paper portfolios (CONTRACT 6.1; the book's rules: ``models/paper.py``).

A step catches a portfolio up: every day with stored prices after its last booked day,
in order, each booked by ``PortfolioStore.book_day`` (once per portfolio and day). The
step reads the strategy's prices from the portfolio's start to today, so each day's
rule sees that day and earlier ones only. When a day turns out booked already (another
worker, the scheduler or a retry is stepping the same portfolio) this step reads the
book the other one stored and carries on after its last day: it returns with the
portfolio caught up, each day booked once, by whichever step stored it first.

Each booked day makes its alerts (``paper_alerts.py``) in the same transaction;
``step_all`` makes the day's ``data.stale`` ones. A day is booked after its close only,
never later than ``today`` (the caller's, UTC).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from quantrun.app.history_loads import book_loads
from quantrun.app.paper_alerts import day_alerts, stale_alerts
from quantrun.app.signals import one_set_rule
from quantrun.catalog.history_params import HistoryParams
from quantrun.domain.actions import PricedAction
from quantrun.domain.portfolios import Alert, DayBooking, Order, Portfolio, Trade
from quantrun.logging import get_logger
from quantrun.models import paper
from quantrun.models.ledger import TradeRules
from quantrun.ports import PortfolioStore, PriceStore

log = get_logger(__name__)


@dataclass(frozen=True)
class Rule:
    """What a portfolio runs: its strategy's symbols, rule, trade rules and costs."""

    symbols: tuple[str, ...]
    name: str
    params: dict[str, float]
    trade_rules: TradeRules
    cost: float
    history: HistoryParams  # what the prices are read under: adjustment, currency

    @staticmethod
    def of(portfolio: Portfolio) -> Rule:
        params, rule = one_set_rule("backtest", portfolio.params, "portfolios")
        return Rule(
            symbols=tuple(params.symbols),
            name=params.strategy.name,
            params=rule,
            trade_rules=params.rules(),
            cost=(params.fees_bps + params.slippage_bps) / 10_000.0,
            history=params,
        )


def encode(book: paper.Book, entry_dates: list[str | None]) -> dict[str, Any]:
    """The book as a day's stored state (JSON: a NaN is null)."""

    def number(x: float) -> float | None:
        return x if math.isfinite(x) else None

    return {
        "days": book.days,
        "peak": book.peak,
        "max_drawdown": book.max_drawdown,
        "realized_pnl": book.realized_pnl,
        "signal": list(book.signal),
        "sleeves": [
            {"cash": s.cash, "quantity": s.quantity, "entry_price": s.entry_price,
             "entry_notional": s.entry_notional, "before": s.before, "entry_day": s.entry_day,
             "entry_date": d, "blocked": s.blocked, "last_price": number(s.last_price)}
            for s, d in zip(book.sleeves, entry_dates, strict=True)
        ],
    }  # fmt: skip


def decode(state: dict[str, Any]) -> tuple[paper.Book, list[str | None]]:
    sleeves = tuple(
        paper.Sleeve(s["cash"], s["quantity"], s["entry_price"], s["entry_notional"], s["before"],
                     s["entry_day"], s["blocked"],
                     math.nan if s["last_price"] is None else s["last_price"])
        for s in state["sleeves"]
    )  # fmt: skip
    book = paper.Book(state["days"], sleeves, state["peak"], state["max_drawdown"],
                      state["realized_pnl"], tuple(state["signal"]))  # fmt: skip
    return book, [s["entry_date"] for s in state["sleeves"]]


def current_book(
    store: PortfolioStore, portfolio: Portfolio, rule: Rule
) -> tuple[paper.Book, list[str | None], DayBooking | None]:
    last = store.last_day(portfolio.id)
    if last is None:
        n = len(rule.symbols)
        return paper.Book.opened(portfolio.cash, n), [None] * n, None
    book, entry_dates = decode(last.state)
    return book, entry_dates, last


def step(
    *, store: PortfolioStore, prices: PriceStore, portfolio: Portfolio, today: date, now: datetime
) -> int:
    """Book the portfolio's days after its last one, up to ``today``; how many this call
    booked."""
    rule = Rule.of(portfolio)
    book, entry_dates, last = current_book(store, portfolio, rule)
    if last is not None:  # a cheap look first: most steps find nothing new
        latest = [p.date for p in prices.latest(list(rule.symbols))]
        if not latest or max(latest) <= last.day:
            return 0
    matrix, traded, actions = book_loads(
        prices, rule.history, list(rule.symbols), portfolio.start, today
    )
    dates = [date.fromisoformat(str(np.datetime64(d, "D"))) for d in matrix.dates]
    todo = [t for t, d in enumerate(dates) if last is None or d > last.day]
    if not todo:
        return 0
    inputs = paper.rule_inputs(
        matrix.close, rule.name, rule.params, rule.trade_rules, marks=traded.close
    )
    drawdown = 0.0 if last is None else last.drawdown
    booked, at = 0, 0
    while at < len(todo):
        t = todo[at]
        day = dates[t]
        since = dates[t - 1] if t else date.min
        due = [p for p in actions if since < p.action.date <= day]
        done = paper.step(_followed(book, rule, due, inputs.close[t]), inputs, t,
                          rule.trade_rules, rule.cost)  # fmt: skip
        orders = _orders(portfolio, rule, day, done)
        trades = _trades(portfolio, rule, day, done, book.days, entry_dates)
        entry_dates = [
            day.isoformat() if s.entry_day == book.days else (d if s.holding else None)
            for s, d in zip(done.book.sleeves, entry_dates, strict=True)
        ]
        booking = DayBooking(
            portfolio_id=portfolio.id,
            seq=book.days,
            day=day,
            equity=done.equity,
            cash=done.cash,
            drawdown=done.drawdown,
            state=encode(done.book, entry_dates),
            carried=tuple(rule.symbols[j] for j in np.flatnonzero(inputs.carried[t])),
        )
        alerts = day_alerts(portfolio, rule.symbols, booking, orders, done, drawdown, now)
        if store.book_day(booking, orders, trades, alerts):
            book, drawdown, booked, at = done.book, done.drawdown, booked + 1, at + 1
            continue
        # another step booked this day (committed: the insert waited for it); carry on
        # from its stored book, so the caller's answer is the portfolio caught up
        book, entry_dates, last = current_book(store, portfolio, rule)
        assert last is not None  # the day just refused is stored
        log.info(
            "portfolio day booked by another step; this one carries on after its last",
            extra={"fields": {"portfolio_id": portfolio.id, "day": last.day.isoformat()}},
        )
        drawdown = last.drawdown
        at = next((i for i, t in enumerate(todo) if dates[t] > last.day), len(todo))
    return booked


def _followed(
    book: paper.Book, rule: Rule, due: list[PricedAction], marks: np.ndarray
) -> paper.Book:
    """The book after the corporate actions since its last day, before the day is
    stepped: splits multiply the shares held; a dividend is reinvested at its ex-date
    close when the strategy reads total returns, else paid into the sleeve's cash, in the
    book's currency at that day's mark (none without the ex-date's close)."""
    for p in due:
        j, a = rule.symbols.index(p.action.symbol), p.action
        if a.kind == "split":
            book = paper.after_action(book, j, share_ratio=a.value)
        elif p.close is not None and rule.history.adjustment == "total_return":
            book = paper.after_action(book, j, share_ratio=(p.close + a.value) / p.close)
        elif p.close is not None:
            book = paper.after_action(book, j, cash_per_share=a.value * marks[j] / p.close)
    return book


def _orders(portfolio: Portfolio, rule: Rule, day: date, done: paper.Booked) -> list[Order]:
    return [
        Order(portfolio.id, day, rule.symbols[f.symbol], f.side, f.quantity, f.price,
              f.notional, f.cost, f.reason)
        for f in done.fills
    ]  # fmt: skip


def _trades(
    portfolio: Portfolio,
    rule: Rule,
    day: date,
    done: paper.Booked,
    seq: int,
    entry_dates: list[str | None],
) -> list[Trade]:
    """The round trips closed on ``day`` (the book's day ``seq``); ``entry_dates`` as
    they were before it (a trade closed today entered on an earlier day)."""
    return [
        Trade(portfolio.id, rule.symbols[trip.symbol],
              date.fromisoformat(str(entry_dates[trip.symbol])), trip.entry_price, day,
              trip.exit_price, trip.quantity, trip.pnl, trip.ret, seq - trip.entry_day,
              trip.reason)
        for trip in done.closed
    ]  # fmt: skip


def step_all(
    *,
    store: PortfolioStore,
    prices: PriceStore,
    today: date,
    now: datetime,
    stale_after_days: int,
) -> dict[str, int]:
    """Step every portfolio with a stored day after its last one, then, on the first
    call of each UTC day, the stale-data alerts (they read every instrument's coverage:
    on BigQuery a scan of the prices table, not worth paying every few minutes). One
    portfolio's failure is logged and does not stop the others."""
    stepped = days = failed = 0
    for portfolio in store.live():
        try:
            n = step(store=store, prices=prices, portfolio=portfolio, today=today, now=now)
        except Exception:
            failed += 1
            log.exception("portfolio step failed", extra={"fields": {"portfolio_id": portfolio.id}})
            continue
        stepped, days = stepped + (n > 0), days + n
    stale = 0
    # the day's check is claimed like an alert: the first call to store the key runs it
    # (a marker of no user, which no webhook is told of)
    marker = Alert(str(uuid.uuid4()), "stale.check", f"stale.check:{today}", now, {}, "-")
    if store.add_alerts([marker]):
        stale = stale_alerts(store=store, prices=prices, today=today,
                             after_days=stale_after_days, now=now)  # fmt: skip
    return {"portfolios": stepped, "days": days, "failed": failed, "stale": stale}
