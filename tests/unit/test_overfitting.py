"""Overfitting diagnostics (CONTRACT 5.3) against the papers' worked example and values
computed independently here: a numerical integral for the expected maximum, scipy's
moments for the probabilistic Sharpe ratio, and a plain loop over the CSCV halves."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import integrate, stats

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.catalog.backtest import SPEC as BACKTEST
from quantrun.catalog.spec import RunContext
from quantrun.models import backtest as bt
from quantrun.models.overfitting import (
    deflated_sharpe,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probability_of_backtest_overfitting,
)


def test_the_papers_numerical_example() -> None:
    """Bailey and Lopez de Prado (2014), section 5: 100 trials whose annualised Sharpe
    ratios vary by 1/2, the best at 2.5 annualised over 1,250 daily observations with
    skewness -3 and kurtosis 10: SR0 ~ 0.1132 (daily) and DSR ~ 0.9004."""
    daily_sharpe = 2.5 / math.sqrt(250)
    assert expected_max_sharpe(100, 0.5 / 250) == pytest.approx(0.1132, abs=1e-4)
    dsr = deflated_sharpe_ratio(
        daily_sharpe,
        observations=1250,
        skewness=-3,
        kurtosis=10,
        trials=100,
        sharpe_variance=0.5 / 250,
    )
    assert dsr == pytest.approx(0.9004, abs=1e-4)


@pytest.mark.parametrize("trials", [10, 100, 1000])
def test_expected_maximum_is_close_to_the_exact_integral(trials: int) -> None:
    """E[max of N standard normals] = integral of x d(Phi(x)^N); the paper's closed form
    approximates it (better as N grows)."""
    exact, _ = integrate.quad(
        lambda x: x * trials * stats.norm.pdf(x) * stats.norm.cdf(x) ** (trials - 1), -10, 10
    )
    assert expected_max_sharpe(trials, 1.0) == pytest.approx(exact, rel=0.03)


def test_one_trial_is_the_probabilistic_sharpe_ratio() -> None:
    rng = np.random.default_rng(3)
    r = rng.standard_t(5, size=(750, 1)) * 0.01 + 0.0006
    got = deflated_sharpe(r)
    x = r[:, 0]
    sr = x.mean() / x.std(ddof=1)
    skew, kurt = stats.skew(x), stats.kurtosis(x, fisher=False)
    psr = stats.norm.cdf(
        sr * math.sqrt(len(x) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    assert got.trials == 1 and got.expected_max_sharpe == 0
    assert got.probability == pytest.approx(psr, abs=1e-12)


def test_more_trials_deflate_the_same_best_result() -> None:
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 0.01, size=(1000, 200))
    few, many = deflated_sharpe(noise[:, :5]), deflated_sharpe(noise)
    assert many.expected_max_sharpe > few.expected_max_sharpe
    # the best of 200 noise trials, judged alone, looks like skill; deflated, it does not
    alone = deflated_sharpe(noise[:, [int(np.argmax(noise.mean(0) / noise.std(0, ddof=1)))]])
    assert alone.sharpe == pytest.approx(many.sharpe, rel=1e-12)
    assert alone.probability > 0.99 and many.probability < alone.probability - 0.3


def naive_pbo(returns: np.ndarray, splits: int) -> tuple[float, list[float]]:
    """CSCV written out from the paper, one half at a time."""
    t, n = returns.shape
    size = t // splits
    rows = returns[t - size * splits :]
    blocks = [rows[i * size : (i + 1) * size] for i in range(splits)]
    logits = []
    for half in itertools.combinations(range(splits), splits // 2):
        train = np.vstack([blocks[i] for i in half])
        test = np.vstack([blocks[i] for i in range(splits) if i not in half])
        is_sr = train.mean(0) / train.std(0, ddof=1)
        oos_sr = test.mean(0) / test.std(0, ddof=1)
        best = int(np.argmax(is_sr))
        rank = stats.rankdata(oos_sr, method="min")[best]
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0)), logits


def test_pbo_matches_the_loop_over_every_half() -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0002, 0.01, size=(163, 7))  # 163 = 8 blocks of 20, 3 rows left
    got = probability_of_backtest_overfitting(returns, splits=8, chunk=16)
    expected, logits = naive_pbo(returns, 8)
    assert got.combinations == math.comb(8, 4) == len(logits)
    assert got.probability == expected
    np.testing.assert_allclose(got.logits, logits, rtol=1e-9)


def test_pbo_of_noise_is_high_and_of_a_real_edge_near_zero() -> None:
    """The halves are complementary: a trial that won in-sample by luck has, on the same
    data, less left for the other half, so noise overfits more often than not."""
    rng = np.random.default_rng(6)
    noise = rng.normal(0, 0.01, size=(1600, 20))
    assert probability_of_backtest_overfitting(noise).probability > 0.5
    edge = noise.copy()
    edge[:, 0] += 0.002  # one trial earns 0.2% a day more than the rest
    assert probability_of_backtest_overfitting(edge).probability < 0.05


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="two trials"):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="even"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), splits=5)
    with pytest.raises(ValueError, match="blocks of two"):
        probability_of_backtest_overfitting(np.zeros((20, 3)), splits=16)


@pytest.fixture(scope="module")
def sample_store() -> DuckDBPriceStore:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    return store


def test_a_backtest_grid_reports_both_on_the_sample_data(sample_store: DuckDBPriceStore) -> None:
    """sma_cross 4x4 on four sample stocks, 2010-2017: both diagnostics present, and equal
    to the functions applied to the grid's own daily returns (from its equity curves)."""
    params = BACKTEST.params.model_validate(
        {
            "symbols": ["AAPL", "XOM", "JPM", "WMT"],
            "start": "2010-01-01",
            "end": "2017-12-31",
            "strategy": {"name": "sma_cross", "fast": [5, 10, 20, 40], "slow": [50, 100, 150, 200]},
        }
    )
    out = BACKTEST.run(params, RunContext(load_prices=sample_store.load_close, charts=False))
    result = out.result
    matrix = sample_store.load_close(params.symbols, params.start, params.end)
    grid, _ = bt.expand_grid("sma_cross", params.grid_lists())
    equity = bt.run_grid(
        matrix.close, "sma_cross", grid, initial_cash=1e6, fees_bps=0, slippage_bps=0
    ).equity
    returns = (equity[:, 1:] / equity[:, :-1] - 1).T
    assert result["overfitting"]["trials"] == 16 == returns.shape[1]
    # from the sets' raw moment sums (as shards send them): the same to rounding
    assert result["deflated_sharpe"] == pytest.approx(
        deflated_sharpe(returns).probability, rel=1e-9
    )
    assert result["pbo"] == probability_of_backtest_overfitting(returns, 16).probability
    assert 0 <= result["deflated_sharpe"] <= 1 and 0 <= result["pbo"] <= 1
    assert result["overfitting"]["cscv_combinations"] == math.comb(16, 8)


def test_a_single_set_has_a_deflated_sharpe_and_no_pbo(sample_store: DuckDBPriceStore) -> None:
    params = BACKTEST.params.model_validate(
        {"symbols": ["AAPL"], "start": "2015-01-01", "end": "2017-12-31", "strategy": "sma_cross"}
    )
    result = BACKTEST.run(
        params, RunContext(load_prices=sample_store.load_close, charts=False)
    ).result
    assert result["pbo"] is None and result["overfitting"]["trials"] == 1
    assert result["overfitting"]["expected_max_sharpe_daily"] == 0.0  # one trial: the PSR


def test_cscv_splits_must_be_even() -> None:
    with pytest.raises(ValidationError, match="multiple of 2"):
        BACKTEST.params.model_validate(
            {
                "symbols": ["AAPL"],
                "start": "2015-01-01",
                "end": "2017-12-31",
                "strategy": "sma_cross",
                "cscv_splits": 7,
            }
        )
