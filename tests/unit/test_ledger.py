"""Backtest trades (CONTRACT 6.1; ``quantrun.models.ledger``): the ledger against an
independent per-day loop on the bundled real prices (cash and shares, not the kernel's
value updates), stops against hand-worked cases, volatility-target sizing against
``statistics.stdev``, and the ``backtest`` job's artifacts and per-set figures."""

from __future__ import annotations

import csv
import io
import math
import statistics
from datetime import date
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.catalog.backtest import SPEC as BACKTEST
from quantrun.catalog.spec import RunContext
from quantrun.models import backtest as bt
from quantrun.models.ledger import (
    TYPICAL_TRADES,
    TradeRules,
    rolling_volatility,
    set_statistics,
    trade,
)
from quantrun.models.signals import prepare
from tests.unit.test_backtest import loop_prices, loop_signal

SYMBOLS = ["AAPL", "AMZN", "XOM", "JPM"]  # AMZN lists in May 1997: a sleeve that waits


@pytest.fixture(scope="module")
def store() -> DuckDBPriceStore:
    opened = DuckDBPriceStore(":memory:")
    opened.load_sample_data()
    return opened


@pytest.fixture(scope="module")
def close(store: DuckDBPriceStore) -> np.ndarray:
    return store.load_close(SYMBOLS, date(1996, 6, 1), date(2001, 12, 31)).close


def loop_weight(prices: list[float | None], t: int, target: float, lookback: int) -> float | None:
    """min(1, target / sigma) from statistics.stdev of the returns in the window."""
    window = [
        prices[i] / prices[i - 1] - 1  # type: ignore[operator]
        for i in range(max(1, t - lookback + 1), t + 1)
        if prices[i] is not None and prices[i - 1] is not None
    ]
    if len(window) < 2:
        return None
    sigma = statistics.stdev(window) * math.sqrt(252)
    return 1.0 if sigma == 0 else min(1.0, target / sigma)


def loop_trades(
    signals: list[int], prices: list[float | None], cash: float, cost: float, rules: TradeRules
) -> list[dict[str, Any]]:
    """One sleeve, day by day, in cash and shares, from the module's written rules."""
    trades: list[dict[str, Any]] = []
    free, shares, holding, blocked = cash, 0.0, False, False
    last: float | None = None
    entry: dict[str, Any] = {}
    for t, p in enumerate(prices):
        last = p if p is not None else last
        value = free + (shares * last if holding else 0.0)  # type: ignore[operator]
        signal = bool(signals[t]) and p is not None
        blocked = blocked and signal
        want, reason = signal and not blocked, "signal"
        if holding and rules.stop_loss and last <= entry["price"] * (1 - rules.stop_loss):  # type: ignore[operator]
            want, reason, blocked = False, "stop_loss", signal
        elif holding and rules.take_profit and last >= entry["price"] * (1 + rules.take_profit):  # type: ignore[operator]
            want, reason, blocked = False, "take_profit", signal
        if want and not holding:
            share = 1.0
            if rules.volatility_target is not None:
                found = loop_weight(prices, t, rules.volatility_target, rules.lookback_days)
                share = -1.0 if found is None else found
            if share > 0:
                notional = share * value
                entry = {"day": t, "price": last, "before": value, "notional": notional}
                free, shares, holding = value - notional, notional * (1 - cost) / last, True  # type: ignore[operator]
        elif holding and not want:
            free += shares * last * (1 - cost)  # type: ignore[operator]
            trades.append(
                {
                    **entry,
                    "exit": t,
                    "exit_price": last,
                    "reason": reason,
                    "quantity": shares,
                    "pnl": free - entry["before"],
                }
            )
            shares, holding = 0.0, False
    if holding:
        trades.append(
            {
                **entry,
                "exit": -1,
                "exit_price": last,
                "reason": "end",
                "quantity": shares,
                "pnl": free + shares * last - entry["before"],
            }
        )  # type: ignore[operator]
    return trades


RULES = [
    TradeRules(),
    TradeRules(stop_loss=0.08, take_profit=0.25),
    TradeRules(volatility_target=0.15, lookback_days=63),
    TradeRules(stop_loss=0.05, volatility_target=0.10, lookback_days=21),
]


