"""VaR/CVaR: hand-computed historical values, the normal closed form, Monte Carlo
converging to it, and the seeded reproducibility of the Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from quantrun.models.var import historical_var, monte_carlo_var, parametric_var


def test_historical_on_a_hand_sized_sample() -> None:
    # one asset, returns -5%, -3%, -1%, 1%, 2% on 1,000: losses 50, 30, 10, -10, -20
    r = np.array([[-0.05], [-0.03], [-0.01], [0.01], [0.02]])
    res = historical_var(r, np.array([1.0]), confidence=0.8, horizon_days=1, value=1000)
    # sorted losses -20, -10, 10, 30, 50; 80% quantile at position 3.2 -> 30 + 0.2 * 20 = 34
    assert res.var == pytest.approx(34.0)
    assert res.cvar == pytest.approx(50.0)  # mean of the losses at or beyond 34
    assert res.observations == 5


def test_historical_horizon_compounds_overlapping_windows() -> None:
    r = np.array([[0.10], [-0.10], [0.10], [-0.10]])
    res = historical_var(r, np.array([1.0]), confidence=0.5, horizon_days=2, value=100)
    # two-day returns: 1.1*0.9-1 = -1%, 0.9*1.1-1 = -1%, -1%: every loss is 1
    assert res.observations == 3 and res.var == pytest.approx(1.0)


def test_parametric_matches_the_normal_formula() -> None:
    rng = np.random.default_rng(4)
    r = rng.normal([0.0005, 0.0002], [0.01, 0.02], size=(1000, 2))
    w = np.array([0.6, 0.4])
    res = parametric_var(r, w, confidence=0.99, horizon_days=10, value=1e6)
    mu = float(r.mean(axis=0) @ w) * 10
    sigma = math.sqrt(float(w @ np.cov(r, rowvar=False) @ w) * 10)
    z = norm.ppf(0.99)
    assert res.var == pytest.approx(1e6 * (z * sigma - mu), rel=1e-12)
    assert res.cvar == pytest.approx(1e6 * (sigma * norm.pdf(z) / 0.01 - mu), rel=1e-12)
    assert res.cvar > res.var > 0


def test_monte_carlo_converges_to_parametric() -> None:
    rng = np.random.default_rng(5)
    r = (
        rng.normal(0.0003, 0.012, size=(750, 5))
        @ np.linalg.cholesky(0.5 * np.eye(5) + 0.5 * np.ones((5, 5))).T
    )
    w = np.full(5, 0.2)
    exact = parametric_var(r, w, confidence=0.99, horizon_days=5, value=1e6)
    mc = monte_carlo_var(
        r, w, confidence=0.99, horizon_days=5, value=1e6, scenarios=400_000, seed=1
    )
    assert mc.var == pytest.approx(exact.var, rel=0.01)
    assert mc.cvar == pytest.approx(exact.cvar, rel=0.015)


def test_monte_carlo_is_reproducible_for_a_seed() -> None:
    r = np.random.default_rng(6).normal(0, 0.01, size=(300, 3))
    w = np.array([0.5, 0.3, 0.2])
    a = monte_carlo_var(r, w, confidence=0.95, horizon_days=1, value=1.0, scenarios=100_000, seed=9)
    b = monte_carlo_var(r, w, confidence=0.95, horizon_days=1, value=1.0, scenarios=100_000, seed=9)
    c = monte_carlo_var(r, w, confidence=0.95, horizon_days=1, value=1.0, scenarios=100_000, seed=8)
    assert a.var == b.var and a.cvar == b.cvar and a.var != c.var
    two = monte_carlo_var(
        r, w, confidence=0.95, horizon_days=1, value=1.0, scenarios=100_000, seed=9, threads=2
    )
    assert (two.var, two.cvar) == (a.var, a.cvar)
