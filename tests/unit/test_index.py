"""Rules-based index: calendar, risk parity, and a loop re-implementation of the level."""

from __future__ import annotations

import numpy as np
import pytest

from quantrun.models.index import build_index, rebalance_flags, risk_parity_weights, target_weights


def _dates(n: int) -> np.ndarray:
    days = np.arange(np.datetime64("2021-01-01"), np.datetime64("2023-12-31"))
    weekdays = days[np.is_busday(days)]
    return weekdays[:n]


def test_rebalance_on_the_last_trading_day_of_each_period() -> None:
    d = _dates(70)
    monthly = d[rebalance_flags(d, "monthly")]
    assert [str(x) for x in monthly[:3]] == ["2021-01-29", "2021-02-26", "2021-03-31"]
    weekly = d[rebalance_flags(d, "weekly")]
    assert all(np.is_busday(x, weekmask="Fri") for x in weekly[:-1])
    quarterly = d[rebalance_flags(d, "quarterly")]
    assert str(quarterly[0]) == "2021-03-31"


def test_risk_parity_gives_equal_risk_contributions() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T / 6 + np.diag(rng.uniform(0.1, 1, 6))
    w = risk_parity_weights(cov)
    contributions = w * (cov @ w)
    np.testing.assert_allclose(contributions, contributions.mean(), rtol=1e-9)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()


def test_target_weights_sum_to_one_and_rank_momentum() -> None:
    rng = np.random.default_rng(3)
    window = 100 * np.cumprod(1 + rng.normal(0, 0.01, size=(64, 5)), axis=0)
    for rule in ("equal", "inverse_volatility", "risk_parity", "min_variance", "momentum"):
        w = target_weights(rule, window, top_n=2)
        assert w.sum() == pytest.approx(1.0) and (w >= -1e-12).all(), rule
    mom = target_weights("momentum", window, top_n=2)
    best = np.argsort(-(window[-1] / window[0]))[:2]
    assert set(np.flatnonzero(mom)) == set(best)


def test_equal_weight_level_matches_a_loop_with_fees() -> None:
    rng = np.random.default_rng(4)
    n, k = 130, 3
    dates = _dates(n)
    close = 20 * np.cumprod(1 + rng.normal(0.0005, 0.015, size=(n, k)), axis=0)
    res = build_index(
        dates,
        close,
        ["A", "B", "C"],
        weighting="equal",
        rebalance="monthly",
        lookback_days=10,
        top_n=None,
        fees_bps=25,
    )
    flags = rebalance_flags(dates, "monthly")
    cost = 25 / 10_000
    level = 100.0
    units = np.zeros(k)
    expected = []
    for t in range(n):
        if t > 0:
            level = float(units @ close[t])
        if t == 0 or (flags[t] and t < n - 1):
            drifted = units * close[t] / level if t > 0 else np.zeros(k)
            target = np.full(k, 1 / k)
            level -= cost * np.abs(target - drifted).sum() * level
            units = target * level / close[t]
        expected.append(level)
    np.testing.assert_allclose(res.levels, expected, rtol=1e-12)
    assert res.fees_paid > 0 and len(res.rebalance_dates) == int(flags[:-1].sum()) + 1


def test_late_listing_joins_at_a_rebalance_once_it_has_history() -> None:
    rng = np.random.default_rng(5)
    n = 200
    dates = _dates(n)
    close = 50 * np.cumprod(1 + rng.normal(0, 0.01, size=(n, 2)), axis=0)
    close[:80, 1] = np.nan
    res = build_index(
        dates,
        close,
        ["OLD", "NEW"],
        weighting="inverse_volatility",
        rebalance="monthly",
        lookback_days=20,
        top_n=None,
        fees_bps=0,
    )
    first_new = next(i for i, w in enumerate(res.weights) if w[1] > 0)
    joined = res.rebalance_dates[first_new]
    assert joined >= dates[80 + 20]
    assert not np.isnan(res.levels).any()
