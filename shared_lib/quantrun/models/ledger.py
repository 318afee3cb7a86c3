"""Trades of a backtest: stops, sizing and the ledger of round trips.

Rules, per sleeve (one symbol of one parameter set; ``quantrun.models.backtest``), each
trading day t at the close, in this order:

1. A holding earns the day's return: held_t = held_{t-1} (1 + r_t); the sleeve's value
   is its cash plus its holding.
2. Stops, checked on closes: a holding whose close P_t <= P_entry (1 - stop_loss)
   leaves at that close (``stop_loss``), else one with P_t >= P_entry (1 + take_profit)
   (``take_profit``). After a stop the sleeve stays flat until the rule's signal goes
   flat; the next BUY may enter again.
3. The signal (long while the rule says so and the symbol is live) enters or leaves
   (``signal``). An entry invests the share w of the sleeve's value: ``equal`` sizing
   w = 1 (today's rule: the sleeve fully invested), ``volatility_target`` w =
   min(1, target / sigma), sigma the annualised (x sqrt 252) standard deviation of the
   symbol's daily returns over the last ``lookback_days`` days (at least 2; with fewer,
   no entry).
4. Fees and slippage, c = (fees_bps + slippage_bps) / 10,000 of the traded notional:
   an entry of notional N = w V holds N (1 - c) and keeps V - N as cash; an exit sells
   the holding H and adds H (1 - c) to the cash.

With equal sizing and no stops these are the vectorised sleeves' results exactly.

A round trip's ``quantity`` is N (1 - c) / P_entry; ``pnl`` is the sleeve's value after
the exit less its value before the entry (so fees on both legs are in it), ``return``
its pnl over N, ``days_held`` trading days between entry and exit. A trade still open at
the last day is marked at that close: no exit date, reason ``end``, no exit fee. So the
pnl of a set's trades sums to its equity change.

Per set: ``win_rate`` (share of trades with pnl > 0), ``profit_factor`` (gains over
losses; None without a losing trade), ``avg_trade_return``, ``max_consecutive_losses``
(trades in exit order, open ones last).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantrun.models.kernels import ledger as kernel
from quantrun.models.signals import Prepared

PERIODS = 252
# round trips per sleeve the ledger's first pass makes room for (10 years of a fast rule)
TYPICAL_TRADES = 64
REASONS = ("signal", "stop_loss", "take_profit", "end")
# a Ledger's rows, as ``kernels.ledger`` lays them out
INT_FIELDS = ("set", "symbol", "entry_day", "exit_day", "reason")
FLOAT_FIELDS = ("entry_price", "exit_price", "quantity", "pnl", "return")


@dataclass(frozen=True)
class TradeRules:
    """Stops (fractions of the entry price; None: off) and sizing."""

    stop_loss: float | None = None
    take_profit: float | None = None
    volatility_target: float | None = None  # None: equal sizing
    lookback_days: int = 63

    @property
    def plain(self) -> bool:
        """Today's rule (no stops, equal sizing): the vectorised sleeves apply."""
        return (
            self.stop_loss is None and self.take_profit is None and self.volatility_target is None
        )

    def weights(self, prepared: Prepared) -> np.ndarray:
        """(T, N) the share of its sleeve an entry on each day invests."""
        shape = prepared.filled.shape
        if self.volatility_target is None:
            return np.ones(shape)
        sigma = rolling_volatility(prepared, self.lookback_days)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.minimum(1.0, self.volatility_target / sigma)
        return np.where(np.isfinite(share) & (share > 0), share, np.nan)


def rolling_volatility(prepared: Prepared, lookback_days: int) -> np.ndarray:
    """(T, N) annualised standard deviation (ddof 1) of each symbol's daily returns over
    the ``lookback_days`` days to t (the returns that exist: both days live); NaN with
    fewer than 2."""
    valid = np.zeros(prepared.live.shape, dtype=bool)
    valid[1:] = prepared.live[1:] & prepared.live[:-1]
    r = np.where(valid, prepared.returns, 0.0)

    def window(x: np.ndarray) -> np.ndarray:
        c = np.cumsum(x, axis=0)
        out = c.copy()
        out[lookback_days:] -= c[:-lookback_days]
        return out

    n = window(valid.astype(np.float64))
    s, ss = window(r), window(r * r)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (ss - s * s / n) / (n - 1)
    return np.where(n >= 2, np.sqrt(np.maximum(var, 0.0)) * math.sqrt(PERIODS), np.nan)


@dataclass(frozen=True)
class Ledger:
    """Round trips, one column per field (``kernels.ledger`` lays them out)."""

    ints: np.ndarray  # (5, M): set, symbol, entry day, exit day (-1 open), reason
    floats: np.ndarray  # (5, M): entry price, exit price, quantity, pnl, return

    @property
    def size(self) -> int:
        return int(self.ints.shape[1])

    def column(self, name: str) -> np.ndarray:
        if name in INT_FIELDS:
            return np.asarray(self.ints[INT_FIELDS.index(name)])
        return np.asarray(self.floats[FLOAT_FIELDS.index(name)])

    @staticmethod
    def joined(parts: Sequence[Ledger]) -> Ledger:
        return Ledger(
            np.concatenate([p.ints for p in parts] or [np.empty((5, 0), np.int64)], axis=1),
            np.concatenate([p.floats for p in parts] or [np.empty((5, 0))], axis=1),
        )

    def placed(
        self, keep: np.ndarray, *, set_no: int, symbols: np.ndarray, first_day: int
    ) -> Ledger:
        """The trades ``keep`` of a ledger run on a part of a history (its days from
        ``first_day``, its symbols the columns ``symbols``), numbered as in the whole."""
        ints = self.ints[:, keep].copy()
        ints[kernel.SET] = set_no
        ints[kernel.SYMBOL] = symbols[ints[kernel.SYMBOL]]
        ints[kernel.ENTRY_DAY] += first_day
        exits = ints[kernel.EXIT_DAY]
        ints[kernel.EXIT_DAY] = np.where(exits < 0, -1, exits + first_day)
        return Ledger(ints, self.floats[:, keep])


