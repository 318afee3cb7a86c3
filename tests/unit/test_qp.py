"""The QP solvers behind Markowitz: the primal-dual active-set method (`solve_box`) and
the primal active-set method (`solve`) against each other, SciPy's SLSQP as a third,
independent solver, and the KKT conditions written out."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from quantrun.models import qp


def _problem(seed: int, n: int, sparse: bool) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n + 10, n))
    h = factors.T @ factors / n + 0.01 * np.eye(n)
    # a strong linear term pushes most variables onto their bounds (a sparse optimum)
    g = rng.normal(scale=3.0 if sparse else 0.1, size=n)
    lower = np.zeros(n)
    upper = np.full(n, max(1.5 / n, rng.uniform(0.05, 1.0)))
    return h, g, np.ones((1, n)), np.ones(1), lower, upper


def _slsqp(h, g, eq, rhs, lower, upper, c_mat=None, d_vec=None):  # type: ignore[no-untyped-def]
    cons = [{"type": "eq", "fun": lambda x: eq @ x - rhs, "jac": lambda _x: eq}]
    if c_mat is not None:
        cons.append({"type": "ineq", "fun": lambda x: d_vec - c_mat @ x, "jac": lambda _x: -c_mat})
    res = minimize(
        lambda x: (0.5 * x @ h @ x + g @ x, h @ x + g),
        np.full(g.size, 1 / g.size),
        jac=True,
        method="SLSQP",
        bounds=list(zip(lower, upper, strict=True)),
        constraints=cons,
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    # status 8: SLSQP cannot improve further at its tolerance (checked feasible below)
    assert res.success or res.status == 8, res.message
    assert np.abs(eq @ res.x - rhs).max() < 1e-9
    return res.x


def _objective(h: np.ndarray, g: np.ndarray, x: np.ndarray) -> float:
    return float(0.5 * x @ h @ x + g @ x)


def _assert_kkt(h, g, eq, lower, upper, x, y) -> None:  # type: ignore[no-untyped-def]
    """Stationarity with bound multipliers of the right sign, and feasibility."""
    z = h @ x + g + eq.T @ y
    scale = 1.0 + np.abs(h @ x + g).max()
    free = (x > lower + 1e-10) & (x < upper - 1e-10)
    assert np.abs(z[free]).max(initial=0) <= 1e-9 * scale
    assert (z[x <= lower + 1e-10] >= -1e-9 * scale).all()
    assert (z[x >= upper - 1e-10] <= 1e-9 * scale).all()
    assert (x >= lower - 1e-12).all() and (x <= upper + 1e-12).all()


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("sparse", [False, True])
def test_both_active_set_methods_agree_with_slsqp_and_kkt(seed: int, sparse: bool) -> None:
    n = 5 + 7 * seed
    h, g, eq, rhs, lower, upper = _problem(seed, n, sparse)
    start = linprog(np.zeros(n), A_eq=eq, b_eq=rhs, bounds=list(zip(lower, upper, strict=True))).x
    results = [qp.solve(qp.QP(h, g, eq, rhs, lower, upper), start)]
    # the primal-dual method may give up (counted below); it must never answer wrongly
    with contextlib.suppress(qp.QPFailure):
        results.append(qp.solve_box(qp.QP(h, g, eq, rhs, lower, upper)))
    reference = _slsqp(h, g, eq, rhs, lower, upper)
    for result in results:
        assert result.x.sum() == pytest.approx(1.0, abs=1e-12)
        _assert_kkt(h, g, eq, lower, upper, result.x, result.eq_multipliers)
        # SLSQP is the least exact of the three (it buys ~1e-11 of objective with
        # constraint violations of ~1e-13): ours may only be better, up to that
        assert _objective(h, g, result.x) <= _objective(h, g, reference) + 1e-9
        np.testing.assert_allclose(result.x, reference, atol=1e-5)
        np.testing.assert_allclose(result.x, results[0].x, atol=1e-9)
    fallback = qp.solve_with_fallback(qp.QP(h, g, eq, rhs, lower, upper), start)
    np.testing.assert_allclose(fallback, results[0].x, atol=1e-9)


def test_the_primal_dual_method_settles_on_most_problems() -> None:
    """It gives up (to the primal method) only on cycling; on this family, tight
    upper bounds forcing exchanges, that is rare."""
    settled = 0
    for seed in range(100):
        try:
            qp.solve_box(qp.QP(*_problem(seed, 5 + (seed * 7) % 120, sparse=seed % 2 == 0)))
            settled += 1
        except qp.QPFailure as failure:
            assert "cycles" in str(failure)
    assert settled >= 90


@pytest.mark.parametrize("seed", range(8))
def test_general_inequalities_match_slsqp(seed: int) -> None:
    n = 6 + 3 * seed
    h, g, eq, rhs, lower, upper = _problem(seed, n, sparse=seed % 2 == 0)
    upper[:] = 1.0
    sector = np.zeros((2, n))
    sector[0, : n // 2] = 1.0  # first half at most 30%
    sector[1, n // 2 :] = -1.0  # second half at least 70%: both rows bind or nearly
    c_mat, d_vec = sector, np.array([0.3, -0.7])
    start = linprog(
        np.zeros(n),
        A_ub=c_mat,
        b_ub=d_vec,
        A_eq=eq,
        b_eq=rhs,
        bounds=list(zip(lower, upper, strict=True)),
    ).x
    result = qp.solve(qp.QP(h, g, eq, rhs, lower, upper, c_mat, d_vec), start)
    reference = _slsqp(h, g, eq, rhs, lower, upper, c_mat, d_vec)
    assert (c_mat @ result.x <= d_vec + 1e-12).all()
    assert (result.ineq_multipliers >= 0).all()
    assert _objective(h, g, result.x) <= _objective(h, g, reference) + 1e-9
    np.testing.assert_allclose(result.x, reference, atol=1e-5)


def test_a_start_with_every_variable_at_a_bound_is_repaired() -> None:
    h, g, eq, rhs, lower, upper = _problem(1, 8, sparse=False)
    upper[:] = 1.0
    vertex = np.eye(8)[3]  # one weight at its upper bound, the rest at 0
    result = qp.solve(qp.QP(h, g, eq, rhs, lower, upper), vertex)
    np.testing.assert_allclose(
        result.x, qp.solve_box(qp.QP(h, g, eq, rhs, lower, upper)).x, atol=1e-10
    )


def test_a_warm_start_settles_in_fewer_iterations() -> None:
    h, g, eq, rhs, lower, upper = _problem(3, 60, sparse=True)
    cold = qp.solve_box(qp.QP(h, g, eq, rhs, lower, upper))
    warm = qp.solve_box(qp.QP(h, g, eq, rhs, lower, upper), guess=cold.x)
    assert warm.iterations == 1 < cold.iterations
    np.testing.assert_allclose(warm.x, cold.x, atol=1e-12)


def test_an_unfinished_solve_raises_and_the_fallback_still_answers() -> None:
    h, g, eq, rhs, lower, upper = _problem(5, 40, sparse=True)
    start = linprog(np.zeros(40), A_eq=eq, b_eq=rhs, bounds=list(zip(lower, upper, strict=True))).x
    with pytest.raises(qp.QPFailure, match="iterations"):
        qp.solve(qp.QP(h, g, eq, rhs, lower, upper), start, max_iter=2)
    with pytest.raises(qp.QPFailure, match="did not settle"):
        qp.solve_box(qp.QP(h, g, eq, rhs, lower, upper), max_iter=1)
    # a singular Hessian with a free direction: neither active-set method can solve
    # the KKT system, SLSQP answers on the same problem
    flat = np.zeros((40, 40))
    x = qp.solve_with_fallback(qp.QP(flat, g, eq, rhs, lower, upper), start)
    assert g @ x == pytest.approx(
        g @ linprog(g, A_eq=eq, b_eq=rhs, bounds=list(zip(lower, upper, strict=True))).x, abs=1e-8
    )
