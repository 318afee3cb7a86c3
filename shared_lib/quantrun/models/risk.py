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


def series_metrics(
    returns: np.ndarray, benchmark: np.ndarray | None, *, risk_free_rate: float = 0.0
) -> SeriesMetrics:
    """All metrics of one return series (1-D) against a benchmark on the same dates."""
    r = np.asarray(returns, dtype=np.float64)
    n = r.size
    if n < 2:
        raise ValueError("need at least two returns")
    rf = risk_free_rate / PERIODS
    excess = r - rf
    growth = float(np.prod(1.0 + r))
    cagr = growth ** (PERIODS / n) - 1.0 if growth > 0 else -1.0
    std = float(np.std(r, ddof=1))
    ex_std = float(np.std(excess, ddof=1))
    mean_ex = float(np.mean(excess))
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    mdd = float(np.min(drawdown_curve(r)))
    q05 = float(np.quantile(r, 0.05))
    tail = r[r <= q05]
    beta = alpha = None
    if benchmark is not None:
        b = np.asarray(benchmark, dtype=np.float64)
        var_b = float(np.var(b, ddof=1))
        if var_b > ZERO_STD**2:
            beta_v = float(np.cov(r, b, ddof=1)[0, 1]) / var_b
            beta = beta_v
            alpha = (mean_ex - beta_v * float(np.mean(b - rf))) * PERIODS
    return SeriesMetrics(
        observations=n,
        cagr=_finite(cagr),
        annual_volatility=_finite(std * math.sqrt(PERIODS)),
        sharpe=_finite(mean_ex / ex_std * math.sqrt(PERIODS)) if ex_std > ZERO_STD else None,
        sortino=_finite(mean_ex / downside * math.sqrt(PERIODS)) if downside > ZERO_STD else None,
        max_drawdown=mdd,
        calmar=_finite(cagr / abs(mdd)) if mdd < 0 else None,
        beta=beta,
        alpha=alpha,
        var_95=-q05,
        cvar_95=-float(np.mean(tail)),
        total_return=growth - 1.0,
    )
