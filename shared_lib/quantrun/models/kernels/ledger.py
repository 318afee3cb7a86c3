"""Backtest sleeves one trade at a time: stops, sizing and the trade ledger.

The vectorised sleeves (``sleeves.py``) multiply whole sleeves through their returns;
a sleeve that holds only part of its value (volatility-target sizing) or leaves a trade
on its price (stop-loss, take-profit) needs its cash and its holding apart, and the
ledger needs each round trip's entry and exit. This kernel walks each sleeve day by day
(``quantrun.models.ledger`` states the rules) and writes each set's trades from the
offset its caller gives it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# exit_reason codes (``quantrun.models.ledger.REASONS``)
SIGNAL, STOP_LOSS, TAKE_PROFIT, END = 0, 1, 2, 3
# trade fields, the rows of ``floats``: entry price, exit price, quantity, pnl, return
ENTRY_PRICE, EXIT_PRICE, QUANTITY, PNL, RETURN = 0, 1, 2, 3, 4
# the rows of ``ints``: set, symbol, entry day, exit day (-1: open at the end), reason
SET, SYMBOL, ENTRY_DAY, EXIT_DAY, REASON = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def trade_sleeves(  # type: ignore[no-untyped-def]
    positions,
    live,
    prices,
    returns,
    weights,
    stop_loss,
    take_profit,
    cost,
    cash,
    first_set,
    equity,
    changes,
    traded,
    counts,
    offsets,
    room,
    ints,
    floats,
    record,
):
    """Sleeves of the sets in ``positions`` (G, N, T): writes equity (G, T), position
    changes (G,), traded notional (G,) and trades per set (``counts``); with ``record``,
    each trade of set g at ``offsets[g]`` onward in ``ints`` (5, M) and ``floats`` (5, M),
    the first ``room`` of them (``counts`` says whether all fitted).
    ``live``, ``prices``, ``returns`` and ``weights`` are (N, T): each symbol's days in a
    row, as the loop reads them. ``weights`` is the share of a sleeve a trade entering
    that day invests (NaN:
    no entry); ``stop_loss``/``take_profit`` are fractions of the entry price (<= 0: off).
    Set numbers in the ledger start at ``first_set``."""
    n_grid, n_sym, n_days = positions.shape
    for g in range(n_grid):
        equity[g, :] = 0.0
        n_changes, notional, n_trades = 0.0, 0.0, 0
        at = offsets[g] if record else 0
        end = at + room
        for j in range(n_sym):
            free = cash / n_sym  # the sleeve's cash
            held = 0.0  # the market value of its holding
            holding, blocked = False, False
            before = entry_notional = entry_price = quantity = 0.0
            entry_day = 0
            for t in range(n_days):
                if holding and t > 0:
                    held *= 1.0 + returns[j, t]
                value = free + held
                signal = positions[g, j, t] and live[j, t]
                if blocked and not signal:
                    blocked = False  # the rule went flat: a later BUY may enter again
                want = signal and not blocked
                reason = SIGNAL
                if holding:
                    price = prices[j, t]
                    if stop_loss > 0 and price <= entry_price * (1.0 - stop_loss):
                        want, reason, blocked = False, STOP_LOSS, signal
                    elif take_profit > 0 and price >= entry_price * (1.0 + take_profit):
                        want, reason, blocked = False, TAKE_PROFIT, signal
                if want and not holding:
                    share = weights[j, t]
                    if not (share > 0.0):  # NaN too: not enough history to size it
                        want = False
                    else:
                        before, entry_day, entry_price = value, t, prices[j, t]
                        entry_notional = share * value
                        free = value - entry_notional
                        held = entry_notional * (1.0 - cost)
                        quantity = held / entry_price
                        n_changes += 1.0
                        notional += entry_notional
                        holding = True
                elif holding and not want:
                    n_changes += 1.0
                    notional += held
                    free += held * (1.0 - cost)
                    held = 0.0
                    holding = False
                    if record and at < end:
                        _write(ints, floats, at, first_set + g, j, entry_day, t, reason,
                               entry_price, prices[j, t], quantity, free - before,
                               entry_notional)  # fmt: skip
                    at += 1
                    n_trades += 1
                equity[g, t] += free + held
            if holding:  # open at the end: marked at the last close
                if record and at < end:
                    _write(ints, floats, at, first_set + g, j, entry_day, -1, END,
                           entry_price, prices[j, n_days - 1], quantity,
                           free + held - before, entry_notional)  # fmt: skip
                at += 1
                n_trades += 1
        changes[g] = n_changes
        traded[g] = notional
        counts[g] = n_trades


@njit(inline="always")
def _write(  # type: ignore[no-untyped-def]
    ints, floats, at, set_no, symbol, entry_day, exit_day, reason, entry_price, exit_price,
    quantity, pnl, entry_notional,
):  # fmt: skip
    ints[SET, at], ints[SYMBOL, at] = set_no, symbol
    ints[ENTRY_DAY, at], ints[EXIT_DAY, at], ints[REASON, at] = entry_day, exit_day, reason
    floats[ENTRY_PRICE, at], floats[EXIT_PRICE, at] = entry_price, exit_price
    floats[QUANTITY, at], floats[PNL, at] = quantity, pnl
    floats[RETURN, at] = pnl / entry_notional if entry_notional > 0 else math.nan


@njit(cache=True, nogil=True)
def sma_positions(csum, age, fast, slow, out):  # type: ignore[no-untyped-def]
    """The sma_cross rule's positions (G, T, N) as ``sleeves.simulate_sma_cross`` takes
    them (window sums cross-multiplied, long once ``slow`` prices exist)."""
    n_days, n_sym = csum.shape
    for g in range(fast.size):
        f, s = fast[g], slow[g]
        for t in range(n_days):
            len_f = float(f) if t >= f else float(t + 1)
            len_s = float(s) if t >= s else float(t + 1)
            for j in range(n_sym):
                sum_f = csum[t, j] - (csum[t - f, j] if t >= f else 0.0)
                sum_s = csum[t, j] - (csum[t - s, j] if t >= s else 0.0)
                out[g, t, j] = sum_f * len_s > sum_s * len_f and age[t, j] >= s


def empty_ledger(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((5, size), dtype=np.int64), np.empty((5, size))
