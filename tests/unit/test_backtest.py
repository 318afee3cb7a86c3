"""The vectorised backtester against a straightforward per-day loop written from the
module's definitions (random prices with late listings and gaps), to 1e-10."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantrun.models import backtest as bt

T, N = 400, 4


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    rng = np.random.default_rng(12)
    p = 50 * np.cumprod(1 + rng.normal(0.0004, 0.02, size=(T, N)), axis=0)
    p[:60, 1] = np.nan  # listed late
    p[350:, 2] = np.nan  # delisted
    p[[100, 101, 205], 3] = np.nan  # interior gaps
    return p


def loop_prices(close: np.ndarray) -> tuple[list[list[float | None]], list[list[int]]]:
    """Per symbol: prices with interior gaps carried, None outside the listed range; age."""
    prices, ages = [], []
    for j in range(close.shape[1]):
        col = close[:, j]
        obs = [i for i in range(len(col)) if not math.isnan(col[i])]
        first, last = obs[0], obs[-1]
        out: list[float | None] = []
        age = []
        carried = None
        for i in range(len(col)):
            if first <= i <= last:
                carried = col[i] if not math.isnan(col[i]) else carried
                out.append(carried)
                age.append(i - first + 1)
            else:
                out.append(None)
                age.append(0)
        prices.append(out)
        ages.append(age)
    return prices, ages


def loop_signal(
    strategy: str, k: dict[str, float], prices: list[float | None], ages: list[int]
) -> list[int]:
    n = len(prices)
    sig = [0] * n
    if strategy == "sma_cross":
        fast, slow = int(k["fast"]), int(k["slow"])
        for t in range(n):
            if ages[t] >= slow:
                f = sum(prices[t - i] for i in range(fast)) / fast  # type: ignore[misc]
                s = sum(prices[t - i] for i in range(slow)) / slow  # type: ignore[misc]
                sig[t] = int(f > s)
    elif strategy == "macd":
        fast, slow, signal = int(k["fast"]), int(k["slow"]), int(k["signal"])
        ef = es = line = None
        for t in range(n):
            p = prices[t]
            if p is None:
                continue
            af, as_, ag = 2 / (fast + 1), 2 / (slow + 1), 2 / (signal + 1)
            ef = p if ef is None else af * p + (1 - af) * ef
            es = p if es is None else as_ * p + (1 - as_) * es
            macd = ef - es
            line = macd if line is None else ag * macd + (1 - ag) * line
            sig[t] = int(macd > line and ages[t] >= slow + signal - 1)
    elif strategy == "rsi":
        period, lower, upper = int(k["period"]), k["lower"], k["upper"]
        g = l_ = None
        held = 0
        a = 1 / period
        for t in range(n):
            if ages[t] >= 2:
                ch = prices[t] - prices[t - 1]  # type: ignore[operator]
                gain, loss = max(ch, 0.0), max(-ch, 0.0)
                g = gain if g is None else a * gain + (1 - a) * g
                l_ = loss if l_ is None else a * loss + (1 - a) * l_
                if ages[t] >= period + 1:
                    value = (50.0 if g == 0 else 100.0) if l_ == 0 else 100 - 100 / (1 + g / l_)
                    if value < lower:
                        held = 1
                    elif value > upper:
                        held = 0
            sig[t] = held if prices[t] is not None else 0
    return sig


def loop_momentum(
    k: dict[str, float], prices: list[list[float | None]], ages: list[list[int]]
) -> list[list[int]]:
    lookback, top_n = int(k["lookback"]), int(k["top_n"])
    n_sym, n = len(prices), len(prices[0])
    sig = [[0] * n for _ in range(n_sym)]
    for t in range(n):
        scores = []
        for j in range(n_sym):
            if ages[j][t] > lookback and prices[j][t] is not None:
                scores.append((-(prices[j][t] / prices[j][t - lookback] - 1), j))  # type: ignore[operator]
        for _, j in sorted(scores)[:top_n]:
            sig[j][t] = 1
    return sig


def loop_equity(
    signals: list[list[int]], prices: list[list[float | None]], cash: float, cost: float
) -> tuple[list[float], int]:
    n_sym, n = len(signals), len(signals[0])
    total = [0.0] * n
    trades = 0
    for j in range(n_sym):
        e = cash / n_sym
        prev = 0
        for t in range(n):
            pos = signals[j][t] if prices[j][t] is not None else 0
            if t > 0 and prev and prices[j][t] is not None and prices[j][t - 1] is not None:
                e *= prices[j][t] / prices[j][t - 1]  # type: ignore[operator]
            if pos != prev:
                e *= 1 - cost
                trades += 1
            prev = pos
            total[t] += e
    return total, trades


CASES = [
    ("sma_cross", {"fast": [5, 20], "slow": [30, 60]}),
    ("macd", {"fast": [12], "slow": [26], "signal": [9]}),
    ("rsi", {"period": [14, 7], "lower": [30], "upper": [70]}),
    ("momentum", {"lookback": [20, 60], "top_n": [1, 2]}),
]


@pytest.mark.parametrize(("strategy", "lists"), CASES)
def test_vectorised_grid_matches_the_per_day_loop(
    close: np.ndarray, strategy: str, lists: dict[str, list[float]]
) -> None:
    grid, _ = bt.expand_grid(strategy, lists)
    cost = (7 + 3) / 10_000
    res = bt.run_grid(close, strategy, grid, initial_cash=1e6, fees_bps=7, slippage_bps=3)
    prices, ages = loop_prices(close)
    for i, k in enumerate(grid):
        if strategy == "momentum":
            signals = loop_momentum(k, prices, ages)
        else:
            signals = [loop_signal(strategy, k, prices[j], ages[j]) for j in range(N)]
        equity, trades = loop_equity(signals, prices, 1e6, cost)
        np.testing.assert_allclose(res.equity[i], equity, rtol=1e-10, atol=0)
        assert res.trades[i] == trades
        assert res.total_return[i] == pytest.approx(equity[-1] / 1e6 - 1, rel=1e-10)


def test_no_look_ahead_future_prices_do_not_change_the_past(close: np.ndarray) -> None:
    grid, _ = bt.expand_grid("sma_cross", {"fast": [5], "slow": [30]})
    base = bt.run_grid(close, "sma_cross", grid, initial_cash=1.0, fees_bps=0, slippage_bps=0)
    shocked = close.copy()
    shocked[300:] *= 3.0  # a jump after day 299
    alt = bt.run_grid(shocked, "sma_cross", grid, initial_cash=1.0, fees_bps=0, slippage_bps=0)
    np.testing.assert_array_equal(base.equity[0, :300], alt.equity[0, :300])


def test_metrics_follow_their_definitions(close: np.ndarray) -> None:
    grid, _ = bt.expand_grid("sma_cross", {"fast": [10], "slow": [40]})
    res = bt.run_grid(close, "sma_cross", grid, initial_cash=100.0, fees_bps=0, slippage_bps=0)
    eq = res.equity[0]
    daily = eq[1:] / eq[:-1] - 1
    assert res.sharpe[0] == pytest.approx(daily.mean() / daily.std(ddof=1) * math.sqrt(252))
    curve = np.concatenate([[100.0], eq])
    assert res.max_drawdown[0] == pytest.approx((curve / np.maximum.accumulate(curve) - 1).min())
    assert res.cagr[0] == pytest.approx((eq[-1] / 100) ** (252 / (T - 1)) - 1)


def test_invalid_combinations_are_skipped() -> None:
    grid, skipped = bt.expand_grid("sma_cross", {"fast": [10, 50], "slow": [20, 100]})
    assert skipped == 1 and {"fast": 50, "slow": 20} not in grid


@pytest.mark.parametrize(("strategy", "lists"), CASES)
def test_the_compiled_kernels_match_their_numpy_twin(
    close: np.ndarray, strategy: str, lists: dict[str, list[float]]
) -> None:
    """run_grid's kernels (sma_cross with the signal fused in) against `simulate` and
    the signal functions in numpy, and split over threads against one thread."""
    grid, _ = bt.expand_grid(strategy, lists)
    prepared = bt.prepare(close)
    positions = np.stack([bt.SIGNALS[strategy][1](prepared, k) for k in grid])
    equity, trades, traded = bt.simulate(positions, prepared, initial_cash=1e6, cost=1e-3)
    one = bt.run_grid(close, strategy, grid, initial_cash=1e6, fees_bps=7, slippage_bps=3)
    two = bt.run_grid(
        close, strategy, grid, initial_cash=1e6, fees_bps=7, slippage_bps=3, threads=2
    )
    np.testing.assert_allclose(one.equity, equity, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(one.trades, trades)
    _, _, _, _, turnover = bt.grid_metrics(equity, 1e6, traded)
    np.testing.assert_allclose(one.turnover, turnover, rtol=1e-13)
    np.testing.assert_array_equal(two.equity, one.equity)
