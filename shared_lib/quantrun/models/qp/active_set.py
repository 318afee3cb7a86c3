"""A dense primal active-set solver for the small convex quadratic programs of
portfolio optimisation:

    minimise    1/2 x'Hx + g'x
    subject to  E x = e            (equalities, always active)
                C x <= d           (general inequalities, e.g. sector bounds)
                lo <= x <= hi      (bounds; +-inf allowed)

H must be positive semidefinite and positive definite on the null space of the active
constraints (true of a covariance matrix once the weights must sum to 1, and of the
max-Sharpe transformation). Method: Nocedal & Wright, *Numerical Optimization*
(2nd ed.), Algorithm 16.3, with bounds handled by fixing variables rather than as
constraint rows, so each iteration solves one KKT system in the free variables only.
Starting from a feasible point with its active bounds, a portfolio problem takes about
as many iterations as the optimum has assets away from their bounds; a warm start from
a neighbouring solution (the next point of a frontier) takes a handful.

`solve` (and `solve_box` in ``quantrun.models.qp.box``) raise `QPFailure` when they
cannot finish (an iteration limit, cycling, a singular KKT system from degenerate
constraints); `quantrun.models.qp` falls back to a general solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Relative tolerances: a step shorter than this is zero, a bound this close is active.
STEP_TOL = 1e-13
ACTIVE_TOL = 1e-12
MULTIPLIER_TOL = 1e-12


class QPFailure(RuntimeError):
    pass


@dataclass(frozen=True)
class QP:
    """minimise 1/2 x'Hx + g'x  s.t.  E x = e,  C x <= d,  lo <= x <= hi."""

    h: np.ndarray
    g: np.ndarray
    eq_matrix: np.ndarray
    eq_rhs: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ineq_matrix: np.ndarray | None = None
    ineq_rhs: np.ndarray | None = None

    @property
    def general_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self.ineq_matrix is None or self.ineq_rhs is None:
            return np.zeros((0, self.g.size)), np.zeros(0)
        return np.asarray(self.ineq_matrix, dtype=float), np.asarray(self.ineq_rhs, dtype=float)


@dataclass(frozen=True)
class QPResult:
    x: np.ndarray
    iterations: int
    eq_multipliers: np.ndarray  # y_E in  Hx + g + E'y_E + C'y_C + z = 0
    ineq_multipliers: np.ndarray  # y_C >= 0, zero for inactive rows


@dataclass
class _WorkingSet:
    at_lower: np.ndarray  # bool per variable: fixed at its lower bound
    at_upper: np.ndarray
    rows: list[int]  # active general inequality rows

    @property
    def free(self) -> np.ndarray:
        free: np.ndarray = np.logical_not(self.at_lower | self.at_upper)
        return free


def solve(problem: QP, x0: np.ndarray, max_iter: int | None = None) -> QPResult:
    """The primal active-set method from a feasible x0 (projected onto the bounds; it
    must satisfy the equalities and inequalities to rounding)."""
    h, g, eq_matrix = problem.h, problem.g, problem.eq_matrix
    lower, upper = problem.lower, problem.upper
    n = g.size
    c_mat, d_vec = problem.general_rows
    m_eq = eq_matrix.shape[0]
    x = np.clip(np.asarray(x0, dtype=float), lower, upper)
    scale = 1.0 + float(np.max(np.abs(x)))
    span = np.where(np.isfinite(upper - lower), upper - lower, 1.0)
    tol_bound = ACTIVE_TOL * (1.0 + np.abs(span))
    ws = _WorkingSet(
        at_lower=np.isfinite(lower) & (x <= lower + tol_bound),
        at_upper=np.isfinite(upper) & (x >= upper - tol_bound) & ~(x <= lower + tol_bound),
        rows=[],
    )
    _make_independent(ws, eq_matrix)
    limit = max_iter if max_iter is not None else 10 * (n + c_mat.shape[0]) + 50
    for iteration in range(1, limit + 1):
        free = ws.free
        active = np.vstack([eq_matrix, c_mat[ws.rows]]) if ws.rows else eq_matrix
        grad = h @ x + g
        p_free, y = _kkt_step(h[np.ix_(free, free)], active[:, free], grad[free])
        step_norm = float(np.max(np.abs(p_free))) if p_free.size else 0.0
        if step_norm <= STEP_TOL * scale:
            # stationary on the working set: optimal unless a multiplier has the wrong sign
            y_rows = y[m_eq:]
            z = grad + active.T @ y  # bound multipliers of the fixed variables
            worst, kind, index = 0.0, "", -1
            if y_rows.size:
                j = int(np.argmin(y_rows))
                if y_rows[j] < worst:
                    worst, kind, index = float(y_rows[j]), "row", j
            tol = MULTIPLIER_TOL * (1.0 + float(np.max(np.abs(grad))))
            lower_z = np.where(ws.at_lower, z, np.inf)  # must be >= 0 at a lower bound
            upper_z = np.where(ws.at_upper, -z, np.inf)  # must be <= 0 at an upper bound
            for side, values in (("lower", lower_z), ("upper", upper_z)):
                i = int(np.argmin(values))
                if values[i] < worst:
                    worst, kind, index = float(values[i]), side, i
            if worst >= -tol:
                y_c = np.zeros(c_mat.shape[0])
                y_c[ws.rows] = y_rows
                return QPResult(x, iteration, y[:m_eq], y_c)
            if kind == "row":
                ws.rows.pop(index)
            elif kind == "lower":
                ws.at_lower[index] = False
            else:
                ws.at_upper[index] = False
            continue
        p = np.zeros(n)
        p[free] = p_free
        alpha, blocking = _step_length(x, p, free, lower, upper, c_mat, d_vec, ws.rows)
        x = x + alpha * p
        if blocking is not None:
            kind, index = blocking
            if kind == "lower":
                x[index] = lower[index]
                ws.at_lower[index] = True
            elif kind == "upper":
                x[index] = upper[index]
                ws.at_upper[index] = True
            else:
                ws.rows.append(index)
    raise QPFailure(f"no optimum within {limit} active-set iterations")


def _make_independent(ws: _WorkingSet, eq_matrix: np.ndarray) -> None:
    """Release fixed variables until the equalities restricted to the free variables
    have full row rank (e.g. a start with every weight at a bound)."""
    m = eq_matrix.shape[0]
    rank = int(np.linalg.matrix_rank(eq_matrix[:, ws.free])) if ws.free.any() else 0
    while rank < m:
        fixed = np.flatnonzero(~ws.free)
        order = fixed[np.argsort(-np.abs(eq_matrix[:, fixed]).sum(axis=0), kind="stable")]
        for i in order:
            trial = ws.free.copy()
            trial[i] = True
            trial_rank = int(np.linalg.matrix_rank(eq_matrix[:, trial]))
            if trial_rank > rank:
                ws.at_lower[i] = ws.at_upper[i] = False
                rank = trial_rank
                break
        else:
            raise QPFailure("the equality constraints are linearly dependent")


def _kkt_step(
    h_ff: np.ndarray, a_f: np.ndarray, grad_f: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve [H A'; A 0] [p; y] = [-grad; 0] for the step p and multipliers y."""
    return _solve_kkt(h_ff, a_f, -grad_f, np.zeros(a_f.shape[0]))


