"""Rules-based indices: weights set on a rebalancing calendar, drifting in between.

Calendar: the index starts (level 100) on the first date on which the weighting rule has
``lookback_days`` daily returns for at least one symbol (at once for ``equal``), and
rebalances at the close of the last trading day of each week / month / quarter. Weights
set at the close of day t apply from t to t+1 onward (no look-ahead); between
rebalances each holding drifts with its price (buy and hold). Fees: ``fees_bps`` of the
traded notional (sum |w_target - w_drifted| x level) at each rebalance, inception included.

Eligible symbols at a rebalance: a price on that day and, for the rules that use history,
``lookback_days`` returns before it. A holding whose prices stop is carried at its last
price (a zero return) until the next rebalance drops it.

Weighting rules (on the eligible symbols, from the lookback window's daily returns):

- ``equal``: 1/k.
- ``inverse_volatility``: proportional to 1 / std (ddof 1).
- ``risk_parity``: equal risk contributions w_i (S w)_i = w'Sw / k, S the sample
  covariance, by cyclical coordinate descent on the convex problem
  min 1/2 y'Sy - (1/k) sum log y_i (Griveau-Billion, Richard & Roncalli, 2013), w = y / sum y.
- ``min_variance``: long-only minimum variance (``quantrun.models.portfolio``).
- ``momentum``: equal weights on the ``top_n`` symbols with the highest lookback return
  (default: half the eligible symbols, rounded up).

Turnover is the average annual one-way turnover: half the sum of |w_target - w_drifted|
over rebalances after inception, per year.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quantrun.domain.errors import ModelInputError
from quantrun.models.history import fill_interior_gaps
from quantrun.models.portfolio import Constraints, min_variance

PERIODS = 252
START_LEVEL = 100.0


def rebalance_flags(dates: np.ndarray, frequency: str) -> np.ndarray:
    """True on the last trading day of each calendar period (and the last date)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    if frequency == "weekly":
        # numpy weeks start on Thursday (epoch); shift so weeks run Monday..Sunday
        key = ((d - np.datetime64("1970-01-05")).astype(int)) // 7
    elif frequency == "monthly":
        key = d.astype("datetime64[M]").astype(int)
    elif frequency == "quarterly":
        key = d.astype("datetime64[M]").astype(int) // 3
    else:
        raise ValueError(f"unknown rebalance frequency {frequency!r}")
    flags = np.zeros(d.size, dtype=bool)
    flags[:-1] = key[1:] != key[:-1]
    flags[-1] = True
    return flags


def risk_parity_weights(cov: np.ndarray, tol: float = 1e-12, max_iter: int = 10_000) -> np.ndarray:
    k = cov.shape[0]
    b = np.full(k, 1.0 / k)
    diag = np.diag(cov).copy()
    y = 1.0 / np.sqrt(np.maximum(diag, 1e-300))
    for _ in range(max_iter):
        previous = y.copy()
        for i in range(k):
            off = float(cov[i] @ y) - diag[i] * y[i]
            y[i] = (-off + math.sqrt(off * off + 4.0 * diag[i] * b[i])) / (2.0 * diag[i])
        if np.max(np.abs(y - previous) / np.maximum(y, 1e-300)) < tol:
            break
    out: np.ndarray = y / y.sum()
    return out


def target_weights(rule: str, window: np.ndarray, top_n: int | None) -> np.ndarray:
    """Weights for the eligible symbols from their lookback window of prices (L+1, k)."""
    k = window.shape[1]
    if rule == "equal":
        return np.full(k, 1.0 / k)
    returns = window[1:] / window[:-1] - 1.0
    if rule == "inverse_volatility":
        inv = 1.0 / np.maximum(returns.std(axis=0, ddof=1), 1e-12)
        weights: np.ndarray = inv / inv.sum()
        return weights
    if rule == "risk_parity":
        cov = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1))
        return risk_parity_weights(cov + 1e-14 * np.eye(k))
    if rule == "min_variance":
        cov = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)) * PERIODS
        return min_variance(cov, Constraints(np.zeros(k), np.ones(k)))
    if rule == "momentum":
        n = top_n if top_n is not None else math.ceil(k / 2)
        trailing = window[-1] / window[0] - 1.0
        chosen = np.argsort(-trailing, kind="stable")[: min(n, k)]
        w = np.zeros(k)
        w[chosen] = 1.0 / chosen.size
        return w
    raise ValueError(f"unknown weighting {rule!r}")


