"""The feasible set of a portfolio: per-asset bounds, optional sector bounds, weights
summing to 1. Built and checked before any optimisation, so an infeasible problem fails
with ``infeasible`` naming the constraint that cannot be met, not with a solver's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from quantrun.domain.errors import ModelInputError


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


def infeasible(message: str) -> ModelInputError:
    return ModelInputError(message, code="infeasible")


def check_feasible(c: Constraints) -> None:
    """Raise a message naming the first constraint that makes the set empty."""
    lo_sum, hi_sum = float(c.lower.sum()), float(c.upper.sum())
    if lo_sum > 1 + 1e-9 or hi_sum < 1 - 1e-9:
        raise infeasible(
            f"bounds cannot sum to 1: with {c.n} assets the weights can only sum to "
            f"between {lo_sum:.4g} and {hi_sum:.4g}"
        )
    for k, name in enumerate(c.sector_names):
        members = c.sector_matrix[k] > 0
        can_lo = float(c.lower[members].sum())
        can_hi = float(c.upper[members].sum())
        if not members.any() and c.sector_lower[k] > 1e-12:
            raise infeasible(
                f"sector {name!r} has no assets but a lower bound {c.sector_lower[k]:.4g}"
            )
        if can_hi < c.sector_lower[k] - 1e-9 or can_lo > c.sector_upper[k] + 1e-9:
            raise infeasible(
                f"sector {name!r} bounds [{c.sector_lower[k]:.4g}, {c.sector_upper[k]:.4g}] "
                f"cannot be met: its {int(members.sum())} assets' bounds allow "
                f"[{can_lo:.4g}, {can_hi:.4g}]"
            )
    if c.sector_names and extreme_vertex(np.zeros(c.n), c, maximise=True) is None:
        raise infeasible("the sector bounds together cannot be met with weights summing to 1")


def extreme_vertex(mu: np.ndarray, c: Constraints, *, maximise: bool) -> np.ndarray | None:
    """A vertex of the feasible set maximising (or minimising) mu'w; None if empty."""
    if not c.sector_names:
        if c.lower.sum() > 1 + 1e-9 or c.upper.sum() < 1 - 1e-9:
            return None
        # only bounds and the budget: fill the best assets first (a fractional knapsack)
        w = c.lower.copy()
        left = 1.0 - float(w.sum())
        for i in np.argsort(-mu if maximise else mu, kind="stable"):
            add = min(float(c.upper[i] - c.lower[i]), left)
            w[i] += add
            left -= add
            if left <= 0:
                break
        return w
    # imported on use: scipy.optimize's import (~0.5 s of CPU) would otherwise be paid
    # at start by every process that loads the catalog, the API's among them
    from scipy.optimize import linprog

    res = linprog(
        -mu if maximise else mu,
        A_ub=np.vstack([c.sector_matrix, -c.sector_matrix]),
        b_ub=np.concatenate([c.sector_upper, -c.sector_lower]),
        A_eq=np.ones((1, c.n)),
        b_eq=[1.0],
        bounds=list(zip(c.lower, c.upper, strict=True)),
        method="highs",
    )
    return np.asarray(res.x) if res.status == 0 else None


def sector_rows(c: Constraints) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not c.sector_names:
        return None, None
    return (
        np.vstack([c.sector_matrix, -c.sector_matrix]),
        np.concatenate([c.sector_upper, -c.sector_lower]),
    )