@dataclass(frozen=True)
class Traded:
    equity: np.ndarray  # (G, T)
    changes: np.ndarray  # (G,)
    traded: np.ndarray  # (G,) notional
    ledger: Ledger


def trade(
    positions: np.ndarray,
    prepared: Prepared,
    rules: TradeRules,
    *,
    cost: float,
    initial_cash: float,
    first_set: int = 0,
    record: bool = True,
) -> Traded:
    """The sleeves of positions (G, T, N) under ``rules``; with ``record``, the ledger
    (ordered by set, symbol, entry)."""
    n_grid, n_days, n_sym = positions.shape
    weights = rules.weights(prepared)
    stop = rules.stop_loss or 0.0
    take = rules.take_profit or 0.0
    equity, changes = np.empty((n_grid, n_days)), np.empty(n_grid)
    traded, counts = np.empty(n_grid), np.zeros(n_grid, dtype=np.int64)

    def by_symbol(x: np.ndarray) -> np.ndarray:  # the kernel walks each symbol's days
        return np.ascontiguousarray(np.swapaxes(x, -1, -2))

    args = (by_symbol(positions), by_symbol(prepared.live), by_symbol(prepared.filled),
            by_symbol(prepared.returns), by_symbol(weights), stop, take, cost, initial_cash,
            first_set, equity, changes, traded, counts)  # fmt: skip
    if not record:
        ints, floats = kernel.empty_ledger(0)
        kernel.trade_sleeves(*args, counts, 0, ints, floats, False)
        return Traded(equity, changes, traded, Ledger(ints, floats))
    # one pass with room for a typical number of trades per set; a set that made more
    # (its count says so) is written again with room for exactly its count
    room = n_sym * TYPICAL_TRADES
    offsets = np.arange(n_grid, dtype=np.int64) * room
    ints, floats = kernel.empty_ledger(n_grid * room)
    kernel.trade_sleeves(*args, offsets, room, ints, floats, True)
    if counts.max(initial=0) > room:
        room = int(counts.max())
        offsets = np.arange(n_grid, dtype=np.int64) * room
        ints, floats = kernel.empty_ledger(n_grid * room)
        kernel.trade_sleeves(*args, offsets, room, ints, floats, True)
    kept = np.concatenate(
        [np.arange(o, o + c) for o, c in zip(offsets, counts, strict=True)] or [np.zeros(0, int)]
    )
    ints, floats = ints[:, kept], floats[:, kept]
    return Traded(equity, changes, traded, Ledger(ints, floats))


def sma_cross_positions(prepared: Prepared, fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """The sma_cross rule's positions (G, T, N), as the fused sleeve kernel decides them."""
    csum = np.cumsum(prepared.filled, axis=0)
    age = np.ascontiguousarray(prepared.age, dtype=np.int64)
    out = np.empty((fast.size, *csum.shape), dtype=np.bool_)
    kernel.sma_positions(csum, age, fast.astype(np.int64), slow.astype(np.int64), out)
    return out


def set_statistics(ledger: Ledger, n_sets: int, n_days: int) -> list[dict[str, float | None]]:
    """Per set: win_rate, profit_factor, avg_trade_return, max_consecutive_losses."""
    sets, pnl, ret = ledger.column("set"), ledger.column("pnl"), ledger.column("return")

    def per_set(values: np.ndarray) -> np.ndarray:
        return np.bincount(sets, weights=values, minlength=n_sets)

    count = np.bincount(sets, minlength=n_sets)
    wins, returns = per_set((pnl > 0).astype(np.float64)), per_set(ret)
    gains, losses = per_set(np.maximum(pnl, 0.0)), per_set(-np.minimum(pnl, 0.0))
    # losing streaks, trades in exit order (open ones last): a loss counts from the last
    # win or from its set's first trade
    exit_day = np.where(ledger.column("exit_day") < 0, n_days, ledger.column("exit_day"))
    order = np.lexsort((ledger.column("symbol"), exit_day, sets))
    lost = pnl[order] < 0
    where = np.arange(lost.size)
    first = np.zeros(lost.size, dtype=bool)
    first[np.searchsorted(sets[order], np.flatnonzero(count))] = True
    reset = np.where(~lost, where, np.where(first, where - 1, -1))
    streak = np.where(lost, where - np.maximum.accumulate(reset), 0)
    longest = np.zeros(n_sets, dtype=np.int64)
    np.maximum.at(longest, sets[order], streak)
    out: list[dict[str, float | None]] = []
    for g in range(n_sets):
        n = int(count[g])
        out.append(
            {
                "win_rate": float(wins[g] / n) if n else None,
                "profit_factor": float(gains[g] / losses[g]) if losses[g] > 0 else None,
                "avg_trade_return": float(returns[g] / n) if n else None,
                "max_consecutive_losses": int(longest[g]),
            }
        )
    return out
