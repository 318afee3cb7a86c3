"""Risk metrics against hand-computed values and an independent implementation
(Python's ``statistics`` module, plain loops) on the real sample data."""

from __future__ import annotations

import math
import statistics
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.models import risk
from quantrun.models.history import align
from quantrun.models.kernels.statistics import _select
from quantrun.models.risk import series_metrics

SQRT252 = math.sqrt(252)


def test_hand_computed_three_day_series() -> None:
    # prices 100, 110, 99, 108.9 -> returns +10%, -10%, +10%
    r = np.array([0.10, -0.10, 0.10])
    b = r / 2  # benchmark moves half as much: beta 2, alpha 0
    m = series_metrics(r, b)
    # mean 1/30; deviations (1/15, -2/15, 1/15) -> sample variance (6/225)/2 = 1/75
    std = math.sqrt(1 / 75)
    assert m.annual_volatility == pytest.approx(std * SQRT252, rel=1e-12)
    assert m.sharpe == pytest.approx((1 / 30) / std * SQRT252, rel=1e-12)  # 4.5826
    assert m.sharpe == pytest.approx(4.5826, abs=1e-4)
    # downside deviation sqrt((0 + 0.01 + 0) / 3)
    assert m.sortino == pytest.approx((1 / 30) / math.sqrt(0.01 / 3) * SQRT252, rel=1e-12)
    assert m.sortino == pytest.approx(9.1652, abs=1e-4)
    # equity 1, 1.1, 0.99, 1.089: the 0.99 after the 1.1 peak is the worst, -10%
    assert m.max_drawdown == pytest.approx(-0.10, rel=1e-12)
    assert m.total_return == pytest.approx(0.089, rel=1e-12)
    assert m.cagr == pytest.approx(1.089 ** (252 / 3) - 1, rel=1e-12)
    assert m.calmar == pytest.approx(m.cagr / 0.10, rel=1e-12)
    assert m.beta == pytest.approx(2.0, rel=1e-12)
    assert m.alpha == pytest.approx(0.0, abs=1e-12)
    # sorted -0.1, 0.1, 0.1: the 5% linear quantile sits 0.1 of the way from -0.1 to 0.1
    assert m.var_95 == pytest.approx(0.08, rel=1e-12)
    assert m.cvar_95 == pytest.approx(0.10, rel=1e-12)


def test_a_loss_on_the_first_day_is_a_drawdown() -> None:
    m = series_metrics(np.array([-0.05, 0.02, 0.01]), None)
    assert m.max_drawdown == pytest.approx(-0.05)


def test_risk_free_rate_enters_sharpe_and_alpha_per_day() -> None:
    rng = np.random.default_rng(1)
    r, b = rng.normal(0.001, 0.01, 500), rng.normal(0.0005, 0.008, 500)
    m = series_metrics(r, b, risk_free_rate=0.0252)
    e = r - 0.0252 / 252
    assert m.sharpe == pytest.approx(e.mean() / e.std(ddof=1) * SQRT252, rel=1e-12)
    beta = np.cov(r, b)[0, 1] / b.var(ddof=1)
    assert m.alpha == pytest.approx((e.mean() - beta * (b - 0.0001).mean()) * 252, rel=1e-10)


def test_undefined_ratios_are_none_not_nan() -> None:
    m = series_metrics(np.full(30, 0.001), np.full(30, 0.0))
    assert m.sharpe is None and m.sortino is None and m.calmar is None and m.beta is None
    assert m.max_drawdown == 0.0


@pytest.fixture(scope="module")
def sample_store() -> DuckDBPriceStore:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    return store


def _reference(prices: list[float], bench: list[float]) -> dict[str, float]:
    """Straight from the contract's definitions, with plain Python."""
    r = [prices[i] / prices[i - 1] - 1 for i in range(1, len(prices))]
    b = [bench[i] / bench[i - 1] - 1 for i in range(1, len(bench))]
    equity, peak, mdd = 1.0, 1.0, 0.0
    for x in r:
        equity *= 1 + x
        peak = max(peak, equity)
        mdd = min(mdd, equity / peak - 1)
    n = len(r)
    cagr = (prices[-1] / prices[0]) ** (252 / n) - 1
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / n)
    beta = statistics.covariance(r, b) / statistics.variance(b)
    return {
        "cagr": cagr,
        "annual_volatility": statistics.stdev(r) * SQRT252,
        "sharpe": statistics.mean(r) / statistics.stdev(r) * SQRT252,
        "sortino": statistics.mean(r) / down * SQRT252,
        "max_drawdown": mdd,
        "calmar": cagr / abs(mdd),
        "beta": beta,
        "alpha": (statistics.mean(r) - beta * statistics.mean(b)) * 252,
    }


@pytest.mark.parametrize("symbol", ["AAPL", "XOM", "GOOG"])
def test_definitions_on_the_real_sample_data(sample_store: DuckDBPriceStore, symbol: str) -> None:
    matrix = sample_store.load_close([symbol, "SPY"], date(2015, 1, 1), date(2017, 12, 31))
    aligned = align(matrix.dates, matrix.close, [symbol, "SPY"])
    m = series_metrics(aligned.returns[:, 0], aligned.returns[:, 1])
    ref = _reference(aligned.prices[:, 0].tolist(), aligned.prices[:, 1].tolist())
    for name, expected in ref.items():
        assert getattr(m, name) == pytest.approx(expected, rel=1e-9), name
    assert m.observations == 754  # 755 trading days in 2015-2017, one return fewer


