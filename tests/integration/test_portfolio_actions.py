"""A paper book through corporate actions: it trades and marks at the close as traded and
its shares follow the actions on their ex-dates (a split multiplies them, a dividend is
reinvested at its ex-date close), while its rule reads today's total-return prices. So,
stepped live, it books what a ``backtest`` over today's adjusted prices reports, day by
day (1e-9): a split is no loss and the dividends are in the equity.

The prices are the bundled AAPL and XOM closes taken as traded: SPLT halves from
2016-03-01 (a 2-for-1 split that day), DIVY pays 0.75 on five ex-dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import Engine

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.portfolio_rows import SqlPortfolioStore
from quantrun.adapters.sql.strategy_rows import SqlStrategyStore
from quantrun.app import paper_steps, portfolios
from quantrun.app.history_loads import loader
from quantrun.app.signals import one_set_rule
from quantrun.catalog.backtest import SPEC as BACKTEST
from quantrun.domain.actions import CorporateAction
from quantrun.domain.prices import PriceRow
from quantrun.domain.strategies import Strategy
from quantrun.models import backtest as bt

NOW = datetime(2026, 12, 6, tzinfo=UTC)
START, MIDWAY, END = date(2015, 1, 1), date(2015, 9, 30), date(2016, 12, 30)
SPLIT = date(2016, 3, 1)
EX_DATES = [date(2015, 5, 11), date(2015, 8, 11), date(2015, 11, 9), date(2016, 2, 8),
            date(2016, 5, 11)]  # fmt: skip
CASH = 100_000.0
RULES = {
    "momentum": {"strategy": {"name": "momentum", "lookback": 20, "top_n": 2}},
    "rsi": {"strategy": {"name": "rsi", "period": 14, "lower": 40, "upper": 60},
            "stop_loss": 0.05, "take_profit": 0.1},
}  # fmt: skip


@pytest.fixture(scope="module")
def prices() -> Iterator[DuckDBPriceStore]:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    both = store.load_close(["AAPL", "XOM"], START, END)
    rows = []
    for day, (aapl, xom) in zip(both.dates.astype(object), both.close, strict=True):
        rows.append(PriceRow(day, "SPLT", aapl / 2 if day >= SPLIT else aapl))
        rows.append(PriceRow(day, "DIVY", xom))
    store.upsert(rows, source="test")
    yield store
    store.close()


def _params(rule: str) -> dict[str, object]:
    body = {"symbols": ["SPLT", "DIVY"], "start": START.isoformat(), "end": END.isoformat(),
            "fees_bps": 2, "slippage_bps": 1, **RULES[rule]}  # fmt: skip
    return BACKTEST.params.model_validate(body).model_dump(mode="json")


@pytest.mark.parametrize("rule", sorted(RULES))
def test_a_book_stepped_through_a_split_and_dividends_is_the_adjusted_backtest(
    engine: Engine, prices: DuckDBPriceStore, rule: str
) -> None:
    user = SqlJobStore(engine).get_or_create_user("paper")
    strategies, store = SqlStrategyStore(engine), SqlPortfolioStore(engine)
    params = _params(rule)
    strategies.add_strategy(Strategy("s-1", user.id, rule, "backtest", params, True, NOW, NOW))
    book = portfolios.create(store=store, strategies=strategies, user=user, strategy_id="s-1",
                             name=rule, cash=CASH, start=START, max_drawdown=None,
                             now=NOW)  # fmt: skip
    # the actions become known as they happen: those up to MIDWAY before the first step,
    # the rest before the second
    actions = [CorporateAction("DIVY", d, "dividend", 0.75, "test") for d in EX_DATES]
    actions.append(CorporateAction("SPLT", SPLIT, "split", 2.0, "test"))
    prices.put_actions([a for a in actions if a.date <= MIDWAY])
    paper_steps.step(store=store, prices=prices, portfolio=book, today=MIDWAY, now=NOW)
    prices.put_actions([a for a in actions if a.date > MIDWAY])
    paper_steps.step(store=store, prices=prices, portfolio=book, today=END, now=NOW)

    model, strategy = one_set_rule("backtest", params, "portfolios")
    adjusted = loader(prices, model)(["SPLT", "DIVY"], START, END)
    expected = bt.run_grid(adjusted.close, rule, [strategy], initial_cash=CASH, fees_bps=2,
                           slippage_bps=1, rules=model.rules()).equity[0]  # fmt: skip
    booked = []
    cursor = None
    while True:
        page = store.days(book.id, limit=200, cursor=cursor)
        booked += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert [d.day for d in booked] == list(adjusted.dates.astype(object))
    np.testing.assert_allclose([d.equity for d in booked], expected, rtol=1e-9)
    if rule == "momentum":  # it holds both throughout: the split and every dividend
        at = {d.day: d for d in booked}
        before, on = at[date(2016, 2, 29)], at[SPLIT]
        held = before.state["sleeves"][0]["quantity"]
        assert held > 0 and on.state["sleeves"][0]["quantity"] == pytest.approx(2 * held)
        assert on.equity / before.equity - 1 > -0.05  # the split is not a 50% loss