@pytest.mark.parametrize("rules", RULES, ids=["plain", "stops", "vol-target", "both"])
@pytest.mark.parametrize(
    ("strategy", "lists"),
    [("sma_cross", {"fast": [10, 30], "slow": [60]}), ("rsi", {"period": [14]})],
)
def test_the_ledger_is_the_per_day_loop_on_real_prices(
    close: np.ndarray, rules: TradeRules, strategy: str, lists: dict[str, list[float]]
) -> None:
    grid, _ = bt.expand_grid(strategy, {**{"lower": [30], "upper": [70]}, **lists})
    cost, cash = 12 / 10_000, 1e6
    ledger = bt.trade_ledger(
        close, strategy, grid, initial_cash=cash, fees_bps=9, slippage_bps=3, rules=rules
    )
    result = bt.run_grid(
        close, strategy, grid, initial_cash=cash, fees_bps=9, slippage_bps=3, rules=rules
    )
    prices, ages = loop_prices(close)
    kinds = {0: "signal", 1: "stop_loss", 2: "take_profit", 3: "end"}
    for g, params in enumerate(grid):
        expected = []
        for j in range(len(SYMBOLS)):
            signals = loop_signal(strategy, params, prices[j], ages[j])
            expected += [(j, tr) for tr in loop_trades(signals, prices[j], cash / 4, cost, rules)]
        mine = np.flatnonzero(ledger.column("set") == g)
        assert [
            (
                int(ledger.column("symbol")[i]),
                int(ledger.column("entry_day")[i]),
                int(ledger.column("exit_day")[i]),
                kinds[int(ledger.column("reason")[i])],
            )
            for i in mine
        ] == [(j, tr["day"], tr["exit"], tr["reason"]) for j, tr in expected]
        for field, key in (
            ("entry_price", "price"),
            ("exit_price", "exit_price"),
            ("quantity", "quantity"),
            ("pnl", "pnl"),
        ):
            np.testing.assert_allclose(
                ledger.column(field)[mine], [tr[key] for _, tr in expected], rtol=1e-9, atol=1e-6
            )
        # CONTRACT 6.1: a set's pnl sums to its equity change, to 1e-6 relative
        change = result.equity[g, -1] - cash
        assert ledger.column("pnl")[mine].sum() == pytest.approx(change, rel=1e-6)
        assert result.trades[g] == sum(1 + (tr["exit"] >= 0) for _, tr in expected)
    if rules.stop_loss:
        assert (ledger.column("reason") == 1).any()  # the stops were reached on these prices


def test_plain_rules_trade_exactly_as_the_vectorised_sleeves(close: np.ndarray) -> None:
    grid, _ = bt.expand_grid("sma_cross", {"fast": [5, 20], "slow": [50, 200]})
    fast = bt.run_grid(close, "sma_cross", grid, initial_cash=1e6, fees_bps=5, slippage_bps=0)
    ledger = bt.trade_ledger(close, "sma_cross", grid, initial_cash=1e6, fees_bps=5, slippage_bps=0)
    for g in range(len(grid)):
        pnl = ledger.column("pnl")[ledger.column("set") == g].sum()
        assert pnl == pytest.approx(fast.equity[g, -1] - 1e6, rel=1e-12)


def one_symbol(prices: list[float], positions: list[int], rules: TradeRules, fees_bps: float):  # type: ignore[no-untyped-def]
    close = np.array(prices, dtype=float)[:, None]
    held = np.array(positions, dtype=bool)[None, :, None]
    return trade(held, prepare(close), rules, cost=fees_bps / 10_000, initial_cash=1e6)


def test_a_stop_loss_leaves_at_that_close_and_waits_for_a_new_buy() -> None:
    # long throughout but days 5; the close of day 3 is 11% under the entry of 100
    prices, positions = [100, 100, 95, 89, 92, 100, 104, 100], [1, 1, 1, 1, 1, 0, 1, 1]
    done = one_symbol(prices, positions, TradeRules(stop_loss=0.1), 0)
    ints, floats = done.ledger.ints, done.ledger.floats
    # entry day 0 at 100, stopped on day 3 at 89 (89 <= 90); days 4 flat though the rule is
    # long; the rule goes flat on day 5 and long on day 6: a new entry at 104, open at 100
    assert ints[2:5].T.tolist() == [[0, 3, 1], [6, -1, 3]]
    np.testing.assert_allclose(floats[3], [-110_000.0, 890_000 * (100 / 104 - 1)], rtol=1e-12)
    np.testing.assert_allclose(floats[2], [10_000.0, 890_000 / 104], rtol=1e-12)
    np.testing.assert_allclose(
        done.equity[0], [1e6, 1e6, 950e3, 890e3, 890e3, 890e3, 890e3, 890e3 * 100 / 104], rtol=1e-12
    )


def test_a_take_profit_books_the_gain_after_fees_on_both_legs() -> None:
    done = one_symbol([100, 103, 106, 101], [1, 1, 1, 1], TradeRules(take_profit=0.05), 10)
    held = 1e6 * 0.999  # the entry's 10 bps
    proceeds = held * 1.06 * 0.999  # sold at 106, 10 bps again
    assert done.ledger.ints[2:5].T.tolist() == [[0, 2, 2]]
    assert done.ledger.floats[3, 0] == pytest.approx(proceeds - 1e6, rel=1e-12)
    assert done.ledger.floats[4, 0] == pytest.approx(proceeds / 1e6 - 1, rel=1e-12)
    assert done.changes[0] == 2 and done.traded[0] == pytest.approx(1e6 + held * 1.06)


