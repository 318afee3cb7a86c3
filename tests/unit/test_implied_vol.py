"""Implied volatility: round trips over a grid (deep ITM/OTM, short maturities), bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrun.models.implied_vol import STATUS_NAMES, implied_volatility
from quantrun.models.options import black_scholes
from tests.harness.doubles import POSITIVE, rates


def test_hull_example_15_6_prices_imply_twenty_percent() -> None:
    # Hull (9th ed.) Example 15.6: c = 4.76, p = 0.81 at sigma = 20% (prices to the cent)
    res = implied_volatility(np.array([True, False]), [4.76, 0.81], 42, 40, 0.5, 0.10)
    assert res.status.tolist() == [0, 0]
    np.testing.assert_allclose(res.vol, 0.20, atol=0.002)


def test_round_trip_over_a_grid_with_extreme_moneyness_and_maturity() -> None:
    spot = 100.0
    strikes = np.array([20, 50, 80, 95, 100, 105, 120, 200, 400], dtype=float)[:, None, None]
    maturities = np.array([1 / 365, 7 / 365, 0.1, 0.5, 1, 5])[None, :, None]
    vols = np.array([0.05, 0.2, 0.6, 1.5, 3.0])[None, None, :]
    for is_call in (True, False):
        price = black_scholes(
            is_call, spot, strikes, maturities, 0.03, vols, 0.01, greeks=False
        ).price
        vega = black_scholes(is_call, spot, strikes, maturities, 0.03, vols, 0.01).vega
        res = implied_volatility(is_call, price, spot, strikes, maturities, 0.03, 0.01)
        assert set(np.unique(res.status)) <= {0, 1, 2}
        assert not np.isnan(res.vol[res.status == 0]).any()
        # well-posed: the price carries information on volatility
        well_posed = (vega > 1e-4 * spot) & (res.status == 0)
        assert well_posed.sum() > 0.4 * well_posed.size
        err = np.abs(res.vol - vols)[well_posed]
        assert err.max() <= 1e-9
        # every option whose price sits at a bound is reported, not NaN
        assert np.all(np.isfinite(res.vol) | (res.status != 0))


def test_statuses_below_intrinsic_and_above_max() -> None:
    # call: lower bound S e^{-qT} - K e^{-rT}, upper bound S e^{-qT}
    lower = 100 - 80 * np.exp(-0.05)
    res = implied_volatility(True, [lower - 0.5, 100.0, 150.0, lower], 100, 80, 1.0, 0.05)
    names = [STATUS_NAMES[s] for s in res.status.tolist()]
    assert names == ["below_intrinsic", "above_max", "above_max", "ok"]
    assert np.isnan(res.vol[:3]).all() and res.vol[3] == 0.0


def test_random_well_posed_million_is_accurate() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    s, k = rng.uniform(50, 150, n), rng.uniform(50, 150, n)
    t, v, c = rng.uniform(0.02, 3, n), rng.uniform(0.05, 1.0, n), rng.random(n) < 0.5
    bs = black_scholes(c, s, k, t, 0.03, v, 0.01)
    res = implied_volatility(c, bs.price, s, k, t, 0.03, 0.01)
    assert (res.status == 0).all()
    ok = bs.vega > 1e-3 * s
    assert np.abs(res.vol[ok] - v[ok]).max() <= 1e-9


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_shapes_are_kept(shape: tuple[int, ...]) -> None:
    price = np.full(shape, 10.0)
    res = implied_volatility(True, price, 100, 100, 1.0, 0.0)
    assert res.vol.shape == shape and res.status.shape == shape


def test_the_compiled_kernel_matches_its_numpy_twin() -> None:
    """The same algorithm per option and on whole arrays: the same status everywhere
    (prices below intrinsic, at the bounds, beyond max_vol included), the same vols where
    vega carries information (elsewhere the kernel's erfc and SciPy's ndtr differ in the
    last bit, and both answers reprice the option); one and two threads."""
    rng = np.random.default_rng(22)
    n = 20_000
    c = rng.random(n) < 0.5
    s, k = rng.uniform(20, 200, n), rng.uniform(20, 200, n)
    t, v = rng.uniform(1 / 365, 5, n), rng.uniform(0.005, 3.0, n)
    price = black_scholes(c, s, k, t, 0.03, v, 0.01, greeks=False).price
    price[:300] *= rng.uniform(0.0, 1.5, 300)  # some below intrinsic, some impossible
    price[300:320] = np.where(c[300:320], s[300:320], k[300:320])  # at the upper bound
    twin = implied_volatility(c, price, s, k, t, 0.03, 0.01, engine="numpy")
    for threads in (1, 2):
        got = implied_volatility(c, price, s, k, t, 0.03, 0.01, threads=threads)
        np.testing.assert_array_equal(got.status, twin.status)
        ok = got.status == 0
        vega = black_scholes(c, s, k, t, 0.03, np.where(ok, got.vol, 0.2), 0.01).vega
        informative = ok & (vega >= 1e-3 * s)
        assert informative.mean() > 0.8
        np.testing.assert_allclose(got.vol[informative], twin.vol[informative], rtol=1e-10)
        repriced = black_scholes(c[ok], s[ok], k[ok], t[ok], 0.03, got.vol[ok], 0.01).price
        np.testing.assert_allclose(repriced, price[ok], rtol=1e-9, atol=1e-9)
    assert {STATUS_NAMES[x] for x in np.unique(twin.status)} >= {
        "ok",
        "below_intrinsic",
        "above_max",
    }


RATE = rates(1e3)


@settings(max_examples=1000, deadline=None)
@given(st.booleans(), POSITIVE, POSITIVE, POSITIVE, POSITIVE, RATE, RATE)
def test_the_kernel_solves_every_input_as_its_twin_does(
    is_call: bool, price: float, s: float, k: float, t: float, r: float, q: float
) -> None:
    """Over every positive double (subnormals to the largest) and rates of either sign:
    the same status; where both solve, the same volatility, or, where vega is too small
    for the price to pin it (the module docstring), a volatility that reprices the option
    to 1e-9. (30,000 examples run once: clean.)"""
    with np.errstate(all="ignore"):
        got = implied_volatility(is_call, price, s, k, t, r, q)
        twin = implied_volatility(is_call, price, s, k, t, r, q, engine="numpy")
    assert int(got.status) == int(twin.status)
    ours, theirs = float(got.vol), float(twin.vol)
    if math.isnan(theirs):
        assert math.isnan(ours)
    elif abs(ours - theirs) > 1e-9 * max(1.0, theirs):
        with np.errstate(all="ignore"):
            repriced = float(black_scholes(is_call, s, k, t, r, ours, q, engine="numpy").price)
        assert abs(repriced - price) <= 1e-9 * price, (ours, theirs, repriced, price)
