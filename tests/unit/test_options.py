"""Black-Scholes-Merton against textbook values, parity and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrun.models.options import black_scholes
from tests.harness.doubles import POSITIVE, rates


def test_hull_example_15_6_call_and_put() -> None:
    # Hull, Options, Futures, and Other Derivatives (9th ed.), Example 15.6:
    # S0=42, K=40, r=10%, sigma=20%, T=0.5 -> c = 4.76, p = 0.81.
    call = black_scholes(True, 42, 40, 0.5, 0.10, 0.20)
    put = black_scholes(False, 42, 40, 0.5, 0.10, 0.20)
    assert float(call.price) == pytest.approx(4.76, abs=0.005)
    assert float(put.price) == pytest.approx(0.81, abs=0.005)


def test_hull_chapter_19_greeks_of_the_20_week_call() -> None:
    # Hull (9th ed.), ch. 19 running example: S0=49, K=50, r=5%, sigma=20%, T=20 weeks
    # (0.3846 y). Price 2.40; delta 0.522, gamma 0.066, vega 12.1 (per 1.00 vol),
    # theta -4.31 (per year), rho 8.91 (per 1.00 rate).
    g = black_scholes(True, 49, 50, 0.3846, 0.05, 0.20)
    assert float(g.price) == pytest.approx(2.40, abs=0.005)
    assert float(g.delta) == pytest.approx(0.522, abs=0.0005)
    assert float(g.gamma) == pytest.approx(0.066, abs=0.0005)
    assert float(g.vega) == pytest.approx(12.1, abs=0.05)
    assert float(g.theta) == pytest.approx(-4.31, abs=0.005)
    assert float(g.rho) == pytest.approx(8.91, abs=0.005)


def test_haug_generalised_bs_and_merton_dividend_examples() -> None:
    # Haug, The Complete Guide to Option Pricing Formulas (2nd ed.), section 1.1:
    # S=60, K=65, T=0.25, r=8%, b=r (no dividend), sigma=30% -> call 2.1334.
    assert float(black_scholes(True, 60, 65, 0.25, 0.08, 0.30).price) == pytest.approx(
        2.1334, abs=5e-5
    )
    # Haug 1.1.1 (Merton 1973): S=100, K=95, T=0.5, r=10%, q=5%, sigma=20% -> put 2.4648.
    assert float(black_scholes(False, 100, 95, 0.5, 0.10, 0.20, 0.05).price) == pytest.approx(
        2.4648, abs=5e-5
    )


@pytest.fixture
def grid() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 2000
    return {
        "spot": rng.uniform(20, 200, n),
        "strike": rng.uniform(20, 200, n),
        "maturity": rng.uniform(0.01, 5, n),
        "rate": rng.uniform(-0.01, 0.1, n),
        "volatility": rng.uniform(0.05, 1.0, n),
        "dividend_yield": rng.uniform(0, 0.06, n),
    }


def test_put_call_parity_over_a_random_grid(grid: dict[str, np.ndarray]) -> None:
    s, k, t, r, q = (
        grid["spot"],
        grid["strike"],
        grid["maturity"],
        grid["rate"],
        grid["dividend_yield"],
    )
    args = (s, k, t, r, grid["volatility"], q)
    c = black_scholes(True, *args).price
    p = black_scholes(False, *args).price
    np.testing.assert_allclose(c - p, s * np.exp(-q * t) - k * np.exp(-r * t), atol=1e-9)


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_match_central_finite_differences(
    grid: dict[str, np.ndarray], is_call: bool
) -> None:
    g = dict(grid)
    base = black_scholes(is_call, **g)

    def bumped(name: str, h: np.ndarray) -> np.ndarray:
        up = black_scholes(is_call, **{**g, name: g[name] + h}).price
        dn = black_scholes(is_call, **{**g, name: g[name] - h}).price
        return (up - dn) / (2 * h)

    hs = 1e-4 * g["spot"]
    np.testing.assert_allclose(base.delta, bumped("spot", hs), atol=1e-6, rtol=1e-5)
    gamma_fd = (
        black_scholes(is_call, **{**g, "spot": g["spot"] + hs}).delta
        - black_scholes(is_call, **{**g, "spot": g["spot"] - hs}).delta
    ) / (2 * hs)
    np.testing.assert_allclose(base.gamma, gamma_fd, atol=1e-6, rtol=1e-4)
    np.testing.assert_allclose(
        base.vega, bumped("volatility", np.full_like(hs, 1e-5)), atol=1e-5, rtol=1e-5
    )
    np.testing.assert_allclose(
        base.rho, bumped("rate", np.full_like(hs, 1e-6)), atol=1e-5, rtol=1e-5
    )
    # theta is minus the derivative in time to maturity (calendar time passing)
    np.testing.assert_allclose(
        base.theta, -bumped("maturity", np.full_like(hs, 1e-6)), atol=1e-4, rtol=1e-4
    )


def test_inputs_broadcast_like_numpy() -> None:
    strikes = np.array([[90.0], [100.0], [110.0]])
    vols = np.array([0.1, 0.2, 0.3, 0.4])
    out = black_scholes(True, 100.0, strikes, 1.0, 0.05, vols)
    assert out.price.shape == (3, 4)
    assert float(out.price[1, 1]) == pytest.approx(
        float(black_scholes(True, 100, 100, 1, 0.05, 0.2).price)
    )
    # a call is worth more at a lower strike and at a higher volatility
    assert np.all(np.diff(out.price, axis=0) < 0)
    assert np.all(np.diff(out.price, axis=1) > 0)


def test_deep_itm_and_otm_limits() -> None:
    deep_itm = black_scholes(True, 1000, 1, 1.0, 0.05, 0.2)
    assert float(deep_itm.price) == pytest.approx(1000 - np.exp(-0.05), rel=1e-12)
    assert float(deep_itm.delta) == pytest.approx(1.0)
    deep_otm = black_scholes(True, 1, 1000, 1.0, 0.05, 0.2)
    assert 0.0 <= float(deep_otm.price) < 1e-200
    assert np.isfinite(deep_otm.gamma)


def test_prices_at_extremes_against_60_digit_arithmetic() -> None:
    """Spot and strike up to 300 orders of magnitude apart, maturities of an hour to a
    century, volatilities of 0.1% to 3,000%, against the closed form evaluated in mpmath
    at 60 digits: price and delta within 1e-12 of the value (or of 1, for values below
    1). Out here the kernel takes exp(-d^2 / 2) of d1 or d2 from the other's by the
    identity S e^-qT phi(d1) = K e^-rT phi(d2); the numpy twin, which evaluates both,
    is off by up to 1e-11 on such options."""
    import mpmath

    rng = np.random.default_rng(8)
    n = 400
    c = rng.random(n) < 0.5
    s, k = 10 ** rng.uniform(-150, 150, n), 10 ** rng.uniform(-150, 150, n)
    t, r = 10 ** rng.uniform(-4, 2, n), rng.uniform(-0.05, 0.2, n)
    v, q = 10 ** rng.uniform(-3, 1.5, n), rng.uniform(0, 0.1, n)
    got = black_scholes(c, s, k, t, r, v, q)
    with mpmath.workdps(60):  # mpmath's precision is global: set for this block only
        for i in range(n):
            si, ki, ti, ri, vi, qi = (mpmath.mpf(float(x[i])) for x in (s, k, t, r, v, q))
            d1 = (mpmath.log(si / ki) + (ri - qi + vi**2 / 2) * ti) / (vi * mpmath.sqrt(ti))
            d2 = d1 - vi * mpmath.sqrt(ti)
            sign = 1 if c[i] else -1
            fwd, pv = si * mpmath.exp(-qi * ti), ki * mpmath.exp(-ri * ti)
            price = sign * (fwd * mpmath.ncdf(sign * d1) - pv * mpmath.ncdf(sign * d2))
            delta = sign * mpmath.exp(-qi * ti) * mpmath.ncdf(sign * d1)
            for name, ours, true in (
                ("price", got.price[i], price),
                ("delta", got.delta[i], delta),
            ):
                gap = abs(mpmath.mpf(float(ours)) - true) / max(1, abs(true))
                assert gap <= 1e-12, (name, i, float(gap))


def test_the_compiled_kernel_matches_its_numpy_twin() -> None:
    """Random options incl. dividends, deep in/out of the money and short maturities,
    broadcast against scalars, on one and two threads."""
    rng = np.random.default_rng(21)
    n = 20_000
    args = (
        rng.random(n) < 0.5,
        rng.uniform(20, 200, n),
        rng.uniform(20, 200, n),
        rng.uniform(1 / 365, 5, n),
        0.03,
        rng.uniform(0.01, 1.5, n),
        rng.uniform(0, 0.05, n),
    )
    twin = black_scholes(*args, engine="numpy")
    for threads in (1, 2):
        got = black_scholes(*args, threads=threads)
        for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
            np.testing.assert_allclose(
                getattr(got, name), getattr(twin, name), rtol=1e-12, atol=1e-12, err_msg=name
            )
    scalar = black_scholes(True, 100.0, 95.0, 0.5, 0.05, 0.2)
    assert scalar.price.shape == () and float(scalar.price) == pytest.approx(
        float(black_scholes(True, 100.0, 95.0, 0.5, 0.05, 0.2, engine="numpy").price), rel=1e-14
    )


def test_a_spot_strike_ratio_beyond_the_doubles_is_priced_as_the_twin_prices_it() -> None:
    """spot / strike over the largest double (inf) or under the least normal one: the
    kernel's vectorised log takes normal numbers only, and answered NaN (the call at
    spot 1, strike 1e-310: worth 0.99, its forward less a strike of nothing)."""
    spot = np.array([1.0, 1e308, 5e-324, 1e-310, 2.2e-308, 100.0])
    strike = np.array([1e-310, 5e-324, 1e308, 1.0, 1.0, 95.0])
    for is_call in (True, False):
        got = black_scholes(is_call, spot, strike, 1.0, 0.05, 0.2, 0.01)
        with np.errstate(all="ignore"):
            twin = black_scholes(is_call, spot, strike, 1.0, 0.05, 0.2, 0.01, engine="numpy")
        for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
            assert np.isfinite(getattr(got, name)).all(), (is_call, name)
            np.testing.assert_allclose(
                getattr(got, name), getattr(twin, name), rtol=1e-12, atol=1e-300, err_msg=name
            )
    call = black_scholes(True, 1.0, 1e-310, 1.0, 0.05, 0.2, 0.01)
    assert float(call.price) == pytest.approx(math.exp(-0.01), rel=1e-15)


RATE = rates(1e6)


@settings(max_examples=2000, deadline=None)
@given(st.booleans(), POSITIVE, POSITIVE, POSITIVE, RATE, POSITIVE, RATE)
def test_the_kernel_prices_every_input_as_its_twin_does(
    is_call: bool, s: float, k: float, t: float, r: float, v: float, q: float
) -> None:
    """Over the whole range the params schema lets through (positive doubles down to the
    subnormals, rates of either sign): where the formulas give a number, the kernel gives
    it, to rounding of the terms a Greek sums. (20,000 examples found a NaN price at
    spot / strike beyond the doubles, exp clamped at exp(-708) where a Greek multiplied it
    by 1e315, 0/0 where the forward and the discounted strike both underflowed, and a
    gamma of inf for a subnormal spot; all mended.)"""
    with np.errstate(all="ignore"):
        got = black_scholes(is_call, s, k, t, r, v, q)
        twin = black_scholes(is_call, s, k, t, r, v, q, engine="numpy")
        forward, discounted_strike = s * np.exp(-q * t), k * np.exp(-r * t)
    # the largest finite term: where the forward overflows, its Greeks that stay finite
    # (rho, the strike's) are held to the strike's scale
    sizes = [x for x in (1.0, s, k, float(forward), float(discounted_strike)) if x < math.inf]
    scale = min(max(sizes) * max(1.0, abs(r), abs(q)), 1.7e308)
    for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
        ours, theirs = float(getattr(got, name)), float(getattr(twin, name))
        if math.isfinite(theirs):
            assert abs(ours - theirs) <= 1e-9 * abs(theirs) + 1e-12 * scale, (name, ours, theirs)