def test_volatility_target_sizing_invests_target_over_sigma() -> None:
    rng = np.random.default_rng(3)
    prices = list(100 * np.cumprod(1 + rng.normal(0, 0.02, 80)))
    rules = TradeRules(volatility_target=0.10, lookback_days=20)
    done = one_symbol(prices, [0] * 40 + [1] * 40, rules, 0)
    window = [prices[i] / prices[i - 1] - 1 for i in range(21, 41)]
    share = min(1.0, 0.10 / (statistics.stdev(window) * math.sqrt(252)))
    assert 0.2 < share < 0.6  # the sleeve is partly in cash
    assert done.ledger.floats[2, 0] == pytest.approx(share * 1e6 / prices[40], rel=1e-12)
    assert done.equity[0, -1] == pytest.approx(
        1e6 * (1 - share) + share * 1e6 * prices[-1] / prices[40], rel=1e-12
    )
    sigma = rolling_volatility(prepare(np.array(prices)[:, None]), 20)[:, 0]
    assert np.isnan(sigma[:2]).all() and sigma[40] == pytest.approx(0.10 / share, rel=1e-12)


def test_set_statistics_follow_their_definitions() -> None:
    prices, positions = [100, 110, 110, 100, 100, 90, 90, 95], [1, 0, 1, 0, 1, 0, 1, 1]
    done = one_symbol(prices, positions, TradeRules(), 0)
    pnl = done.ledger.floats[3]
    stats = set_statistics(done.ledger, 1, 8)[0]
    assert pnl.size == 4 and (pnl[0] > 0) and (pnl[1:3] < 0).all()
    assert stats["win_rate"] == pytest.approx(np.mean(pnl > 0))
    assert stats["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    assert stats["avg_trade_return"] == pytest.approx(done.ledger.floats[4].mean())
    assert stats["max_consecutive_losses"] == 2


def test_a_backtest_job_writes_its_trades(store: DuckDBPriceStore) -> None:
    params = BACKTEST.params.model_validate(
        {
            "symbols": ["AAPL", "XOM", "JPM"],
            "start": "2012-01-01",
            "end": "2017-12-31",
            "strategy": {"name": "sma_cross", "fast": [10, 20], "slow": [50, 100]},
            "fees_bps": 5,
            "stop_loss": 0.07,
            "sizing": "volatility_target",
            "cscv_splits": 2,
        }
    )
    out = BACKTEST.run(params, RunContext(load_prices=store.load_close, charts=False))
    files = {a.name: a.data for a in out.artifacts}
    rows = list(csv.DictReader(io.StringIO(files["trades.csv"].decode())))
    table = pq.read_table(io.BytesIO(files["trades.parquet"])).to_pylist()
    assert (
        list(rows[0])
        == list(table[0])
        == [
            "set",
            "symbol",
            "entry_date",
            "entry_price",
            "exit_date",
            "exit_price",
            "quantity",
            "pnl",
            "return",
            "days_held",
            "exit_reason",
        ]
    )
    assert len(rows) == len(table) > 50
    for g, figures in enumerate(out.result["results"]):
        pnl = sum(float(r["pnl"]) for r in rows if r["set"] == str(g))
        assert pnl == pytest.approx(figures["total_return"] * 1e6, rel=1e-6)
        assert 0 <= figures["win_rate"] <= 1 and figures["max_consecutive_losses"] >= 1
        assert {"profit_factor", "avg_trade_return"} <= set(figures)
    assert {r["exit_reason"] for r in rows} >= {"signal", "stop_loss"}
    assert all(r["exit_date"] == "" for r in rows if r["exit_reason"] == "end")
    assert table[0]["entry_date"].isoformat() == rows[0]["entry_date"]


def test_a_sleeve_with_more_trades_than_the_first_pass_makes_room_for() -> None:
    rng = np.random.default_rng(5)
    prices = list(100 * np.cumprod(1 + rng.normal(0, 0.01, 600)))
    positions = [1, 1, 0] * 200  # 200 round trips, past TYPICAL_TRADES per sleeve
    done = one_symbol(prices, positions, TradeRules(), 7)
    assert done.ledger.size == 200 > TYPICAL_TRADES
    assert done.ledger.ints[2].tolist() == list(range(0, 600, 3))  # every entry, in order
    assert done.ledger.floats[3].sum() == pytest.approx(done.equity[0, -1] - 1e6, rel=1e-9)


@pytest.mark.parametrize(
    ("field", "value"),
    [("stop_loss", 1.0), ("stop_loss", 0), ("take_profit", -0.1),
     ("sizing", {"name": "volatility_target", "target": 0}), ("sizing", "kelly")],
)  # fmt: skip
def test_bad_stops_and_sizing_are_refused_naming_the_field(field: str, value: object) -> None:
    from pydantic import ValidationError

    base = {"symbols": ["AAPL"], "start": "2015-01-01", "end": "2017-12-31", "strategy": "rsi"}
    with pytest.raises(ValidationError) as refused:
        BACKTEST.params.model_validate({**base, field: value})
    assert refused.value.errors()[0]["loc"][0] == field
