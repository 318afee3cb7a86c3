"""Paper portfolios on SQLite and PostgreSQL (CONTRACT 6.1): a portfolio stepped over
2015-2017 on the bundled prices books what a ``backtest`` job of its strategy over the
same window reports (equity series, trades.csv, P&L; 1e-9 relative), and the same days
when it is stopped mid-way and caught up; two steppers racing book each day once; each
fill makes one ``order.filled`` alert."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.portfolio_rows import SqlPortfolioStore
from quantrun.adapters.sql.schema import alerts, portfolio_days, portfolio_orders
from quantrun.adapters.sql.strategy_rows import SqlStrategyStore
from quantrun.app import paper_steps, portfolios
from quantrun.catalog.backtest import SPEC as BACKTEST
from quantrun.catalog.spec import RunContext
from quantrun.domain.portfolios import Portfolio
from quantrun.domain.strategies import Strategy
from quantrun.models import backtest as bt

NOW = datetime(2026, 12, 6, tzinfo=UTC)
START, MIDWAY, END = date(2015, 1, 1), date(2016, 6, 30), date(2017, 12, 29)
CASH = 250_000.0
PARAMS = {
    "symbols": ["AAPL", "AMZN", "XOM", "JPM"],
    "start": "2015-01-01",
    "end": "2018-06-29",
    "strategy": {"name": "rsi", "period": 14, "lower": 35, "upper": 60},
    "fees_bps": 3,
    "slippage_bps": 1,
    "stop_loss": 0.04,
    "take_profit": 0.08,
}


@pytest.fixture(scope="module")
def prices() -> DuckDBPriceStore:
    store = DuckDBPriceStore(":memory:")
    store.load_sample_data()
    return store


@pytest.fixture
def world(engine: Engine) -> tuple[SqlPortfolioStore, SqlStrategyStore, object]:
    user = SqlJobStore(engine).get_or_create_user("paper")
    strategies = SqlStrategyStore(engine)
    params = BACKTEST.params.model_validate(PARAMS).model_dump(mode="json")
    strategies.add_strategy(Strategy("s-1", user.id, "rsi", "backtest", params, True, NOW, NOW))
    return SqlPortfolioStore(engine), strategies, user


def made(world: tuple, name: str = "paper") -> Portfolio:
    store, strategies, user = world
    return portfolios.create(store=store, strategies=strategies, user=user, strategy_id="s-1",
                             name=name, cash=CASH, start=START, max_drawdown=0.05,
                             now=NOW)  # fmt: skip


def stepped(store: SqlPortfolioStore, prices: DuckDBPriceStore, p: Portfolio, today: date) -> int:
    return paper_steps.step(store=store, prices=prices, portfolio=p, today=today, now=NOW)


def every(read, portfolio_id: str) -> list:  # type: ignore[no-untyped-def]
    items, cursor = [], None
    while True:
        page = read(portfolio_id, limit=200, cursor=cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_the_paper_book_is_the_backtest_of_its_window(
    world: tuple, prices: DuckDBPriceStore
) -> None:
    store = world[0]
    caught_up, whole = made(world, "stopped mid-way"), made(world, "in one go")
    first = stepped(store, prices, caught_up, MIDWAY)
    rest = stepped(store, prices, caught_up, END)
    assert stepped(store, prices, whole, END) == first + rest > 700
    assert stepped(store, prices, whole, END) == 0  # nothing new: nothing booked
    params = BACKTEST.params.model_validate({**PARAMS, "end": END.isoformat(),
                                             "initial_cash": CASH, "cscv_splits": 2})  # fmt: skip
    job = BACKTEST.run(params, RunContext(load_prices=prices.load_close, charts=False))
    matrix = prices.load_close(PARAMS["symbols"], START, END)
    series = bt.run_grid(matrix.close, "rsi", [{"period": 14, "lower": 35, "upper": 60}],
                         initial_cash=CASH, fees_bps=3, slippage_bps=1,
                         rules=params.rules()).equity[0]  # fmt: skip
    job_trades = list(csv.DictReader(io.StringIO(
        next(a for a in job.artifacts if a.name == "trades.csv").data.decode())))  # fmt: skip
    days = {}
    for p in (caught_up, whole):
        booked = every(store.days, p.id)
        days[p.id] = [(d.day, d.equity, d.cash) for d in booked]
        assert [d.day for d in booked] == [
            date.fromisoformat(str(np.datetime64(x, "D"))) for x in matrix.dates
        ]
        np.testing.assert_allclose([d.equity for d in booked], series, rtol=1e-9)
        doc = portfolios.document(store, p)
        best = job.result["best"]
        assert doc["equity"] / CASH - 1 == pytest.approx(best["total_return"], rel=1e-9)
        assert doc["max_drawdown"] == pytest.approx(best["max_drawdown"], rel=1e-9)
        assert doc["as_of"] == END.isoformat()
        trades = portfolios.trades_page(store, p, store.trades(p.id, limit=200, cursor=None))
        assert trades["next_cursor"] is None
        mine = sorted(trades["items"], key=lambda t: (t["symbol"], t["entry_date"]))
        theirs = sorted(job_trades, key=lambda t: (t["symbol"], t["entry_date"]))
        assert len(mine) == len(theirs) > 20
        for a, b in zip(mine, theirs, strict=True):
            assert (a["symbol"], a["entry_date"], a["exit_date"] or "", a["exit_reason"],
                    a["days_held"]) == (b["symbol"], b["entry_date"], b["exit_date"],
                                        b["exit_reason"], int(b["days_held"]))  # fmt: skip
            for field in ("entry_price", "exit_price", "quantity", "pnl", "return"):
                assert a[field] == pytest.approx(float(b[field]), rel=1e-9, abs=1e-6)
        pnl = doc["realized_pnl"] + sum(x["unrealized_pnl"] for x in doc["positions"])
        assert pnl == pytest.approx(doc["equity"] - CASH, rel=1e-9)
        assert doc["cash"] >= 0 and all(x["quantity"] > 0 for x in doc["positions"])
    assert days[caught_up.id] == days[whole.id]  # the same stored series, to the bit


def test_two_racing_steppers_book_each_day_once(
    world: tuple, prices: DuckDBPriceStore, engine: Engine
) -> None:
    store = world[0]
    p = made(world)
    counts: list[int] = []
    caught_up: list[date | None] = []
    gate = threading.Barrier(2)

    def stepper() -> None:
        gate.wait()
        counts.append(stepped(store, prices, p, date(2015, 12, 31)))
        last = store.last_day(p.id)
        caught_up.append(None if last is None else last.day)

    threads = [threading.Thread(target=stepper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        n_days = conn.execute(
            select(func.count()).select_from(portfolio_days).where(
                portfolio_days.c.portfolio_id == p.id)).scalar_one()  # fmt: skip
        n_orders = conn.execute(
            select(func.count()).select_from(portfolio_orders).where(
                portfolio_orders.c.portfolio_id == p.id)).scalar_one()  # fmt: skip
        filled = conn.execute(
            select(func.count()).select_from(alerts).where(alerts.c.type == "order.filled")
        ).scalar_one()
    loaded = prices.load_close(PARAMS["symbols"], START, date(2015, 12, 31)).dates
    assert n_days == loaded.size == sum(counts)  # each day booked once, by one of them
    # each returned with the portfolio caught up, whichever booked the last days
    assert caught_up == [date.fromisoformat(str(loaded[-1].astype("datetime64[D]")))] * 2
    assert filled == n_orders > 10  # one order.filled per order, none twice
    # the book is the one a single stepper makes
    alone = made(world, "alone")
    stepped(store, prices, alone, date(2015, 12, 31))
    assert [d.equity for d in every(store.days, p.id)] == [
        d.equity for d in every(store.days, alone.id)
    ]


class _Overtaken:
    """The portfolio store as a step sees it when another step books the first half of
    the year between this one's read of the book and its first booking."""

    def __init__(self, store: SqlPortfolioStore, prices: DuckDBPriceStore, p: Portfolio):
        self._store, self._prices, self._p = store, prices, p
        self.other_booked: int | None = None

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._store, name)

    def book_day(self, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        if self.other_booked is None:
            self.other_booked = stepped(self._store, self._prices, self._p, date(2015, 6, 30))
        return self._store.book_day(*args, **kwargs)


def test_a_step_overtaken_by_another_carries_on_from_its_book(
    world: tuple, prices: DuckDBPriceStore
) -> None:
    """The manual step's answer when the scheduler's step took its first days: the
    portfolio caught up to ``today`` (not the other step's partial book), each day once,
    the same days and orders a lone step books."""
    store = world[0]
    p, alone = made(world), made(world, "alone")
    overtaken = _Overtaken(store, prices, p)
    booked = stepped(overtaken, prices, p, date(2015, 12, 31))  # type: ignore[arg-type]
    whole = stepped(store, prices, alone, date(2015, 12, 31))
    assert overtaken.other_booked is not None and overtaken.other_booked > 100
    assert booked + overtaken.other_booked == whole  # the rest, after the other's last day
    assert [(d.seq, d.day, d.equity, d.cash) for d in every(store.days, p.id)] == [
        (d.seq, d.day, d.equity, d.cash) for d in every(store.days, alone.id)
    ]
    orders = [(o.day, o.symbol, o.side, o.quantity, o.price) for o in every(store.orders, p.id)]
    assert len(orders) > 10 and orders == [
        (o.day, o.symbol, o.side, o.quantity, o.price) for o in every(store.orders, alone.id)
    ]


def test_a_grid_strategy_is_refused_naming_the_field(world: tuple) -> None:
    store, strategies, user = world
    grid = BACKTEST.params.model_validate(
        {**PARAMS, "strategy": {"name": "rsi", "period": [10, 14], "lower": 35, "upper": 60}}
    ).model_dump(mode="json")
    strategies.add_strategy(Strategy("s-2", user.id, "grid", "backtest", grid, True, NOW, NOW))
    with pytest.raises(Exception, match="one parameter set") as caught:
        portfolios.create(store=store, strategies=strategies, user=user, strategy_id="s-2",
                          name="x", cash=CASH, start=START, max_drawdown=None,
                          now=NOW)  # fmt: skip
    assert getattr(caught.value, "field", None) == "strategy_id"


def test_a_history_over_the_job_cost_limit_is_refused(world: tuple) -> None:
    """A catch-up step is the work of the backtest from ``start`` to today: held to the
    job cost limit when the portfolio is made (413 over HTTP)."""
    from quantrun.domain.errors import InputTooLarge

    store, strategies, user = world
    with pytest.raises(InputTooLarge, match="exceeds the job limit"):
        portfolios.create(store=store, strategies=strategies, user=user, strategy_id="s-1",
                          name="too long", cash=CASH, start=date(1991, 1, 2), max_drawdown=None,
                          now=NOW, max_cost=1e3)  # fmt: skip
    assert store.for_user(user.id) == []
