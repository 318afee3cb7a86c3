"""Markowitz on the real sample data, cross-checked with an independent solver
(SciPy's trust-constr, an interior-point method) and the KKT conditions."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, NonlinearConstraint, minimize

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.domain.errors import ModelInputError
from quantrun.models import estimators
from quantrun.models import portfolio as pf
from quantrun.models.history import align

SYMBOLS = ["AAPL", "AMZN", "GE", "WMT", "XOM", "JPM", "PFE", "T", "BAC", "SBUX", "BBY", "AMD"]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    m = store.load_close(SYMBOLS, date(2010, 1, 1), date(2017, 12, 31))
    a = align(m.dates, m.close, SYMBOLS)
    return (
        estimators.expected_returns(a.prices, a.returns, "mean"),
        estimators.covariance(a.returns, "sample"),
        a.returns,
    )


def _trust_constr(objective, n, lo=0.0, hi=1.0, extra=(), jac=None, hess=None):  # type: ignore[no-untyped-def]
    cons = [LinearConstraint(np.ones((1, n)), 1, 1), *extra]
    res = minimize(
        objective,
        np.full(n, 1 / n),
        jac=jac,
        hess=hess,
        method="trust-constr",
        bounds=Bounds(lo, hi),
        constraints=cons,
        options={"gtol": 1e-12, "xtol": 1e-14, "maxiter": 5000},
    )
    return res.x


def test_min_variance_matches_trust_constr_and_kkt(data) -> None:  # type: ignore[no-untyped-def]
    _, cov, _ = data
    c = pf.build_constraints(SYMBOLS, (0.0, 1.0), None, None)
    w = pf.min_variance(cov, c)
    ref = _trust_constr(lambda x: x @ cov @ x, len(SYMBOLS))
    assert w.sum() == pytest.approx(1.0, abs=1e-12) and (w >= 0).all() and (w <= 1).all()
    assert w @ cov @ w == pytest.approx(ref @ cov @ ref, rel=1e-6)
    np.testing.assert_allclose(w, ref, atol=2e-4)
    # KKT: marginal variance (S w)_i is equal on free assets and not below it at the 0 bound
    grad = cov @ w
    free = w > 1e-6
    lam = grad[free].mean()
    np.testing.assert_allclose(grad[free], lam, rtol=1e-5)
    assert (grad[~free] >= lam - 1e-8).all()


def test_max_sharpe_matches_a_direct_maximisation(data) -> None:  # type: ignore[no-untyped-def]
    mu, cov, _ = data
    c = pf.build_constraints(SYMBOLS, (0.0, 0.3), None, None)
    w = pf.max_sharpe(mu, cov, c, risk_free_rate=0.01)
    sharpe = (mu @ w - 0.01) / math.sqrt(w @ cov @ w)
    ref = _trust_constr(lambda x: -(mu @ x - 0.01) / np.sqrt(x @ cov @ x), len(SYMBOLS), hi=0.3)
    ref_sharpe = (mu @ ref - 0.01) / math.sqrt(ref @ cov @ ref)
    assert sharpe >= ref_sharpe - 1e-6
    assert sharpe == pytest.approx(ref_sharpe, rel=1e-5)
    assert w.max() <= 0.3 + 1e-9 and w.sum() == pytest.approx(1.0)


def test_target_return_and_volatility(data) -> None:  # type: ignore[no-untyped-def]
    mu, cov, _ = data
    c = pf.build_constraints(SYMBOLS, (0.0, 1.0), None, None)
    w = pf.target_return_portfolio(mu, cov, c, 0.20)
    assert mu @ w == pytest.approx(0.20, abs=1e-8)
    ref = _trust_constr(
        lambda x: x @ cov @ x, len(SYMBOLS), extra=[LinearConstraint(mu[None, :], 0.20, 0.20)]
    )
    assert w @ cov @ w == pytest.approx(ref @ cov @ ref, rel=1e-5)
    v = pf.target_volatility_portfolio(mu, cov, c, 0.18)
    assert math.sqrt(v @ cov @ v) == pytest.approx(0.18, abs=1e-6)
    ref = _trust_constr(
        lambda x: -(mu @ x),
        len(SYMBOLS),
        extra=[NonlinearConstraint(lambda x: x @ cov @ x, 0, 0.18**2)],
    )
    assert mu @ v == pytest.approx(mu @ ref, rel=1e-5)


def test_frontier_is_increasing_and_convex(data) -> None:  # type: ignore[no-untyped-def]
    mu, cov, _ = data
    c = pf.build_constraints(SYMBOLS, (0.0, 1.0), None, None)
    points = pf.frontier(mu, cov, c, 15)
    rets = np.array([mu @ w for w in points])
    vols = np.array([math.sqrt(w @ cov @ w) for w in points])
    assert np.all(np.diff(rets) > 0) and np.all(np.diff(vols) > -1e-9)
    assert all(abs(w.sum() - 1) < 1e-9 and (w >= -1e-12).all() for w in points)


def test_sector_bounds_are_respected(data) -> None:  # type: ignore[no-untyped-def]
    mu, cov, _ = data
    sectors = {"AAPL": "tech", "AMD": "tech", "AMZN": "tech", "JPM": "fin", "BAC": "fin"}
    c = pf.build_constraints(SYMBOLS, (0.0, 1.0), sectors, {"tech": (0.0, 0.1), "fin": (0.2, 0.5)})
    w = pf.max_sharpe(mu, cov, c, 0.0)
    tech = sum(w[SYMBOLS.index(s)] for s in ("AAPL", "AMD", "AMZN"))
    fin = sum(w[SYMBOLS.index(s)] for s in ("JPM", "BAC"))
    assert tech <= 0.1 + 1e-8 and 0.2 - 1e-8 <= fin <= 0.5 + 1e-8


@pytest.mark.parametrize(
    ("bounds", "sectors", "sector_bounds", "message"),
    [
        ((0.0, 0.05), None, None, "bounds cannot sum to 1"),
        ((0.1, 1.0), None, None, "bounds cannot sum to 1"),
        ((0.0, 0.2), {"AAPL": "tech"}, {"tech": (0.3, 1.0)}, "sector 'tech' bounds"),
    ],
)
def test_infeasible_constraints_are_named(bounds, sectors, sector_bounds, message) -> None:  # type: ignore[no-untyped-def]
    c = pf.build_constraints(SYMBOLS, bounds, sectors, sector_bounds)
    with pytest.raises(ModelInputError, match=message) as info:
        pf.check_feasible(c)
    assert info.value.code == "infeasible"


def test_unreachable_targets_are_named(data) -> None:  # type: ignore[no-untyped-def]
    mu, cov, _ = data
    c = pf.build_constraints(SYMBOLS, (0.0, 1.0), None, None)
    with pytest.raises(ModelInputError, match="exceeds the highest attainable"):
        pf.target_return_portfolio(mu, cov, c, float(mu.max()) + 0.01)
    with pytest.raises(ModelInputError, match="below the minimum attainable"):
        pf.target_volatility_portfolio(mu, cov, c, 0.01)
    with pytest.raises(ModelInputError, match="above the risk-free"):
        pf.max_sharpe(mu, cov, c, risk_free_rate=float(mu.max()) + 0.01)


def test_ledoit_wolf_against_its_formula_written_out(data) -> None:  # type: ignore[no-untyped-def]
    _, _, r = data
    x = r - r.mean(axis=0)
    n, p = x.shape
    s = x.T @ x / n
    m = np.trace(s) / p
    d2 = np.linalg.norm(s - m * np.eye(p), "fro") ** 2 / p
    b2 = sum(np.linalg.norm(np.outer(x[k], x[k]) - s, "fro") ** 2 for k in range(n)) / n**2 / p
    shrink = min(b2, d2) / d2
    expected = shrink * m * np.eye(p) + (1 - shrink) * s
    got, intensity = estimators.ledoit_wolf(r)
    assert intensity == pytest.approx(shrink, rel=1e-9)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_cagr_returns(data) -> None:  # type: ignore[no-untyped-def]
    prices = np.array([[100.0, 50.0], [110.0, 50.0], [121.0, 55.0]])
    r = prices[1:] / prices[:-1] - 1
    np.testing.assert_allclose(
        estimators.expected_returns(prices, r, "cagr"),
        [1.21 ** (252 / 2) - 1, 1.1 ** (252 / 2) - 1],
    )


def test_a_100_asset_frontier_matches_a_second_solver() -> None:
    """A factor model of 100 assets (SLSQP stopped at its iteration limit on this
    frontier): every point feasible, the frontier rising, one point cross-checked with
    SciPy's trust-constr (given the variance's exact gradient and Hessian: by finite
    differences over 100 variables it took 20 s)."""
    rng = np.random.default_rng(6)
    factors = rng.normal(0, 0.01, size=(1500, 5))
    r = factors @ rng.normal(0, 1, size=(5, 100)) + rng.normal(0.0004, 0.01, (1500, 100))
    mu, cov = r.mean(axis=0) * 252, np.cov(r, rowvar=False) * 252
    c = pf.build_constraints([str(i) for i in range(100)], (0.0, 1.0), None, None)
    points = pf.frontier(mu, cov, c, 50)
    rets = np.array([mu @ w for w in points])
    vols = np.array([math.sqrt(w @ cov @ w) for w in points])
    assert np.all(np.diff(rets) > 0) and np.all(np.diff(vols) > -1e-12)
    assert all(abs(w.sum() - 1) < 1e-12 and (w >= 0).all() for w in points)
    middle = points[25]
    ref = _trust_constr(
        lambda x: x @ cov @ x,
        100,
        extra=[LinearConstraint(mu[None, :], rets[25], rets[25])],
        jac=lambda x: 2 * cov @ x,
        hess=lambda x: 2 * cov,
    )
    assert middle @ cov @ middle <= ref @ cov @ ref * (1 + 1e-7)
    assert middle @ cov @ middle == pytest.approx(ref @ cov @ ref, rel=1e-5)


def test_a_target_volatility_above_the_top_return_portfolio_gets_that_portfolio(data) -> None:  # type: ignore[no-untyped-def]
    """CONTRACT target_volatility: the highest return with volatility <= target. When even
    the highest-return portfolio is within the target, that is the answer."""
    mu, cov, _ = data
    c = pf.build_constraints(SYMBOLS, (0.0, 0.25), None, None)
    w = pf.target_volatility_portfolio(mu, cov, c, 5.0)
    # the highest attainable return under these bounds: the four best assets at 25%
    assert mu @ w == pytest.approx(np.sort(mu)[-4:].sum() * 0.25, rel=1e-12)
    assert math.sqrt(w @ cov @ w) <= 5.0
