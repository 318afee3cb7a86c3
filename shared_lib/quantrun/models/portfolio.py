"""Mean-variance (Markowitz) portfolio optimisation, long-only or bounded.

Conventions: expected returns and covariance are annual (``quantrun.models.estimators``);
weights sum to 1.

Constraints: per-asset bounds lo_i <= w_i <= hi_i; optional sector bounds
L_s <= sum_{i in s} w_i <= U_s. Objectives: ``min_variance``, ``max_sharpe`` (solved as
the convex problem min y'Sy s.t. (mu - rf)'y = 1, sum y = k, bounds scaled by k >= 0, then
w = y / k), ``target_return`` (min variance at mu'w = target), ``target_volatility``
(max return at w'Sw <= target^2: the frontier point whose volatility is the target, found
by Brent's method on the frontier's return, or the highest-return portfolio when even
that is within the target) and ``frontier`` (min variance at evenly spaced target
returns from the min-variance portfolio's return to the highest attainable).

Infeasible problems raise ``ModelInputError(code="infeasible")`` with a message naming
the constraint: bounds that cannot sum to 1, a sector whose bounds its assets cannot
meet, a target return above the highest (or below the lowest) attainable, a target
volatility below the minimum attainable, no asset above the risk-free rate.

Solver: every objective is a convex QP solved by the dense active-set method of
``quantrun.models.qp`` (SLSQP on the same QP if it cannot finish), started from a
feasible vertex: greedy when there are only bounds, linear programming (HiGHS) with
sector bounds. Frontier points are warm-started from their neighbour. The tests
cross-check against SciPy's trust-constr, a second solver, and the KKT conditions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from quantrun.domain.errors import ModelInputError
from quantrun.models import qp
from quantrun.models.constraints import (
    Constraints,
    build_constraints,
    check_feasible,
    extreme_vertex,
    infeasible,
    sector_rows,
)

# the feasible set is built and checked through this module too (``pf.build_constraints``)
__all__ = [
    "Constraints",
    "build_constraints",
    "check_feasible",
    "frontier",
    "max_sharpe",
    "min_variance",
    "target_return_portfolio",
    "target_volatility_portfolio",
]


def _solve(what: str, problem: qp.QP, x0: np.ndarray, warm: bool = False) -> np.ndarray:
    try:
        return qp.solve_with_fallback(problem, x0, warm=warm)
    except qp.QPFailure as exc:
        raise ModelInputError(
            f"the optimiser did not converge for {what}: {exc}", code="no_convergence"
        ) from exc


def _clean(w: np.ndarray, c: Constraints) -> np.ndarray:
    w = np.clip(w, c.lower, c.upper)
    return w / w.sum() if w.sum() > 0 else w


def min_variance(
    cov: np.ndarray,
    c: Constraints,
    *,
    target_return: float | None = None,
    mu: np.ndarray | None = None,
    start: np.ndarray | None = None,
    warm: bool = False,
) -> np.ndarray:
    """Minimum variance, optionally at mu'w = target_return: then ``start`` is a
    feasible point with that return (`_on_segment`). ``warm``: the start is near the
    answer (a neighbouring solution), so its active bounds seed the solver."""
    eq, rhs = np.ones((1, c.n)), np.ones(1)
    if target_return is not None:
        assert mu is not None and start is not None
        eq, rhs = np.vstack([eq, mu]), np.array([1.0, target_return])
    elif start is None:
        # the low-variance assets first: a vertex near the optimum
        start = extreme_vertex(-np.diag(cov), c, maximise=True)
        assert start is not None, "check_feasible first"
    c_mat, d_vec = sector_rows(c)
    w = _solve(
        "minimum variance",
        qp.QP(cov, np.zeros(c.n), eq, rhs, c.lower, c.upper, c_mat, d_vec),
        start,
        warm=warm,
    )
    return _clean(w, c)


def _on_segment(a: np.ndarray, b: np.ndarray, mu: np.ndarray, target: float) -> np.ndarray:
    """The point of the segment from portfolio a to portfolio b (mu'a <= target <= mu'b)
    with return ``target``: feasible whenever a and b are, as the set is convex."""
    span = float(mu @ b - mu @ a)
    theta = 1.0 if span <= 0 else min(max((target - float(mu @ a)) / span, 0.0), 1.0)
    return np.asarray(a + theta * (b - a))


def max_sharpe(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, risk_free_rate: float
) -> np.ndarray:
    excess = mu - risk_free_rate
    top = extreme_vertex(mu, c, maximise=True)
    best = None if top is None else float(mu @ top)
    if top is None or float(mu @ top) <= risk_free_rate + 1e-12:
        raise infeasible(
            f"no portfolio within these bounds has an expected return above the risk-free "
            f"rate {risk_free_rate:.4g} (highest attainable: {best})"
        )
    n = c.n
    # variables x = (y, k): min y'Sy s.t. excess'y = 1, sum(y) = k, lo k <= y <= hi k, k >= 0
    h = np.zeros((n + 1, n + 1))
    h[:n, :n] = cov
    eq = np.zeros((2, n + 1))
    eq[0, :n], eq[1, :n], eq[1, n] = excess, 1.0, -1.0
    lower = np.append(np.where(c.lower == 0, 0.0, -np.inf), 0.0)
    rows, rhs = [], []
    for i in np.flatnonzero(c.lower != 0):  # lo_i k - y_i <= 0, a plain bound if lo_i = 0
        row = np.zeros(n + 1)
        row[i], row[n] = -1.0, c.lower[i]
        rows.append(row)
        rhs.append(0.0)
    # y_i <= hi_i k is implied by sum(y) = k when all weights are >= 0 and hi_i >= 1
    all_long = bool((c.lower >= 0).all())
    for i in np.flatnonzero(~(all_long & (c.upper >= 1))):
        row = np.zeros(n + 1)
        row[i], row[n] = 1.0, -c.upper[i]
        rows.append(row)
        rhs.append(0.0)
    for s in range(len(c.sector_names)):
        a = np.append(c.sector_matrix[s], 0.0)
        rows.append(a - np.eye(1, n + 1, n)[0] * c.sector_upper[s])
        rows.append(-a + np.eye(1, n + 1, n)[0] * c.sector_lower[s])
        rhs += [0.0, 0.0]
    k0 = 1.0 / float(excess @ top)
    x0 = np.append(top * k0, k0)
    x = _solve(
        "maximum Sharpe ratio",
        qp.QP(
            h,
            np.zeros(n + 1),
            eq,
            np.array([1.0, 0.0]),
            lower,
            np.full(n + 1, np.inf),
            np.array(rows) if rows else None,
            np.array(rhs) if rhs else None,
        ),
        x0,
    )
    return _clean(x[:n] / x[n], c)


def target_return_portfolio(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, target: float
) -> np.ndarray:
    w_hi, w_lo = extreme_vertex(mu, c, maximise=True), extreme_vertex(mu, c, maximise=False)
    assert w_hi is not None and w_lo is not None
    hi, lo = float(mu @ w_hi), float(mu @ w_lo)
    if target > hi + 1e-9:
        raise infeasible(
            f"target return {target:.4g} exceeds the highest attainable under "
            f"these bounds ({hi:.4g})"
        )
    if target < lo - 1e-9:
        raise infeasible(
            f"target return {target:.4g} is below the lowest attainable under "
            f"these bounds ({lo:.4g})"
        )
    target = min(max(target, lo), hi)
    start = _on_segment(w_lo, w_hi, mu, target)
    return min_variance(cov, c, target_return=target, mu=mu, start=start)


def _vol(w: np.ndarray, cov: np.ndarray) -> float:
    return math.sqrt(max(float(w @ cov @ w), 0.0))


def target_volatility_portfolio(
    mu: np.ndarray, cov: np.ndarray, c: Constraints, target: float
) -> np.ndarray:
    w_min = min_variance(cov, c)
    vol_min = _vol(w_min, cov)
    if target < vol_min - 1e-9:
        raise infeasible(
            f"target volatility {target:.4g} is below the minimum attainable "
            f"under these bounds ({vol_min:.4g})"
        )
    top = extreme_vertex(mu, c, maximise=True)
    assert top is not None
    lo, hi = float(mu @ w_min), float(mu @ top)
    w_top = min_variance(cov, c, target_return=hi, mu=mu, start=top)
    if _vol(w_top, cov) <= target or hi - lo <= 1e-12:
        return w_top  # the highest return is within the target
    if target <= vol_min:
        return w_min

    # the efficient frontier's volatility rises with its return above the minimum-
    # variance point: find the return whose minimum volatility is the target
    def on_frontier(ret: float) -> np.ndarray:
        start = _on_segment(w_min, top, mu, ret)
        return min_variance(cov, c, target_return=ret, mu=mu, start=start, warm=True)

    # imported on use: scipy.optimize's import (~0.5 s of CPU) would otherwise be paid
    # at start by every process that loads the catalog, the API's among them
    from scipy.optimize import brentq

    ret = brentq(
        lambda r: _vol(on_frontier(r), cov) - target, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200
    )
    return on_frontier(float(ret))


def frontier(
    mu: np.ndarray,
    cov: np.ndarray,
    c: Constraints,
    points: int,
    checkpoint: Callable[[float], None] = lambda _f: None,
) -> list[np.ndarray]:
    w_min = min_variance(cov, c)
    top = extreme_vertex(mu, c, maximise=True)
    assert top is not None
    lo, hi = float(mu @ w_min), float(mu @ top)
    out = [w_min]
    checkpoint(1 / points)
    prev = w_min
    for i, target in enumerate(np.linspace(lo, hi, points)[1:], start=2):
        # warm start: the step from the previous point toward the top-return vertex
        # that reaches this return keeps every constraint and most of the active set
        start = _on_segment(prev, top, mu, float(target))
        prev = min_variance(cov, c, target_return=float(target), mu=mu, start=start, warm=True)
        out.append(prev)
        checkpoint(i / points)
    return out
