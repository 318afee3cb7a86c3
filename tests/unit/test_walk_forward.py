"""walk_forward (CONTRACT 5.3) against independent paths: each window's choice equals the
best set of a plain `backtest` over that window's training dates, a one-set grid's
stitched out-of-sample returns equal the plain backtest's daily returns, and moving a
future price changes no earlier decision (no look-ahead)."""

from __future__ import annotations

import numpy as np
import pytest

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.catalog.backtest import SPEC as BACKTEST
from quantrun.catalog.spec import RunContext
from quantrun.catalog.walk_forward import SPEC as WALK_FORWARD
from quantrun.domain.errors import ModelInputError
from quantrun.models import backtest as bt
from quantrun.models import walk_forward as wf

COSTS = {"initial_cash": 1e6, "fees_bps": 5.0, "slippage_bps": 2.0}


@pytest.fixture(scope="module")
def store() -> DuckDBPriceStore:
    s = DuckDBPriceStore(":memory:")
    s.load_sample_data()
    return s


def test_windows_roll_or_anchor_and_the_last_test_is_shorter() -> None:
    rolling = wf.windows(1000, 504, 126, anchored=False)
    assert [(w.train, w.test) for w in rolling] == [
        ((0, 504), (504, 630)),
        ((126, 630), (630, 756)),
        ((252, 756), (756, 882)),
        ((378, 882), (882, 1000)),
    ]
    anchored = wf.windows(1000, 504, 126, anchored=True)
    assert [w.train for w in anchored] == [(0, 504), (0, 630), (0, 756), (0, 882)]
    assert wf.windows(504, 504, 126, anchored=False) == []


def _run(store: DuckDBPriceStore, **params: object) -> dict:
    p = WALK_FORWARD.params.model_validate(params)
    return WALK_FORWARD.run(p, RunContext(load_prices=store.load_close, charts=False)).result


@pytest.mark.parametrize("objective", ["sharpe", "total_return"])
def test_each_choice_is_the_best_backtest_of_its_training_window(
    store: DuckDBPriceStore, objective: str
) -> None:
    strategy = {"name": "sma_cross", "fast": [5, 10, 20], "slow": [50, 100]}
    common = {"symbols": ["AAPL", "XOM"], "strategy": strategy, "fees_bps": 5}
    result = _run(
        store,
        **common,
        start="2009-01-01",
        end="2014-12-31",
        train_days=252,
        test_days=252,
        objective=objective,
    )
    assert len(result["windows"]) == 5
    for w in result["windows"]:
        plain = BACKTEST.run(
            BACKTEST.params.model_validate(
                {**common, "start": w["train_start"], "end": w["train_end"]}
            ),
            RunContext(load_prices=store.load_close, charts=False),
        ).result
        best = max(
            plain["results"],
            key=lambda r: -np.inf if r[objective] is None else r[objective],
        )
        assert w["params"] == best["params"], w
        assert w["in_sample"][objective] == pytest.approx(best[objective], rel=1e-12)


def test_a_single_set_trades_like_the_plain_backtest_out_of_sample(
    store: DuckDBPriceStore,
) -> None:
    """One symbol, one set: each test window's returns are the plain backtest's returns on
    those days (the indicators are warm, the position the same), to 1e-12."""
    m = store.load_close(["JPM"], *_dates("2008-01-01", "2017-12-31"))
    grid = [{"fast": 20.0, "slow": 100.0}]
    done = one_set(m.close, grid)
    plain = bt.run_grid(m.close, "sma_cross", grid, **COSTS).equity[0]
    daily = plain[1:] / plain[:-1] - 1
    stitched = np.concatenate([w.returns for w in done])
    np.testing.assert_allclose(stitched, daily[300 - 1 :], rtol=0, atol=1e-12)


def test_a_future_price_changes_no_earlier_decision(store: DuckDBPriceStore) -> None:
    m = store.load_close(["AAPL", "XOM", "JPM"], *_dates("2008-01-01", "2017-12-31"))
    grid, _ = bt.expand_grid("sma_cross", {"fast": [5, 10, 20], "slow": [50, 100, 150]})
    kwargs = {"train_days": 504, "test_days": 126, "anchored": False, "objective": "sharpe"}
    before = wf.walk_forward(m.close, "sma_cross", grid, **kwargs, **COSTS)
    moved_row = before[3].window.test[0] + 40  # inside the fourth test window
    close = m.close.copy()
    close[moved_row, 0] *= 1.5
    after = wf.walk_forward(close, "sma_cross", grid, **kwargs, **COSTS)
    for b, a in zip(before[:4], after[:4], strict=True):
        assert a.chosen == b.chosen
        last = min(b.window.test[1], moved_row) - b.window.test[0]
        np.testing.assert_array_equal(a.returns[:last], b.returns[:last])
    # the move is seen: from that day on something differs
    assert any(
        a.chosen != b.chosen or not np.array_equal(a.returns, b.returns)
        for b, a in zip(before[3:], after[3:], strict=True)
    )


