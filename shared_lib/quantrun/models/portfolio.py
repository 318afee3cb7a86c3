"""Mean-variance (Markowitz) portfolio optimisation, long-only or bounded.

Conventions: expected returns are annual, either the arithmetic mean of daily returns
x 252 (``mean``) or each asset's compound annual growth (``cagr``); the covariance is
annual, the sample covariance of daily returns x 252 (ddof 1) or its Ledoit-Wolf (2004)
shrinkage toward a scaled identity (``ledoit_wolf``). Weights sum to 1.

Constraints: per-asset bounds lo_i <= w_i <= hi_i; optional sector bounds
L_s <= sum_{i in s} w_i <= U_s. Objectives: ``min_variance``, ``max_sharpe`` (solved as
the convex problem min y'Sy s.t. (mu - rf)'y = 1, sum y = k, bounds scaled by k >= 0, then
w = y / k), ``target_return`` (min variance at mu'w = target), ``target_volatility``
(max return at w'Sw <= target^2) and ``frontier`` (min variance at evenly spaced target
returns from the min-variance portfolio's return to the highest attainable).

Infeasible problems raise ``ModelInputError(code="infeasible")`` with a message naming
the constraint: bounds that cannot sum to 1, a sector whose bounds its assets cannot
meet, a target return above the highest (or below the lowest) attainable, a target
volatility below the minimum attainable, no asset above the risk-free rate.

Solver: SciPy's SLSQP with analytic gradients, feasibility and extreme returns by
linear programming (HiGHS). The tests cross-check against SciPy's trust-constr and the
KKT conditions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog, minimize

from quantrun.errors import ModelInputError

PERIODS = 252


def expected_returns(prices: np.ndarray, returns: np.ndarray, method: str) -> np.ndarray:
    if method == "mean":
        return np.asarray(returns.mean(axis=0) * PERIODS)
    if method == "cagr":
        n = returns.shape[0]
        return np.asarray((prices[-1] / prices[0]) ** (PERIODS / n) - 1.0)
    raise ValueError(f"unknown returns method {method!r}")


def ledoit_wolf(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf (2004), 'A well-conditioned estimator for large-dimensional
    covariance matrices': shrink the (ddof 0) sample covariance toward mu*I. Returns the
    daily shrunk covariance and the shrinkage intensity."""
    x = returns - returns.mean(axis=0)
    n, p = x.shape
    s = x.T @ x / n
    mu = float(np.trace(s)) / p
    delta = float(np.sum((s - mu * np.eye(p)) ** 2)) / p
    x2 = x * x
    beta = float(np.sum(x2.T @ x2) / n - np.sum(s * s)) / (n * p)
    shrinkage = 0.0 if delta == 0 else min(max(beta / delta, 0.0), 1.0)
    return shrinkage * mu * np.eye(p) + (1.0 - shrinkage) * s, shrinkage


def covariance(returns: np.ndarray, method: str) -> np.ndarray:
    if method == "sample":
        return np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)) * PERIODS
    if method == "ledoit_wolf":
        return ledoit_wolf(returns)[0] * PERIODS
    raise ValueError(f"unknown covariance method {method!r}")


@dataclass(frozen=True)
class Constraints:
    lower: np.ndarray
    upper: np.ndarray
    sector_names: tuple[str, ...] = ()
    sector_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    sector_lower: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sector_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return int(self.lower.size)


def build_constraints(
    symbols: Sequence[str],
    bounds: tuple[float, float],
    sector_map: dict[str, str] | None,
    sector_bounds: dict[str, tuple[float, float]] | None,
) -> Constraints:
    n = len(symbols)
    lower, upper = np.full(n, float(bounds[0])), np.full(n, float(bounds[1]))
    if not sector_bounds:
        return Constraints(lower, upper)
    sector_map = sector_map or {}
    names = tuple(sector_bounds)
    matrix = np.array(
        [[1.0 if sector_map.get(s) == name else 0.0 for s in symbols] for name in names]
    )
    return Constraints(
        lower,
        upper,
        names,
        matrix,
        np.array([sector_bounds[s][0] for s in names], dtype=float),
        np.array([sector_bounds[s][1] for s in names], dtype=float),
    )


def _infeasible(message: str) -> ModelInputError:
    return ModelInputError(message, code="infeasible")


