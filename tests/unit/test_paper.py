"""Paper books (``quantrun.models.paper``; CONTRACT 6.1): a book stepped one day at a
time over 2015-2017 on the bundled real prices ends, day by day, where a backtest of the
same strategy over the same window does: equity series, round trips and P&L to 1e-9
relative, under plain rules, stops and volatility-target sizing; a day with no price
carries the last close; cash and quantities never go negative."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.models import backtest as bt
from quantrun.models import paper
from quantrun.models.ledger import REASONS, TradeRules

SYMBOLS = ["AAPL", "AMZN", "XOM", "JPM", "SPY"]
CASES = [
    ("sma_cross", {"fast": 10.0, "slow": 40.0}, TradeRules(), 5.0, 2.0),
    ("rsi", {"period": 14.0, "lower": 35.0, "upper": 60.0},
     TradeRules(stop_loss=0.04, take_profit=0.08), 3.0, 1.0),
    ("macd", {"fast": 12.0, "slow": 26.0, "signal": 9.0},
     TradeRules(volatility_target=0.12, lookback_days=40, stop_loss=0.05), 5.0, 0.0),
    ("momentum", {"lookback": 60.0, "top_n": 2.0}, TradeRules(), 10.0, 5.0),
]  # fmt: skip


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    return store.load_close(SYMBOLS, date(2015, 1, 1), date(2017, 12, 31)).close


def stepped(close: np.ndarray, name: str, params: dict[str, float], rules: TradeRules,
            cost: float, cash: float) -> tuple[list[paper.Booked], paper.Book]:  # fmt: skip
    inputs = paper.rule_inputs(close, name, params, rules)
    book, days = paper.Book.opened(cash, close.shape[1]), []
    for t in range(close.shape[0]):
        done = paper.step(book, inputs, t, rules, cost)
        days.append(done)
        book = done.book
    return days, book


@pytest.mark.parametrize(("name", "params", "rules", "fees", "slippage"), CASES)
def test_a_book_stepped_day_by_day_is_the_backtest_of_its_window(
    close: np.ndarray, name: str, params: dict[str, float], rules: TradeRules, fees: float,
    slippage: float,
) -> None:  # fmt: skip
    cash = 250_000.0
    days, book = stepped(close, name, params, rules, (fees + slippage) / 1e4, cash)
    kw = {"initial_cash": cash, "fees_bps": fees, "slippage_bps": slippage, "rules": rules}
    result = bt.run_grid(close, name, [params], **kw)  # type: ignore[arg-type]
    ledger = bt.trade_ledger(close, name, [params], **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose([d.equity for d in days], result.equity[0], rtol=1e-9)
    assert book.max_drawdown == pytest.approx(float(result.max_drawdown[0]), rel=1e-9)
    # round trips: every closed one in exit order, then the open ones
    closed = [trip for d in days for trip in d.closed] + paper.open_trades(book)
    assert len(closed) == ledger.size > 5
    mine = sorted(closed, key=lambda r: (r.symbol, r.entry_day))
    theirs = np.lexsort((ledger.column("entry_day"), ledger.column("symbol")))
    for trip, k in zip(mine, theirs, strict=True):
        exit_day = int(ledger.column("exit_day")[k])
        assert (trip.symbol, trip.entry_day) == (ledger.column("symbol")[k],
                                                 ledger.column("entry_day")[k])  # fmt: skip
        assert trip.exit_day == (None if exit_day < 0 else exit_day)
        assert trip.reason == REASONS[ledger.column("reason")[k]]
        for mine_value, field in ((trip.entry_price, "entry_price"),
                                  (trip.exit_price, "exit_price"),
                                  (trip.quantity, "quantity"), (trip.pnl, "pnl"),
                                  (trip.ret, "return")):  # fmt: skip
            assert mine_value == pytest.approx(float(ledger.column(field)[k]), rel=1e-9, abs=1e-6)
    # P&L: realised plus open equals the equity change
    open_pnl = sum(t.pnl for t in paper.open_trades(book))
    assert book.realized_pnl + open_pnl == pytest.approx(days[-1].equity - cash, rel=1e-9)
    # a sleeve never borrows or shorts
    for d in days:
        assert all(s.cash >= 0 and s.quantity >= 0 for s in d.book.sleeves)
        assert d.cash >= 0


def test_every_fill_is_at_that_close_with_its_costs(close: np.ndarray) -> None:
    cost = 7e-4
    inputs = paper.rule_inputs(close, "sma_cross", {"fast": 5.0, "slow": 20.0}, TradeRules())
    days, _ = stepped(close, "sma_cross", {"fast": 5.0, "slow": 20.0}, TradeRules(), cost, 1e5)
    fills = [(t, f) for t, d in enumerate(days) for f in d.fills]
    assert {f.side for _, f in fills} == {"BUY", "SELL"}
    for t, f in fills:
        assert f.price == close[t, f.symbol]
        assert f.cost == pytest.approx(f.notional * cost, rel=1e-12)
        if f.side == "BUY":  # the whole sleeve: quantity x price is the notional after costs
            assert f.quantity * f.price == pytest.approx(f.notional * (1 - cost), rel=1e-12)
        else:
            assert f.notional == pytest.approx(f.quantity * f.price, rel=1e-12)
    # a day's BUY/SELL signals are the rule's changes
    turned = {(t, j) for t, d in enumerate(days) for j, _ in d.turned}
    signal = inputs.signal
    changes = {(t, j) for t in range(1, signal.shape[0]) for j in range(signal.shape[1])
               if signal[t, j] != signal[t - 1, j]}  # fmt: skip
    assert turned - {(0, j) for j in range(signal.shape[1])} == changes


def test_a_day_with_no_price_carries_the_last_close() -> None:
    # one symbol always long after warm-up; its price missing on days 6 and 7
    close = np.array([[10.0, 20.0], [10.5, 20.5], [11.0, 21.0], [11.5, 21.5], [12.0, 22.0],
                      [12.5, 22.5], [np.nan, 23.0], [np.nan, 23.5]])  # fmt: skip
    inputs = paper.rule_inputs(close, "sma_cross", {"fast": 2.0, "slow": 4.0}, TradeRules())
    assert inputs.carried[6:, 0].all() and not inputs.carried[:6].any()
    assert (inputs.close[6:, 0] == 12.5).all()
    assert inputs.live[6:, 0].all()  # held, not sold, on a day without a price
    days, book = stepped(close, "sma_cross", {"fast": 2.0, "slow": 4.0}, TradeRules(), 0.0, 2.0)
    assert book.sleeves[0].holding and book.sleeves[0].last_price == 12.5
    # and a backtest that later sees the price come back agrees on those days
    later = np.vstack([close, [[13.0, 24.0]]])
    result = bt.run_grid(later, "sma_cross", [{"fast": 2.0, "slow": 4.0}], initial_cash=2.0,
                         fees_bps=0, slippage_bps=0)  # fmt: skip
    np.testing.assert_allclose([d.equity for d in days], result.equity[0, :-1], rtol=1e-12)


def test_a_holding_follows_its_shares_through_corporate_actions() -> None:
    held = paper.Sleeve(cash=500.0, quantity=10.0, entry_price=50.0, entry_notional=500.0,
                        before=1000.0, entry_day=3, last_price=52.0)  # fmt: skip
    book = paper.Book(days=5, sleeves=(held, paper.Sleeve(cash=1000.0)), peak=2020.0,
                      max_drawdown=0.0, realized_pnl=0.0, signal=(True, False))  # fmt: skip
    split = paper.after_action(book, 0, share_ratio=2.0).sleeves[0]
    assert (split.quantity, split.entry_price, split.last_price) == (20.0, 25.0, 26.0)
    assert split.value(26.0) == held.value(52.0)  # worth the same at the new share price
    paid = paper.after_action(book, 0, cash_per_share=0.75).sleeves[0]
    assert paid.cash == 500.0 + 7.5 and paid.quantity == 10.0
    # a flat sleeve holds no shares: nothing follows
    assert paper.after_action(book, 1, share_ratio=2.0, cash_per_share=1.0) == book
