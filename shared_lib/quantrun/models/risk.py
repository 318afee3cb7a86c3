"""Performance and risk metrics of daily return series against a benchmark.

Definitions (r: simple daily returns, n of them; rf: annual risk-free rate, rf/252 a day;
e = r - rf/252 the excess returns; 252 periods a year):

- ``cagr`` = (prod(1 + r))^(252 / n) - 1
- ``annual_volatility`` = std(r, ddof=1) * sqrt(252)
- ``sharpe`` = mean(e) / std(e, ddof=1) * sqrt(252)
- ``sortino`` = mean(e) / sqrt(mean(min(e, 0)^2)) * sqrt(252)   (with rf = 0, e = r)
- ``max_drawdown`` = min(equity / running peak - 1), the equity curve starting at 1.0
  *before* the first return (a loss on day one is a drawdown); a negative number or 0
- ``calmar`` = cagr / |max_drawdown| (null when there was no drawdown)
- ``beta`` = cov(r, b) / var(b) (ddof 1), b the benchmark's returns on the same dates
- ``alpha`` = (mean(e) - beta * mean(e_b)) * 252, annualised arithmetically
- ``var_95`` = -q_5%(r), ``cvar_95`` = -mean(r | r <= q_5%(r)): daily, historical,
  positive fractions of value (numpy's linear quantile interpolation)

Undefined values (zero volatility, no downside, a constant benchmark) are returned as
None, never NaN.
Series are aligned with the benchmark per ``quantrun.models.history``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PERIODS = 252
# A daily standard deviation below this is rounding noise of a constant series.
ZERO_STD = 1e-12


def equity_curve(returns: np.ndarray) -> np.ndarray:
    """Equity starting at 1.0 before the first return; length n + 1 along axis 0."""
    r = np.asarray(returns, dtype=np.float64)
    ones = np.ones((1, *r.shape[1:]))
    return np.concatenate([ones, np.cumprod(1.0 + r, axis=0)], axis=0)


def drawdown_curve(returns: np.ndarray) -> np.ndarray:
    equity = equity_curve(returns)
    return equity / np.maximum.accumulate(equity, axis=0) - 1.0


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class SeriesMetrics:
    observations: int
    cagr: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    calmar: float | None
    beta: float | None
    alpha: float | None
    var_95: float
    cvar_95: float
    total_return: float


def metrics_matrix(
    returns: np.ndarray, benchmark: np.ndarray | None, *, risk_free_rate: float = 0.0
) -> list[SeriesMetrics]:
    """All metrics of k return series on the same dates (columns of an (n, k) matrix)
    against one benchmark (n,), vectorised across the series."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    n, k = r.shape
    if n < 2:
        raise ValueError("need at least two returns")
    # One series per row, contiguous: reductions and accumulations along the fast axis.
    rows = np.ascontiguousarray(r.T)
    rf = risk_free_rate / PERIODS
    excess = rows - rf
    equity = np.cumprod(1.0 + rows, axis=1)
    growth = equity[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        cagr = np.where(growth > 0, np.abs(growth) ** (PERIODS / n) - 1.0, -1.0)
    std = rows.std(axis=1, ddof=1)
    ex_std = excess.std(axis=1, ddof=1)
    mean_ex = excess.mean(axis=1)
    downside = np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2, axis=1))
    # the curve starts at 1.0 before the first return, so the running peak is at least 1
    peak = np.maximum(np.maximum.accumulate(equity, axis=1), 1.0)
    mdd = np.minimum((equity / peak - 1.0).min(axis=1), 0.0)
    # numpy's linear quantile: interpolate between two order statistics (partition, no sort)
    pos = 0.05 * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    part = np.partition(rows, [lo, hi], axis=1)
    q05 = part[:, lo] + (pos - lo) * (part[:, hi] - part[:, lo])
    in_tail = rows <= q05[:, None]
    cvar = -np.where(in_tail, rows, 0.0).sum(axis=1) / in_tail.sum(axis=1)
    beta = alpha = np.full(k, np.nan)
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        var_b = float(b.var(ddof=1))
        if var_b > ZERO_STD**2:
            cov = (rows - rows.mean(axis=1)[:, None]) @ (b - b.mean()) / (n - 1)
            beta = cov / var_b
            alpha = (mean_ex - beta * float(np.mean(b - rf))) * PERIODS
    root = math.sqrt(PERIODS)
    out = []
    for j in range(k):
        out.append(
            SeriesMetrics(
                observations=n,
                cagr=_finite(cagr[j]),
                annual_volatility=_finite(std[j] * root),
                sharpe=_finite(mean_ex[j] / ex_std[j] * root) if ex_std[j] > ZERO_STD else None,
                sortino=_finite(mean_ex[j] / downside[j] * root)
                if downside[j] > ZERO_STD
                else None,
                max_drawdown=float(mdd[j]),
                calmar=_finite(cagr[j] / abs(mdd[j])) if mdd[j] < 0 else None,
                beta=_finite(beta[j]),
                alpha=_finite(alpha[j]),
                var_95=-float(q05[j]),
                cvar_95=float(cvar[j]),
                total_return=float(growth[j] - 1.0),
            )
        )
    return out


def series_metrics(
    returns: np.ndarray, benchmark: np.ndarray | None, *, risk_free_rate: float = 0.0
) -> SeriesMetrics:
    """All metrics of one return series (1-D) against a benchmark on the same dates."""
    return metrics_matrix(
        np.asarray(returns, dtype=np.float64)[:, None], benchmark, risk_free_rate=risk_free_rate
    )[0]