def check_feasible(c: Constraints) -> None:
    """Raise a message naming the first constraint that makes the set empty."""
    lo_sum, hi_sum = float(c.lower.sum()), float(c.upper.sum())
    if lo_sum > 1 + 1e-9 or hi_sum < 1 - 1e-9:
        raise _infeasible(
            f"bounds cannot sum to 1: with {c.n} assets the weights can only sum to "
            f"between {lo_sum:.4g} and {hi_sum:.4g}"
        )
    for k, name in enumerate(c.sector_names):
        members = c.sector_matrix[k] > 0
        can_lo = float(c.lower[members].sum())
        can_hi = float(c.upper[members].sum())
        if not members.any() and c.sector_lower[k] > 1e-12:
            raise _infeasible(
                f"sector {name!r} has no assets but a lower bound {c.sector_lower[k]:.4g}"
            )
        if can_hi < c.sector_lower[k] - 1e-9 or can_lo > c.sector_upper[k] + 1e-9:
            raise _infeasible(
                f"sector {name!r} bounds [{c.sector_lower[k]:.4g}, {c.sector_upper[k]:.4g}] "
                f"cannot be met: its {int(members.sum())} assets' bounds allow "
                f"[{can_lo:.4g}, {can_hi:.4g}]"
            )
    if c.sector_names and _extreme_return(np.zeros(c.n), c, maximise=True) is None:
        raise _infeasible("the sector bounds together cannot be met with weights summing to 1")


def _lp_constraints(c: Constraints) -> dict[str, object]:
    a_ub = b_ub = None
    if c.sector_names:
        a_ub = np.vstack([c.sector_matrix, -c.sector_matrix])
        b_ub = np.concatenate([c.sector_upper, -c.sector_lower])
    return {
        "A_ub": a_ub,
        "b_ub": b_ub,
        "A_eq": np.ones((1, c.n)),
        "b_eq": [1.0],
        "bounds": list(zip(c.lower, c.upper, strict=True)),
    }


def _extreme_return(mu: np.ndarray, c: Constraints, *, maximise: bool) -> float | None:
    res = linprog(-mu if maximise else mu, method="highs", **_lp_constraints(c))
    if res.status != 0:
        return None
    return float(mu @ res.x)


def _ineq(c: Constraints) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if c.sector_names:
        a = c.sector_matrix
        out.append(
            {
                "type": "ineq",
                "fun": lambda w: np.concatenate([a @ w - c.sector_lower, c.sector_upper - a @ w]),
                "jac": lambda _w: np.vstack([a, -a]),
            }
        )
    return out


def _slsqp(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    bounds: Sequence[tuple[float | None, float | None]],
    constraints: list[dict[str, object]],
    what: str,
) -> np.ndarray:
    res = minimize(
        objective,
        x0,
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=constraints,
        options={"maxiter": 1000, "ftol": 1e-15},
    )
    if not res.success:
        raise ModelInputError(
            f"the optimiser did not converge for {what}: {res.message}", code="no_convergence"
        )
    return np.asarray(res.x)


def _start(c: Constraints) -> np.ndarray:
    res = linprog(np.zeros(c.n), method="highs", **_lp_constraints(c))
    return (
        np.asarray(res.x) if res.status == 0 else np.clip(np.full(c.n, 1 / c.n), c.lower, c.upper)
    )


def _clean(w: np.ndarray, c: Constraints) -> np.ndarray:
    w = np.clip(w, c.lower, c.upper)
    return w / w.sum() if w.sum() > 0 else w


def min_variance(
    cov: np.ndarray,
    c: Constraints,
    *,
    target_return: float | None = None,
    mu: np.ndarray | None = None,
) -> np.ndarray:
    cons: list[dict[str, object]] = [
        {
            "type": "eq",
            "fun": lambda w: np.array([w.sum() - 1.0]),
            "jac": lambda w: np.ones((1, w.size)),
        },
        *_ineq(c),
    ]
    if target_return is not None:
        assert mu is not None
        cons.append(
            {
                "type": "eq",
                "fun": lambda w: np.array([mu @ w - target_return]),
                "jac": lambda _w: mu[None, :],
            }
        )

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        g = cov @ w
        return float(w @ g), 2.0 * g

    bounds = list(zip(c.lower, c.upper, strict=True))
    return _clean(_slsqp(objective, _start(c), bounds, cons, "minimum variance"), c)