def test_stability_counts_choices_and_changes() -> None:
    chosen = [
        {"fast": 10.0, "slow": 50.0},
        {"fast": 10.0, "slow": 100.0},
        {"fast": 20.0, "slow": 100.0},
    ]
    assert wf.parameter_stability(chosen) == {
        "fast": {"chosen": {"10": 2, "20": 1}, "changes": 1},
        "slow": {"chosen": {"50": 1, "100": 2}, "changes": 1},
    }


def test_too_little_history_names_train_days(store: DuckDBPriceStore) -> None:
    with pytest.raises(ModelInputError, match="train_days"):
        _run(
            store,
            symbols=["AAPL"],
            start="2016-01-01",
            end="2016-12-31",
            strategy="sma_cross",
            train_days=504,
        )


def one_set(close: np.ndarray, grid: list[dict[str, float]]) -> list[wf.WindowResult]:
    """Rolling windows of 300 training and 200 test days."""
    return wf.walk_forward(
        close,
        "sma_cross",
        grid,
        train_days=300,
        test_days=200,
        anchored=False,
        objective="sharpe",
        **COSTS,
    )


def _dates(start: str, end: str) -> tuple:
    from datetime import date

    return date.fromisoformat(start), date.fromisoformat(end)


def test_a_symbol_not_yet_listed_keeps_its_sleeve_in_cash() -> None:
    """Windows before the second symbol lists: the first trades half the cash, the other
    half waits (the backtest's rule before a listing), instead of refusing the window."""
    rng = np.random.default_rng(9)
    close = 50 * np.cumprod(1 + rng.normal(0.0005, 0.015, size=(1200, 2)), axis=0)
    close[:800, 1] = np.nan  # lists on row 800
    grid = [{"fast": 10.0, "slow": 50.0}]
    done = one_set(close, grid)
    assert len(done) == 5
    first = done[0]  # rows 0-499: only the first symbol has prices
    half = {**COSTS, "initial_cash": COSTS["initial_cash"] / 2}
    alone = bt.run_grid(close[:500, :1], "sma_cross", grid, **half).equity[0]
    portfolio = alone + COSTS["initial_cash"] / 2
    expected = portfolio[300:] / portfolio[299:-1] - 1
    np.testing.assert_allclose(first.returns, expected, rtol=0, atol=1e-15)


def test_each_test_window_lists_the_trades_a_backtest_of_its_days_makes(
    store: DuckDBPriceStore,
) -> None:
    """CONTRACT 6.1: walk_forward's trades.csv holds, per window, the chosen set's round
    trips held in its test days; each window's are those of a plain backtest of the
    chosen set over the window's train and test dates (closed in the test days or open
    at its end), with the same prices, quantities and pnl."""
    import csv
    import io

    strategy = {"name": "sma_cross", "fast": [10, 20], "slow": [50, 100]}
    common = {"symbols": ["AAPL", "XOM", "JPM"], "fees_bps": 5}
    p = WALK_FORWARD.params.model_validate(
        {
            **common,
            "strategy": strategy,
            "start": "2010-01-01",
            "end": "2015-12-31",
            "train_days": 252,
            "test_days": 252,
        }
    )
    out = WALK_FORWARD.run(p, RunContext(load_prices=store.load_close, charts=False))
    files = {a.name: a.data for a in out.artifacts}
    rows = list(csv.DictReader(io.StringIO(files["trades.csv"].decode())))
    assert rows and list(rows[0])[:2] == ["window", "set"]
    for w in out.result["windows"]:
        mine = [r for r in rows if r["window"] == str(w["window"])]
        plain = BACKTEST.run(
            BACKTEST.params.model_validate(
                {
                    **common,
                    "strategy": {"name": "sma_cross", **w["params"]},
                    "start": w["train_start"],
                    "end": w["test_end"],
                    "cscv_splits": 2,
                }
            ),
            RunContext(load_prices=store.load_close, charts=False),
        )
        theirs = [
            r
            for r in csv.DictReader(
                io.StringIO({a.name: a.data for a in plain.artifacts}["trades.csv"].decode())
            )
            if r["exit_date"] == "" or r["exit_date"] >= w["test_start"]
        ]
        key = ["symbol", "entry_date", "exit_date", "exit_reason", "days_held"]
        assert [[r[k] for k in key] for r in mine] == [[r[k] for k in key] for r in theirs]
        for field in ("entry_price", "exit_price", "quantity", "pnl"):
            np.testing.assert_allclose(
                [float(r[field]) for r in mine], [float(r[field]) for r in theirs], rtol=1e-12
            )
        assert all(w["train_start"] <= r["entry_date"] <= w["test_end"] for r in mine)
