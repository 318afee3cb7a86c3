"""Paper portfolios: a strategy's book stepped forward one trading day at a time.

A book holds, per symbol of a one-set ``backtest`` strategy, a sleeve with an equal share
of the portfolio's cash (as the backtest does), and applies on each day, at its close,
exactly the rules of ``quantrun.models.ledger``: the holding is marked at the close,
stops are checked, the rule's signal enters or leaves, fees and slippage
c = (fees_bps + slippage_bps) / 10,000 are taken from the traded notional. Fills are
market-on-close: at that day's close. A sleeve never borrows (an entry invests at most
its value) and never shorts, so cash and quantities never go negative.

So a book stepped from ``start`` to day E holds what a ``backtest`` of the strategy over
[start, E] with ``initial_cash`` = the portfolio's cash ends with, day by day: the same
equity series, round trips and P&L (to rounding: a holding here is quantity x close,
there the entry notional grown by each day's return).

The rule's inputs on day t come from the strategy's prices from ``start`` to t, and no
later. A symbol with no price on a day after its first one carries its last close that
day (``carried``); a later backtest over days where its prices resume treats that day as
an interior gap, carried the same way.

On a corporate action's ex-date a holding follows the shares (``after_action``): a split
multiplies them; a dividend is reinvested (prices read with ``total_return``, so the book
still ends where a backtest over today's adjusted prices does) or paid as cash.

Units: prices and cash in the instruments' currency; days are the book's trading days,
numbered from 0 (the first day with a price on or after ``start``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from quantrun.models.backtest import SIGNALS
from quantrun.models.ledger import REASONS, TradeRules
from quantrun.models.signals import prepare

Side = Literal["BUY", "SELL"]


@dataclass(frozen=True)
class Sleeve:
    """One symbol's share of the book."""

    cash: float
    quantity: float = 0.0
    entry_price: float = 0.0  # the close the holding entered at
    entry_notional: float = 0.0  # what the entry took from the sleeve (fees included)
    before: float = 0.0  # the sleeve's value before the entry
    entry_day: int = -1  # the book's day number of the entry; -1 while flat
    blocked: bool = False  # left on a stop: flat until the rule goes flat
    last_price: float = math.nan  # the latest close seen (what a carried day marks at)

    @property
    def holding(self) -> bool:
        return self.entry_day >= 0

    def value(self, price: float) -> float:
        return self.cash + self.quantity * price


@dataclass(frozen=True)
class Book:
    """A paper portfolio's state after ``days`` booked days."""

    days: int
    sleeves: tuple[Sleeve, ...]
    peak: float  # highest equity so far (the starting cash included)
    max_drawdown: float  # worst equity / peak - 1 so far (<= 0)
    realized_pnl: float  # P&L of the round trips closed so far
    signal: tuple[bool, ...]  # the rule's long/flat per symbol after the last day

    @staticmethod
    def opened(cash: float, n_symbols: int) -> Book:
        return Book(
            days=0,
            sleeves=tuple(Sleeve(cash=cash / n_symbols) for _ in range(n_symbols)),
            peak=cash,
            max_drawdown=0.0,
            realized_pnl=0.0,
            signal=(False,) * n_symbols,
        )

    def cash(self) -> float:
        return sum(s.cash for s in self.sleeves)


@dataclass(frozen=True)
class Fill:
    """A market-on-close order, filled."""

    symbol: int
    side: Side
    quantity: float
    price: float
    notional: float  # the order's value at the close
    cost: float  # fees and slippage taken
    reason: str  # ``quantrun.models.ledger.REASONS`` (an entry's is ``signal``)


@dataclass(frozen=True)
class RoundTrip:
    """A trade as ``trades.csv`` has it; an open one (``exit_day`` None) is marked at
    the last close with reason ``end``."""

    symbol: int
    entry_day: int
    exit_day: int | None
    entry_price: float
    exit_price: float
    quantity: float
    pnl: float
    ret: float
    reason: str


@dataclass(frozen=True)
class Booked:
    """What stepping one day books."""

    book: Book
    equity: float
    cash: float
    drawdown: float  # equity / peak - 1 this day
    fills: list[Fill]
    closed: list[RoundTrip]
    turned: list[tuple[int, Side]]  # the rule's BUY/SELL signals this day


@dataclass(frozen=True)
class RuleInputs:
    """What the book reads on each day t, (T, N) each: the close it fills and marks at
    (carried over a missing day), whether the symbol is live, the rule's long/flat and
    the share of a sleeve an entry invests (NaN: no entry)."""

    close: np.ndarray
    carried: np.ndarray
    live: np.ndarray
    signal: np.ndarray
    weight: np.ndarray


