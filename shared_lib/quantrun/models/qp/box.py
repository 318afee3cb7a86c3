"""A primal-dual active-set method for portfolio QPs with bounds and equalities only
(no general inequalities): from any start, it guesses the active bounds from the sign
of the multipliers and re-solves the KKT system in the free variables until the guess
is consistent. Few KKT solves on dense optima, no feasible start needed; it raises
``QPFailure`` when the guesses cycle (``quantrun.models.qp`` then tries the primal
active-set method of ``quantrun.models.qp.active_set``).
"""

from __future__ import annotations

import numpy as np

from quantrun.models.qp.active_set import (
    ACTIVE_TOL,
    MULTIPLIER_TOL,
    QP,
    QPFailure,
    QPResult,
    _solve_kkt,
)


def solve_box(
    problem: QP, max_iter: int | None = None, guess: np.ndarray | None = None
) -> QPResult:
    """The QP without general inequalities (they are ignored), by the primal-dual active-set method
    (Hintermueller, Ito & Kunisch, SIAM J. Optim. 13(3), 2003): guess which bounds are
    active from x - z/c, solve the KKT system for the rest, repeat until the guess is
    stable. It changes many bounds per iteration, so a dense optimum (most assets held)
    takes a few KKT solves instead of one per asset. Block changes can cycle when H is
    not an M-matrix; on the first repeated active set it switches to changing one bound
    at a time, the lowest index first (Murty's principal pivoting rule, finite for a
    positive definite reduced Hessian; exchanges forced by the equalities can still
    cycle, which raises). Needs no feasible start (``guess``, e.g. a
    neighbouring solution, only seeds the first active set); raises `QPFailure` if it
    does not settle within ``max_iter`` KKT solves."""
    h, g, eq_matrix = problem.h, problem.g, problem.eq_matrix
    lower, upper = problem.lower, problem.upper
    n = g.size
    m_eq = eq_matrix.shape[0]
    limit = max_iter if max_iter is not None else 50 + 3 * n
    if guess is None:
        at_lower = np.zeros(n, dtype=bool)
        at_upper = np.zeros(n, dtype=bool)
    else:
        at_lower = guess <= lower
        at_upper = (guess >= upper) & ~at_lower
    seen: set[bytes] = set()
    one_at_a_time = False
    for iteration in range(1, limit + 1):
        x, y = _box_kkt(problem, at_lower, at_upper)
        free = ~(at_lower | at_upper)
        z = h @ x + g + eq_matrix.T @ y  # bound multipliers: >= 0 at lower, <= 0 at upper
        z[free] = 0.0
        tol_x = ACTIVE_TOL * (1.0 + np.abs(x))
        tol_z = MULTIPLIER_TOL * (1.0 + float(np.max(np.abs(z), initial=0.0)))
        below = free & (x < lower - tol_x)
        above = free & (x > upper + tol_x)
        wrong = (at_lower & (z < -tol_z)) | (at_upper & (z > tol_z))
        violators = below | above | wrong
        if not violators.any():
            return QPResult(np.clip(x, lower, upper), iteration, y, np.zeros(0))
        if one_at_a_time:
            i = int(np.argmax(violators))
            violators = np.zeros(n, dtype=bool)
            violators[i] = True
        new_lower = (at_lower & ~violators) | (below & violators)
        new_upper = (at_upper & ~violators) | (above & violators)
        short = m_eq - int((~(new_lower | new_upper)).sum())
        if short > 0:
            # the equalities need free variables: exchange, freeing the fixed variables
            # whose multipliers hold them at their bound least firmly
            # (or, failing those, the variables that overshot their bound the least)
            firmness = np.where(at_lower, z, np.where(at_upper, -z, np.inf))
            firmness[violators] = np.inf
            overshoot = np.where(below, lower - x, np.where(above, x - upper, np.inf))
            order = np.concatenate(
                [np.argsort(firmness, kind="stable"), np.argsort(overshoot, kind="stable")]
            )
            candidates = order[np.isfinite(np.concatenate([np.sort(firmness), np.sort(overshoot)]))]
            released = list(dict.fromkeys(candidates.tolist()))[:short]
            if len(released) < short:
                raise QPFailure("too few free variables for the equality constraints")
            new_lower[released] = new_upper[released] = False
        key = np.packbits(new_lower).tobytes() + np.packbits(new_upper).tobytes()
        if key in seen:
            if one_at_a_time:  # still cycling: hand over to the primal method
                raise QPFailure("the primal-dual active set cycles")
            one_at_a_time = True
        seen.add(key)
        at_lower, at_upper = new_lower, new_upper
    raise QPFailure(f"the active set did not settle in {limit} primal-dual iterations")


def _box_kkt(
    problem: QP, at_lower: np.ndarray, at_upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """x and the equality multipliers y with the fixed variables at their bounds and
    the rest stationary: one KKT solve in the free variables."""
    h, g, eq_matrix, eq_rhs = problem.h, problem.g, problem.eq_matrix, problem.eq_rhs
    lower, upper = problem.lower, problem.upper
    x = np.where(at_lower, lower, np.where(at_upper, upper, 0.0))
    free = ~(at_lower | at_upper)
    fixed = ~free
    x[free], y = _solve_kkt(
        h[np.ix_(free, free)],
        eq_matrix[:, free],
        -(g[free] + h[np.ix_(free, fixed)] @ x[fixed]),
        eq_rhs - eq_matrix[:, fixed] @ x[fixed],
    )
    return x, y
