"""Compiled inner loops (numba: nopython, no GIL, cached on disk), where numpy's
whole-array passes cost more in memory traffic than the arithmetic.

Each kernel has a numpy twin elsewhere in ``quantrun.models`` written from the
definition; the tests hold every kernel to its twin (and the twins to per-day loops and
textbook values). Kernels release the GIL, so callers parallelise by splitting the work
across threads (`run_split`); no numba threading layer is involved, which keeps them
safe to call from several worker threads at once.

Cold start: compiling all kernels takes about half a minute of one core, once; the
compiled code is cached next to this file (``__pycache__``, or ``NUMBA_CACHE_DIR``); the
service images warm it at build time and ``make test`` before its test processes start
(`warm`, through ``python -m quantrun.models.kernels``).

By technique: ``options`` (Black-Scholes, implied volatility), ``statistics`` (risk
statistics per series), ``sleeves`` (backtest positions), ``ledger`` (sleeves trade by
trade: stops, sizing, round trips); ``parallel`` splits work over threads. Everything
is re-exported here: callers write ``kernels.black_scholes``.
"""

from __future__ import annotations

import numpy as np

from quantrun.models.kernels import ledger
from quantrun.models.kernels.options import black_scholes, flat_options, implied_volatility
from quantrun.models.kernels.parallel import map_blocks, run_split
from quantrun.models.kernels.sleeves import FAST, simulate_positions, simulate_sma_cross
from quantrun.models.kernels.statistics import (
    COV,
    DOWNSIDE,
    GROWTH,
    MAX_DRAWDOWN,
    MEAN,
    QUANTILE,
    STD,
    TAIL_MEAN,
    series_moments,
    series_tails,
)

__all__ = [
    "COV",
    "DOWNSIDE",
    "FAST",
    "GROWTH",
    "MAX_DRAWDOWN",
    "MEAN",
    "QUANTILE",
    "STD",
    "TAIL_MEAN",
    "black_scholes",
    "flat_options",
    "implied_volatility",
    "ledger",
    "map_blocks",
    "run_split",
    "series_moments",
    "series_tails",
    "simulate_positions",
    "simulate_sma_cross",
    "warm",
]


def warm() -> None:
    """Compile (or load from the cache) every kernel on tiny inputs, in the array
    layouts the callers pass: contiguous, and the column slices of a split over threads."""
    days, sym = 3, 2
    live = np.ones((days, sym), dtype=np.bool_)
    returns = np.zeros((days, sym))
    out = np.empty((1, days)), np.empty(1), np.empty(1)
    simulate_positions(np.ones((1, days, sym), dtype=np.bool_), live, returns, 0.0, 1.0, *out)
    simulate_sma_cross(
        np.ones((days, sym)),
        np.ones((days, sym), dtype=np.int64),
        returns,
        np.array([1], dtype=np.int64),
        np.array([2], dtype=np.int64),
        0.0,
        1.0,
        *out,
    )
    positions = np.ones((1, days, sym), dtype=np.bool_)
    ledger.sma_positions(np.ones((days, sym)), np.ones((days, sym), dtype=np.int64),
                         np.array([1], dtype=np.int64), np.array([2], dtype=np.int64),
                         np.empty((1, days, sym), dtype=np.bool_))  # fmt: skip
    for record in (False, True):
        ints, floats = ledger.empty_ledger(sym)
        ledger.trade_sleeves(positions, live, np.ones((days, sym)), returns, np.ones((days, sym)),
                             0.1, 0.0, 0.0, 1.0, 0, *out, np.zeros(1, dtype=np.int64),
                             np.zeros(1, dtype=np.int64), sym, ints, floats, record)  # fmt: skip
    one = np.ones(1)
    for greeks_out in (np.empty((6, 1)), np.empty((6, 2))[:, :1]):
        black_scholes(np.ones(1, dtype=np.bool_), one, one, one, one * 0.0, one, one * 0.0,
                      True, greeks_out)  # fmt: skip
    implied_volatility(np.ones(1, dtype=np.bool_), one * 0.1, one, one, one, one * 0.0,
                       one * 0.0, 10.0, 100, np.empty(1), np.empty(1, dtype=np.int8),
                       np.empty(1, dtype=np.int64))  # fmt: skip
    # contiguous only: a thread's columns are copied before these run (models/risk.py)
    table = np.empty((8, sym))
    series_moments(np.zeros((days, sym)), np.zeros(days), 0.0, table)
    series_tails(np.zeros((days, sym)), 0, 1, 0.5, table)
