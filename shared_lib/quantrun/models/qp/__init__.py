"""Quadratic programs of portfolio optimisation: the problem type, the two active-set
methods (``quantrun.models.qp.active_set``, ``quantrun.models.qp.box``) and the order they
are tried in.

`solve_with_fallback` tries the primal-dual active-set method when there are only
bounds and equalities (fast on dense optima, no feasible start needed), then the primal
active-set method from a feasible start (any linear constraints), then SciPy's SLSQP on
the same problem, so a degenerate problem is slow rather than unanswered.
"""

from __future__ import annotations

import numpy as np

from quantrun.models.qp.active_set import QP as QP
from quantrun.models.qp.active_set import QPFailure as QPFailure
from quantrun.models.qp.active_set import QPResult as QPResult
from quantrun.models.qp.active_set import solve as solve
from quantrun.models.qp.box import solve_box as solve_box


def solve_with_fallback(problem: QP, x0: np.ndarray, warm: bool = False) -> np.ndarray:
    """`solve_box` (seeded with x0's active bounds if ``warm``) when there are only
    bounds and equalities, else (or if it gives up) `solve` from the feasible x0,
    falling back to SciPy's SLSQP on the same problem when the active-set method cannot
    finish (degenerate constraints, a singular reduced Hessian)."""
    if problem.general_rows[0].shape[0] == 0:
        try:
            return solve_box(problem, guess=x0 if warm else None).x
        except QPFailure:
            pass
    try:
        return solve(problem, x0).x
    except QPFailure as failure:
        return _slsqp(problem, x0, failure)


def _slsqp(problem: QP, x0: np.ndarray, failure: QPFailure) -> np.ndarray:
    from scipy.optimize import minimize

    p = problem
    c_mat, d_vec = p.general_rows
    constraints: list[dict[str, object]] = [
        {"type": "eq", "fun": lambda x: p.eq_matrix @ x - p.eq_rhs, "jac": lambda _x: p.eq_matrix}
    ]
    if c_mat.shape[0]:
        constraints.append(
            {"type": "ineq", "fun": lambda x: d_vec - c_mat @ x, "jac": lambda _x: -c_mat}
        )

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        hx = p.h @ x
        return float(0.5 * x @ hx + p.g @ x), hx + p.g

    res = minimize(
        objective,
        x0,
        jac=True,
        method="SLSQP",
        bounds=[
            (lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
            for lo, hi in zip(p.lower, p.upper, strict=True)
        ],
        constraints=constraints,
        options={"maxiter": 2000, "ftol": 1e-15},
    )
    x = np.asarray(res.x)
    # status 8 ("positive directional derivative in linesearch") is SLSQP stopping at
    # a point it cannot improve to its tolerance: accept it if the point is feasible
    feasible = np.abs(p.eq_matrix @ x - p.eq_rhs).max() <= 1e-9 and bool(
        (c_mat @ x <= d_vec + 1e-9).all()
    )
    if not (res.success or (res.status == 8 and feasible)):
        raise QPFailure(f"{failure}; SLSQP fallback: {res.message}")
    clipped: np.ndarray = np.clip(x, p.lower, p.upper)
    return clipped
