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

from quantrun.models import kernels

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


@dataclass  # not frozen: a frozen dataclass's __init__ costs 8x (metrics_matrix makes 1000s)
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


def statistics_numpy(returns: np.ndarray, benchmark: np.ndarray | None, rf: float) -> np.ndarray:
    """The per-series statistics table of ``kernels.series_moments``/``series_tails``
    (rows MEAN .. COV, one column per series) in numpy, from the definitions above: the
    compiled kernels' twin, held to it by the tests."""
    rows = np.ascontiguousarray(np.asarray(returns, dtype=np.float64).T)
    k, n = rows.shape
    out = np.zeros((8, k))
    out[kernels.MEAN] = rows.mean(axis=1)
    out[kernels.STD] = rows.std(axis=1, ddof=1)
    out[kernels.DOWNSIDE] = np.sqrt(np.mean(np.minimum(rows - rf, 0.0) ** 2, axis=1))
    equity = np.cumprod(1.0 + rows, axis=1)
    out[kernels.GROWTH] = equity[:, -1]
    # the curve starts at 1.0 before the first return, so the running peak is at least 1
    peak = np.maximum(np.maximum.accumulate(equity, axis=1), 1.0)
    out[kernels.MAX_DRAWDOWN] = np.minimum((equity / peak - 1.0).min(axis=1), 0.0)
    lo, hi, frac = _quantile_position(n)
    part = np.partition(rows, [lo, hi], axis=1)
    q05 = part[:, lo] + frac * (part[:, hi] - part[:, lo])
    in_tail = rows <= q05[:, None]
    out[kernels.QUANTILE] = q05
    out[kernels.TAIL_MEAN] = np.where(in_tail, rows, 0.0).sum(axis=1) / in_tail.sum(axis=1)
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        out[kernels.COV] = (rows - rows.mean(axis=1)[:, None]) @ (b - b.mean()) / (n - 1)
    return out


def _quantile_position(n: int) -> tuple[int, int, float]:
    """numpy's linear quantile at 5%: between order statistics lo and hi."""
    pos = 0.05 * (n - 1)
    lo = math.floor(pos)
    return lo, min(lo + 1, n - 1), pos - lo


def statistics_compiled(
    returns: np.ndarray, benchmark: np.ndarray | None, rf: float, threads: int = 1
) -> np.ndarray:
    r = np.ascontiguousarray(returns, dtype=np.float64)
    n, k = r.shape
    b = np.zeros(0) if benchmark is None else np.asarray(benchmark, dtype=np.float64)
    out = np.zeros((8, k))
    lo, hi, frac = _quantile_position(n)

    def part(a: int, z: int) -> None:
        block = np.empty((8, z - a))
        # a thread's columns copied contiguous first: on a column slice (numba's "A"
        # layout, stride unknown) the moments' loop does not vectorise and took 3.4x as
        # long, more than the copy's pass
        columns = r if (a, z) == (0, k) else np.ascontiguousarray(r[:, a:z])
        kernels.series_moments(columns, b, rf, block)
        kernels.series_tails(columns, lo, hi, frac, block)
        out[:, a:z] = block

    kernels.run_split(part, k, threads)
    return out


def metrics_matrix(
    returns: np.ndarray,
    benchmark: np.ndarray | None,
    *,
    risk_free_rate: float = 0.0,
    threads: int = 1,
) -> list[SeriesMetrics]:
    """All metrics of k return series on the same dates (columns of an (n, k) matrix)
    against one benchmark (n,), the per-series statistics from compiled kernels
    (``quantrun.models.kernels``; `statistics_numpy` is their twin) split over
    ``threads``."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    n, k = r.shape
    if n < 2:
        raise ValueError("need at least two returns")
    rf = risk_free_rate / PERIODS
    stats = statistics_compiled(r, benchmark, rf, threads)
    growth = stats[kernels.GROWTH]
    with np.errstate(invalid="ignore", divide="ignore"):
        cagr = np.where(growth > 0, np.abs(growth) ** (PERIODS / n) - 1.0, -1.0)
    std = stats[kernels.STD]  # the excess returns' too: a constant shift
    mean_ex = stats[kernels.MEAN] - rf
    downside = stats[kernels.DOWNSIDE]
    mdd = stats[kernels.MAX_DRAWDOWN]
    beta = alpha = np.full(k, np.nan)
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        var_b = float(b.var(ddof=1))
        if var_b > ZERO_STD**2:
            beta = stats[kernels.COV] / var_b
            alpha = (mean_ex - beta * float(np.mean(b - rf))) * PERIODS
    root = math.sqrt(PERIODS)
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = np.where(std > ZERO_STD, mean_ex / std * root, np.nan)
        sortino = np.where(downside > ZERO_STD, mean_ex / downside * root, np.nan)
        calmar = np.where(mdd < 0, cagr / np.abs(mdd), np.nan)
    columns = zip(
        _finites(cagr), _finites(std * root), _finites(sharpe), _finites(sortino),
        mdd.tolist(), _finites(calmar), _finites(beta), _finites(alpha),
        (-stats[kernels.QUANTILE]).tolist(), (-stats[kernels.TAIL_MEAN]).tolist(),
        (growth - 1.0).tolist(), strict=True,
    )  # fmt: skip
    return [SeriesMetrics(n, *row) for row in columns]


def _finites(values: np.ndarray) -> list[float | None]:
    """``_finite`` of each value (None for NaN and infinities)."""
    return [x if f else None for x, f in zip(values.tolist(), np.isfinite(values).tolist(),
                                             strict=True)]  # fmt: skip


def series_metrics(
    returns: np.ndarray, benchmark: np.ndarray | None, *, risk_free_rate: float = 0.0
) -> SeriesMetrics:
    """All metrics of one return series (1-D) against a benchmark on the same dates."""
    return metrics_matrix(
        np.asarray(returns, dtype=np.float64)[:, None], benchmark, risk_free_rate=risk_free_rate
    )[0]