@dataclass(frozen=True)
class IndexResult:
    dates: np.ndarray  # from inception
    levels: np.ndarray
    rebalance_dates: list[np.datetime64]
    weights: list[np.ndarray]  # target weights (all symbols) at each rebalance
    turnover: float
    fees_paid: float  # in index points


def build_index(
    dates: np.ndarray,
    close: np.ndarray,
    symbols: list[str],
    *,
    weighting: str,
    rebalance: str,
    lookback_days: int,
    top_n: int | None,
    fees_bps: float,
    checkpoint: Callable[[float], None] = lambda _f: None,
) -> IndexResult:
    filled, _ = fill_interior_gaps(close)
    observed = ~np.isnan(filled)
    carried = filled.copy()  # prices carried past the last one, for drifting holdings
    for j in range(carried.shape[1]):
        col = carried[:, j]
        idx = np.where(~np.isnan(col), np.arange(col.size), 0)
        np.maximum.accumulate(idx, out=idx)
        carried[:, j] = np.where(np.arange(col.size) >= idx.min(), col[idx], np.nan)
    need = 0 if weighting == "equal" else lookback_days
    t_len = filled.shape[0]
    history_ok = np.zeros_like(observed)
    if need == 0:
        history_ok = observed
    else:
        window_complete = np.lib.stride_tricks.sliding_window_view(observed, need + 1, axis=0)
        history_ok[need:] = window_complete.all(axis=-1)
    eligible_any = history_ok.any(axis=1)
    if not eligible_any.any():
        raise ModelInputError(
            f"no symbol has {lookback_days} days of history in the window; lengthen the "
            "window or shorten lookback_days",
            code="insufficient_history",
            field="params.lookback_days",
        )
    inception = int(np.argmax(eligible_any))
    flags = rebalance_flags(dates, rebalance)
    flags[inception] = True
    cost = fees_bps / 10_000.0
    level = np.full(t_len, np.nan)
    level[inception] = START_LEVEL
    holdings = np.zeros(filled.shape[1])  # units held of each symbol
    rebal_dates: list[np.datetime64] = []
    weights_hist: list[np.ndarray] = []
    one_way = 0.0
    fees = 0.0
    points = np.flatnonzero(flags[inception:]) + inception
    for n, t in enumerate(points):
        if t > inception:
            level[t] = float(np.nansum(holdings * carried[t]))
        current = level[t]
        value_now = np.where(np.isnan(carried[t]), 0.0, holdings * np.nan_to_num(carried[t]))
        drifted = value_now / current if current > 0 else np.zeros_like(value_now)
        if t == t_len - 1 and t > inception:
            break  # the last date closes the series; no new weights after it
        cols = np.flatnonzero(history_ok[t])
        target = np.zeros(filled.shape[1])
        if cols.size:
            window = filled[t - need : t + 1, cols]
            target[cols] = target_weights(weighting, window, top_n)
        trade = float(np.abs(target - drifted).sum())
        fee = cost * trade * current
        fees += fee
        if t > inception:
            one_way += 0.5 * trade
        current -= fee
        level[t] = current
        holdings = np.where(
            target > 0, target * current / np.where(np.isnan(carried[t]), 1.0, carried[t]), 0.0
        )
        rebal_dates.append(np.datetime64(dates[t], "D"))
        weights_hist.append(target)
        nxt = points[n + 1] if n + 1 < points.size else t_len - 1
        segment = slice(t + 1, nxt + 1)
        level[segment] = np.nansum(holdings[None, :] * carried[segment], axis=1)
        checkpoint((n + 1) / points.size)
    years = max(t_len - 1 - inception, 1) / PERIODS
    return IndexResult(
        dates=np.asarray(dates)[inception:],
        levels=level[inception:],
        rebalance_dates=rebal_dates,
        weights=weights_hist,
        turnover=one_way / years,
        fees_paid=fees,
    )
