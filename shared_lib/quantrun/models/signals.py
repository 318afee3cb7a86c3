"""Indicators and the long/flat signals of the backtest's strategies, computed from the
close of each day (a signal of day t is known at t's close: no look-ahead).

Signals (1 = long, 0 = flat), with P the adjusted close of the symbol:

- ``sma_cross`` {fast, slow}: SMA_fast(P) > SMA_slow(P); warm-up ``slow`` prices.
- ``rsi`` {period, lower, upper}: Wilder-style RSI = 100 - 100 / (1 + G/L), G and L the
  exponential averages (alpha = 1/period, seeded with the first change) of gains and
  losses; enter when RSI < lower, exit when RSI > upper, otherwise hold; warm-up
  ``period`` changes.
- ``macd`` {fast, slow, signal}: MACD = EMA_fast(P) - EMA_slow(P) (alpha = 2/(span+1),
  seeded with the first price), long while MACD > EMA_signal(MACD); warm-up
  ``slow + signal - 1`` prices.
- ``momentum`` {lookback, top_n}: long the ``top_n`` symbols with the highest trailing
  return P_t / P_{t-lookback} - 1 (ties: earlier symbol first); warm-up ``lookback``.

Prices are prepared as ``quantrun.models.history`` says (interior gaps carried forward);
a symbol is flat before its first and after its last price. The backtest engine
(``quantrun.models.backtest``) turns these signals into positions and equity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prepared:
    """Prices with leading/trailing gaps filled flat, plus where each symbol is live."""

    filled: np.ndarray  # (T, N) no NaN
    live: np.ndarray  # (T, N) bool: the symbol has a real (or carried) price
    returns: np.ndarray  # (T, N) r_t, 0 where not live or at t = 0
    age: np.ndarray  # (T, N) prices seen so far (1 on the first), 0 before listing


def prepare(close: np.ndarray) -> Prepared:
    from quantrun.models.history import fill_interior_gaps

    filled, _ = fill_interior_gaps(close)
    live = ~np.isnan(filled)
    if not live.any(axis=0).all():
        raise ValueError("every symbol needs at least one price")
    t = np.arange(filled.shape[0])[:, None]
    first = np.argmax(live, axis=0)
    last = filled.shape[0] - 1 - np.argmax(live[::-1], axis=0)
    before = t < first
    out = filled.copy()
    out = np.where(before, filled[first, np.arange(filled.shape[1])], out)
    out = np.where(t > last, filled[last, np.arange(filled.shape[1])], out)
    returns = np.zeros_like(out)
    both = live[1:] & live[:-1]
    returns[1:] = np.where(both, out[1:] / out[:-1] - 1.0, 0.0)
    age = np.where(live, t - first + 1, 0)
    return Prepared(filled=out, live=live, returns=returns, age=age)


def ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """y_0 = x_0, y_t = alpha x_t + (1 - alpha) y_{t-1}, along axis 0."""
    # imported here: scipy.signal's import costs ~1.4 s of CPU, which every process that
    # imports the catalog (the API, each worker) paid at start for the EMA strategies alone
    from scipy.signal import lfilter

    zi = (1.0 - alpha) * x[:1]
    y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x, axis=0, zi=zi)
    return np.asarray(y)


def sma(x: np.ndarray, window: int) -> np.ndarray:
    """Rolling mean over ``window`` rows (the first window-1 rows average what exists)."""
    c = np.cumsum(x, axis=0)
    out = c.copy()
    out[window:] = c[window:] - c[:-window]
    counts = np.minimum(np.arange(1, x.shape[0] + 1), window)[:, None]
    return out / counts


def rsi(prepared: Prepared, period: int) -> np.ndarray:
    p = prepared.filled
    change = np.zeros_like(p)
    change[1:] = p[1:] - p[:-1]
    gain, loss = np.maximum(change, 0.0), np.maximum(-change, 0.0)
    g, l_ = _ema_from(gain, prepared.age, 1.0 / period), _ema_from(loss, prepared.age, 1.0 / period)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(l_ == 0, np.where(g == 0, 50.0, 100.0), 100.0 - 100.0 / (1.0 + g / l_))
    return np.asarray(out)


def _ema_from(x: np.ndarray, age: np.ndarray, alpha: float) -> np.ndarray:
    """EMA of price changes seeded at each symbol's first change (age 2)."""
    seeded = np.where(age >= 2, x, 0.0)
    out = np.empty_like(seeded)
    for j in range(x.shape[1]):
        start = int(np.argmax(age[:, j] >= 2)) if (age[:, j] >= 2).any() else x.shape[0]
        out[:start, j] = 0.0
        if start < x.shape[0]:
            out[start:, j] = ema(seeded[start:, j : j + 1], alpha)[:, 0]
    return out


def signals_sma(prepared: Prepared, fast: int, slow: int) -> np.ndarray:
    p = prepared.filled
    return (sma(p, fast) > sma(p, slow)) & (prepared.age >= slow)


def signals_macd(prepared: Prepared, fast: int, slow: int, signal: int) -> np.ndarray:
    p = prepared.filled
    macd = ema(p, 2.0 / (fast + 1)) - ema(p, 2.0 / (slow + 1))
    line = ema(macd, 2.0 / (signal + 1))
    out: np.ndarray = (macd > line) & (prepared.age >= slow + signal - 1)
    return out


def signals_rsi(prepared: Prepared, period: int, lower: float, upper: float) -> np.ndarray:
    value = rsi(prepared, period)
    ready = prepared.age >= period + 1
    event = np.where(ready & (value < lower), 1.0, np.where(ready & (value > upper), 0.0, np.nan))
    event[0] = np.where(np.isnan(event[0]), 0.0, event[0])
    idx = np.where(~np.isnan(event), np.arange(event.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    held = event[idx, np.arange(event.shape[1])]
    out: np.ndarray = (held > 0.5) & prepared.live
    return out


def signals_momentum(prepared: Prepared, lookback: int, top_n: int) -> np.ndarray:
    p = prepared.filled
    trailing = np.full_like(p, -np.inf)
    trailing[lookback:] = p[lookback:] / p[:-lookback] - 1.0
    trailing = np.where((prepared.age > lookback) & prepared.live, trailing, -np.inf)
    # rank by descending trailing return; a stable sort keeps earlier symbols first on ties
    order = np.argsort(-trailing, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(p.shape[1])[None, :], axis=1)
    out: np.ndarray = (ranks < top_n) & np.isfinite(trailing)
    return out


def indicators(
    strategy: str, prepared: Prepared, params: dict[str, float]
) -> dict[str, np.ndarray]:
    """The values each rule compares, (T, N) per name, as its signal function computes
    them (the signals endpoint shows them beside the signal)."""
    p = prepared.filled
    if strategy == "sma_cross":
        return {"sma_fast": sma(p, int(params["fast"])), "sma_slow": sma(p, int(params["slow"]))}
    if strategy == "rsi":
        return {"rsi": rsi(prepared, int(params["period"]))}
    if strategy == "macd":
        macd = ema(p, 2.0 / (params["fast"] + 1)) - ema(p, 2.0 / (params["slow"] + 1))
        return {"macd": macd, "signal_line": ema(macd, 2.0 / (params["signal"] + 1))}
    lookback = int(params["lookback"])
    trailing = np.full_like(p, np.nan)
    trailing[lookback:] = p[lookback:] / p[:-lookback] - 1.0
    return {"trailing_return": trailing}