def rule_inputs(
    close: np.ndarray,
    strategy: str,
    params: dict[str, float],
    rules: TradeRules,
    marks: np.ndarray | None = None,
) -> RuleInputs:
    """The inputs of every day of ``close`` (T, N; from the portfolio's start). Each
    day's values depend on that day and earlier ones only, so one call serves many
    days of stepping. ``marks``: other prices (same days, same gaps) to fill and mark
    at, the signals still coming from ``close`` (a book following corporate actions
    trades the close as traded and reads its rule on adjusted prices)."""
    seen = ~np.isnan(close)
    # the last close carries over a missing day (a trailing gap counts as interior: the
    # book cannot know whether prices resume)
    idx = np.where(seen, np.arange(close.shape[0])[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)
    carried = ~seen & (last >= 0)
    at = (np.maximum(last, 0), np.arange(close.shape[1]))
    filled = np.where(carried, close[at], close)
    prepared = prepare(filled)
    signal = SIGNALS[strategy][1](prepared, params) & prepared.live
    traded = prepared.filled if marks is None else np.where(carried, marks[at], marks)
    return RuleInputs(traded, carried, prepared.live, signal, rules.weights(prepared))


def step(book: Book, inputs: RuleInputs, t: int, rules: TradeRules, cost: float) -> Booked:
    """Book row ``t`` of ``inputs`` as the book's next day (number ``book.days``)."""
    day = book.days
    sleeves, fills, closed = [], [], []
    turned: list[tuple[int, Side]] = []
    realized = book.realized_pnl
    for j, sleeve in enumerate(book.sleeves):
        price = float(inputs.close[t, j])
        signal = bool(inputs.signal[t, j])
        if signal != book.signal[j]:
            turned.append((j, "BUY" if signal else "SELL"))
        sleeve, fill, trip = _sleeve_day(sleeve, j, day, price, signal, float(inputs.weight[t, j]),
                                         rules, cost)  # fmt: skip
        sleeves.append(replace(sleeve, last_price=price))
        fills += [fill] if fill else []
        if trip is not None:
            closed.append(trip)
            realized += trip.pnl
    equity = sum(s.value(s.last_price) for s in sleeves)
    peak = max(book.peak, equity)
    drawdown = equity / peak - 1.0
    after = Book(
        days=day + 1,
        sleeves=tuple(sleeves),
        peak=peak,
        max_drawdown=min(book.max_drawdown, drawdown),
        realized_pnl=realized,
        signal=tuple(bool(x) for x in inputs.signal[t]),
    )
    return Booked(after, equity, after.cash(), drawdown, fills, closed, turned)


def _sleeve_day(
    s: Sleeve,
    j: int,
    t: int,
    price: float,
    signal: bool,
    weight: float,
    rules: TradeRules,
    cost: float,
) -> tuple[Sleeve, Fill | None, RoundTrip | None]:
    """``kernels.ledger.trade_sleeves``'s day, for one sleeve."""
    value = s.value(price)
    blocked = s.blocked and signal  # the rule went flat: a later BUY may enter again
    want, reason = signal and not blocked, "signal"
    if s.holding:
        if rules.stop_loss and price <= s.entry_price * (1.0 - rules.stop_loss):
            want, reason, blocked = False, "stop_loss", signal
        elif rules.take_profit and price >= s.entry_price * (1.0 + rules.take_profit):
            want, reason, blocked = False, "take_profit", signal
    if want and not s.holding and weight > 0.0:  # NaN: too little history to size it
        notional = weight * value
        held = notional * (1.0 - cost)
        quantity = held / price
        entered = Sleeve(value - notional, quantity, price, notional, value, t, blocked)
        return entered, Fill(j, "BUY", quantity, price, notional, notional * cost, "signal"), None
    if s.holding and not want:
        held = s.quantity * price
        cash = s.cash + held * (1.0 - cost)
        pnl = cash - s.before
        trip = RoundTrip(j, s.entry_day, t, s.entry_price, price, s.quantity, pnl,
                         pnl / s.entry_notional, reason)  # fmt: skip
        fill = Fill(j, "SELL", s.quantity, price, held, held * cost, reason)
        return Sleeve(cash, blocked=blocked), fill, trip
    return replace(s, blocked=blocked), None, None


def after_action(
    book: Book, j: int, *, share_ratio: float = 1.0, cash_per_share: float = 0.0
) -> Book:
    """The book on a corporate action's ex-date of symbol ``j``, before that day is
    stepped: each share held becomes ``share_ratio`` shares (a split's ratio, or a
    dividend reinvested at the ex-date close, (C + D) / C) and ``cash_per_share`` is paid
    into the sleeve per share held (a dividend taken as cash). The entry and last prices
    are per share, so they divide by the ratio: a stop still means the same move."""
    s = book.sleeves[j]
    if not s.holding:
        return book
    moved = replace(
        s,
        cash=s.cash + s.quantity * cash_per_share,
        quantity=s.quantity * share_ratio,
        entry_price=s.entry_price / share_ratio,
        last_price=s.last_price / share_ratio,
    )
    return replace(book, sleeves=(*book.sleeves[:j], moved, *book.sleeves[j + 1 :]))


def open_trades(book: Book) -> list[RoundTrip]:
    """The book's holdings as round trips still open, marked at their last close."""
    return [
        RoundTrip(j, s.entry_day, None, s.entry_price, s.last_price, s.quantity,
                  s.value(s.last_price) - s.before,
                  (s.value(s.last_price) - s.before) / s.entry_notional, REASONS[3])
        for j, s in enumerate(book.sleeves)
        if s.holding
    ]  # fmt: skip