def max_sharpe(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, risk_free_rate: float
) -> np.ndarray:
    excess = mu - risk_free_rate
    best = _extreme_return(mu, c, maximise=True)
    if best is None or best <= risk_free_rate + 1e-12:
        raise _infeasible(
            f"no portfolio within these bounds has an expected return above the risk-free "
            f"rate {risk_free_rate:.4g} (highest attainable: {best})"
        )
    n = c.n
    # variables x = (y, k): min y'Sy s.t. excess'y = 1, sum(y) = k, lo k <= y <= hi k, k >= 0
    cons: list[dict[str, object]] = [
        {
            "type": "eq",
            "fun": lambda x: np.array([excess @ x[:n] - 1.0]),
            "jac": lambda _x: np.concatenate([excess, [0.0]])[None, :],
        },
        {
            "type": "eq",
            "fun": lambda x: np.array([x[:n].sum() - x[n]]),
            "jac": lambda _x: np.concatenate([np.ones(n), [-1.0]])[None, :],
        },
        {
            "type": "ineq",
            "fun": lambda x: np.concatenate([x[:n] - c.lower * x[n], c.upper * x[n] - x[:n]]),
            "jac": lambda _x: np.vstack(
                [
                    np.hstack([np.eye(n), -c.lower[:, None]]),
                    np.hstack([-np.eye(n), c.upper[:, None]]),
                ]
            ),
        },
    ]
    if c.sector_names:
        a = c.sector_matrix
        cons.append(
            {
                "type": "ineq",
                "fun": lambda x: np.concatenate(
                    [a @ x[:n] - c.sector_lower * x[n], c.sector_upper * x[n] - a @ x[:n]]
                ),
                "jac": lambda _x: np.vstack(
                    [
                        np.hstack([a, -c.sector_lower[:, None]]),
                        np.hstack([-a, c.sector_upper[:, None]]),
                    ]
                ),
            }
        )

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        g = cov @ x[:n]
        return float(x[:n] @ g), np.concatenate([2.0 * g, [0.0]])

    w0 = _start(c)
    k0 = 1.0 / max(float(excess @ w0), 1e-6) if excess @ w0 > 0 else 1.0
    x0 = np.concatenate([w0 * k0, [k0]])
    bounds = [(None, None)] * n + [(0.0, None)]
    x = _slsqp(objective, x0, bounds, cons, "maximum Sharpe ratio")
    return _clean(x[:n] / x[n], c)


def target_return_portfolio(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, target: float
) -> np.ndarray:
    hi = _extreme_return(mu, c, maximise=True)
    lo = _extreme_return(mu, c, maximise=False)
    assert hi is not None and lo is not None
    if target > hi + 1e-9:
        raise _infeasible(
            f"target return {target:.4g} exceeds the highest attainable under "
            f"these bounds ({hi:.4g})"
        )
    if target < lo - 1e-9:
        raise _infeasible(
            f"target return {target:.4g} is below the lowest attainable under "
            f"these bounds ({lo:.4g})"
        )
    return min_variance(cov, c, target_return=min(max(target, lo), hi), mu=mu)


def target_volatility_portfolio(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, target: float
) -> np.ndarray:
    w_min = min_variance(cov, c)
    vol_min = math.sqrt(max(float(w_min @ cov @ w_min), 0.0))
    if target < vol_min - 1e-9:
        raise _infeasible(
            f"target volatility {target:.4g} is below the minimum attainable "
            f"under these bounds ({vol_min:.4g})"
        )
    cons: list[dict[str, object]] = [
        {
            "type": "eq",
            "fun": lambda w: np.array([w.sum() - 1.0]),
            "jac": lambda w: np.ones((1, w.size)),
        },
        {
            "type": "ineq",
            "fun": lambda w: np.array([target**2 - w @ cov @ w]),
            "jac": lambda w: (-2.0 * cov @ w)[None, :],
        },
        *_ineq(c),
    ]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        return -float(mu @ w), -mu

    bounds = list(zip(c.lower, c.upper, strict=True))
    return _clean(_slsqp(objective, w_min, bounds, cons, "target volatility"), c)


def frontier(
    mu: np.ndarray,
    cov: np.ndarray,
    c: Constraints,
    points: int,
    checkpoint: Callable[[float], None] = lambda _f: None,
) -> list[np.ndarray]:
    w_min = min_variance(cov, c)
    lo = float(mu @ w_min)
    hi = _extreme_return(mu, c, maximise=True)
    assert hi is not None
    out = []
    for i, target in enumerate(np.linspace(lo, hi, points)):
        out.append(w_min if i == 0 else min_variance(cov, c, target_return=float(target), mu=mu))
        checkpoint((i + 1) / points)
    return out