def _solve_kkt(
    h_ff: np.ndarray, a_f: np.ndarray, top: np.ndarray, bottom: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[H A'; A 0] [u; y] = [top; bottom], raising `QPFailure` if it is singular."""
    nf, m = h_ff.shape[0], a_f.shape[0]
    kkt = np.zeros((nf + m, nf + m))
    kkt[:nf, :nf] = h_ff
    kkt[:nf, nf:] = a_f.T
    kkt[nf:, :nf] = a_f
    rhs = np.concatenate([top, bottom])
    try:
        sol = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError as exc:
        raise QPFailure(f"singular KKT system ({exc})") from exc
    if not np.all(np.isfinite(sol)):
        raise QPFailure("the KKT system has no finite solution")
    return sol[:nf], sol[nf:]


def _step_length(
    x: np.ndarray,
    p: np.ndarray,
    free: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    c_mat: np.ndarray,
    d_vec: np.ndarray,
    rows: list[int],
) -> tuple[float, tuple[str, int] | None]:
    """The longest step in [0, 1] along p that stays feasible, and what blocks it."""
    alpha, blocking = 1.0, None
    with np.errstate(divide="ignore", invalid="ignore"):
        down = free & (p < 0) & np.isfinite(lower)
        if down.any():
            ratios = np.where(down, (lower - x) / np.where(down, p, 1.0), np.inf)
            i = int(np.argmin(ratios))
            if ratios[i] < alpha:
                alpha, blocking = max(float(ratios[i]), 0.0), ("lower", i)
        up = free & (p > 0) & np.isfinite(upper)
        if up.any():
            ratios = np.where(up, (upper - x) / np.where(up, p, 1.0), np.inf)
            i = int(np.argmin(ratios))
            if ratios[i] < alpha:
                alpha, blocking = max(float(ratios[i]), 0.0), ("upper", i)
        if c_mat.shape[0]:
            cp = c_mat @ p
            inactive = np.ones(c_mat.shape[0], dtype=bool)
            inactive[rows] = False
            rising = inactive & (cp > STEP_TOL)
            if rising.any():
                slack = np.maximum(d_vec - c_mat @ x, 0.0)
                ratios = np.where(rising, slack / np.where(rising, cp, 1.0), np.inf)
                j = int(np.argmin(ratios))
                if ratios[j] < alpha:
                    alpha, blocking = float(ratios[j]), ("row", j)
    return alpha, blocking