def test_benchmark_against_itself_has_beta_one_alpha_zero(sample_store: DuckDBPriceStore) -> None:
    matrix = sample_store.load_close(["SPY"], date(2010, 1, 1), date(2012, 12, 31))
    r = align(matrix.dates, matrix.close, ["SPY"]).returns[:, 0]
    m = series_metrics(r, r)
    assert m.beta == pytest.approx(1.0) and m.alpha == pytest.approx(0.0, abs=1e-12)


def test_matrix_kernel_matches_the_single_series_path() -> None:
    rng = np.random.default_rng(9)
    r = rng.normal(0.0005, 0.02, size=(600, 7))
    b = rng.normal(0.0003, 0.01, size=600)
    from quantrun.models.risk import metrics_matrix

    together = metrics_matrix(r, b, risk_free_rate=0.02)
    for j in range(7):
        alone = series_metrics(r[:, j], b, risk_free_rate=0.02)
        for name, value in vars(alone).items():
            assert getattr(together[j], name) == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_risk_metrics_aligns_each_series_with_the_benchmark(sample_store: DuckDBPriceStore) -> None:
    from quantrun.catalog.risk_metrics import SPEC
    from quantrun.catalog.spec import RunContext

    params = SPEC.params.model_validate(
        {"symbols": ["AAPL", "FB", "XOM"], "start": "2012-01-01", "end": "2013-12-31"}
    )
    out = SPEC.run(params, RunContext(load_prices=sample_store.load_close, charts=False))
    series = out.result["series"]
    assert list(series) == ["AAPL", "FB", "XOM"]
    assert (
        series["FB"]["first_date"] == "2012-05-18" and series["AAPL"]["first_date"] == "2012-01-03"
    )
    assert series["FB"]["dates_dropped"] > 0 and series["AAPL"]["dates_dropped"] == 0
    # the vectorised group gives what the pair-by-pair definition gives
    m = sample_store.load_close(["XOM", "SPY"], date(2012, 1, 1), date(2013, 12, 31))
    pair = align(m.dates, m.close, ["XOM", "SPY"])
    alone = series_metrics(pair.returns[:, 0], pair.returns[:, 1])
    assert series["XOM"]["sharpe"] == pytest.approx(alone.sharpe, rel=1e-12)
    assert series["XOM"]["beta"] == pytest.approx(alone.beta, rel=1e-12)


@pytest.mark.parametrize("n_days", [2, 3, 21, 400, 2520])
def test_compiled_statistics_match_their_numpy_twin(n_days: int) -> None:
    """Normal, heavy-tailed (Student t, 2 dof: the tail gathering's guess fails there),
    constant and all-negative series; with and without a benchmark; one and two threads."""
    rng = np.random.default_rng(n_days)
    normal = rng.normal(0.0004, 0.015, (n_days, 6))
    heavy = 0.01 * rng.standard_t(2, (n_days, 3))
    constant = np.full((n_days, 2), 0.001)
    falling = -np.abs(rng.normal(0.01, 0.005, (n_days, 1)))
    r = np.hstack([normal, heavy, constant, falling])
    bench = rng.normal(0.0003, 0.01, n_days)
    for b in (bench, None):
        twin = risk.statistics_numpy(r, b, 0.0001)
        one = risk.statistics_compiled(r, b, 0.0001)
        np.testing.assert_allclose(one, twin, rtol=1e-11, atol=1e-15)
        np.testing.assert_array_equal(risk.statistics_compiled(r, b, 0.0001, threads=2), one)


# a few distinct values, so runs of equal ones are common (days without a trade)
few_values = st.sampled_from([-0.02, -0.01, 0.0, 0.0, 0.01, 0.03])
any_values = st.floats(-1.0, 1.0, allow_nan=False)


@settings(deadline=None)  # the first example compiles the kernel
@given(st.lists(st.one_of(few_values, any_values), min_size=1, max_size=300), st.data())
def test_the_tails_selection_orders_values_as_np_partition_does(
    values: list[float], data: st.DataObject
) -> None:
    """The quickselect behind the 5% quantile: a[kth] is the kth smallest, nothing larger
    before it and nothing smaller after it, the values only reordered."""
    a = np.array(values)
    kth = data.draw(st.integers(0, a.size - 1))
    part = _select(a.copy(), kth)
    assert part[kth] == np.sort(a)[kth]
    assert (part[:kth] <= part[kth]).all() and (part[kth + 1 :] >= part[kth]).all()
    np.testing.assert_array_equal(np.sort(part), np.sort(a))


@pytest.mark.parametrize(
    "series",
    [np.zeros(2520), np.arange(2520.0), np.arange(2520.0)[::-1].copy(), np.tile([1.0, 0.0], 1260)],
    ids=["constant", "rising", "falling", "alternating"],
)
def test_the_tails_selection_of_ordered_and_equal_runs(series: np.ndarray) -> None:
    for kth in (0, 125, 126, 1259, 2519):
        part = _select(series.copy(), kth)
        assert part[kth] == np.sort(series)[kth]
        assert (part[:kth] <= part[kth]).all() and (part[kth + 1 :] >= part[kth]).all()


def test_the_tails_selection_returns_on_nan() -> None:
    """A NaN pivot orders nothing: the search must still end (np.partition puts NaN
    last; a series with NaN has no meaningful quantile, but must not hang a worker)."""
    import threading

    nan = float("nan")
    cases = [np.array([nan, 1.0, nan, 0.5, 2.0, nan]), np.full(7, nan), np.array([nan, 0.0] * 50)]
    done: list[int] = []

    def select_all() -> None:
        for a in cases:
            for kth in range(a.size):
                _select(a.copy(), kth)
                done.append(kth)

    worker = threading.Thread(target=select_all, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive() and len(done) == sum(a.size for a in cases)
