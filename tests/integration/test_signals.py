"""Signals of a backtest strategy (CONTRACT 5.5) on the bundled sample data: for
sma_cross 20/100, every trading day of 2015-2017 matches a per-day loop written here
(the signal, the position and both averages); over the backtest's window the BUY and
SELL days are the backtest's own position changes (its trade count); the API answers
the same; a strategy that is not one backtest parameter set is 422."""

from __future__ import annotations

from datetime import date

import httpx
import numpy as np
import pytest

from devtools.jobs import wait_for_job
from quantrun.app.signals import signals_on
from tests.harness.api import RunningApi

SYMBOLS = ["AAPL", "XOM", "JPM"]
PARAMS = {
    "symbols": SYMBOLS,
    "start": "2014-01-01",
    "end": "2017-12-31",
    "strategy": {"name": "sma_cross", "fast": 20, "slow": 100},
}

USER = "trader"


@pytest.fixture(scope="module")
def strategy(client: httpx.Client) -> dict[str, object]:
    r = client.post(
        "/v1/strategies", json={"name": "sma 20/100", "model": "backtest", "params": PARAMS}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def by_loop(close: np.ndarray, t: int, j: int) -> tuple[float, float, bool]:
    """SMA20, SMA100 and the long/flat rule at day t of symbol j, one day at a time."""
    seen = close[: t + 1, j]
    fast, slow = seen[-20:].mean(), seen[-100:].mean()
    return fast, slow, len(seen) >= 100 and fast > slow


def test_every_day_of_2015_to_2017_matches_a_per_day_loop(
    api: RunningApi, strategy: dict[str, object]
) -> None:
    saved = api.container.strategies.strategy(str(strategy["id"]))
    assert saved is not None
    prices = api.container.prices
    matrix = prices.load_close(SYMBOLS, date(2014, 1, 1), date(2017, 12, 31))
    assert not np.isnan(matrix.close).any()  # the sample has every day: no gap rules here
    days = [d.astype(object) for d in matrix.dates]
    checked = 0
    changes = 0
    for t, day in enumerate(days):
        if t == 0:
            continue
        got = signals_on(saved, day, prices)
        assert got["date"] == day.isoformat()
        for j, row in enumerate(got["signals"]):
            fast, slow, long_now = by_loop(matrix.close, t, j)
            long_before = by_loop(matrix.close, t - 1, j)[2]
            expected = (
                "BUY"
                if long_now and not long_before
                else "SELL"
                if long_before and not long_now
                else "HOLD"
            )
            assert (row["signal"], row["position"]) == (expected, int(long_now)), (day, row)
            assert row["indicators"]["sma_fast"] == pytest.approx(fast, rel=1e-10)
            assert row["indicators"]["sma_slow"] == pytest.approx(slow, rel=1e-10)
            changes += expected != "HOLD"
        checked += day.year >= 2015
    assert checked == 755  # 2015-2017's trading days in the sample
    # the backtest of the same window trades exactly on those days
    with api.client("trader") as client:
        job = client.post("/v1/jobs", json={"strategy_id": saved.id}).json()
        done = wait_for_job(client, job["id"], timeout=60)
    assert done["status"] == "succeeded"
    (row,) = done["result"]["results"]
    assert row["trades"] == changes > 0


def test_the_api_gives_the_same_and_the_last_day_on_or_before(
    client: httpx.Client, strategy: dict[str, object], api: RunningApi
) -> None:
    saved = api.container.strategies.strategy(str(strategy["id"]))
    assert saved is not None
    r = client.get(f"/v1/strategies/{strategy['id']}/signals", params={"date": "2016-07-04"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["date"] == "2016-07-01"  # 4 July is a holiday: the last trading day before
    assert body == signals_on(saved, date(2016, 7, 1), api.container.prices)
    assert body["rule"] == {"name": "sma_cross", "fast": 20, "slow": 100}
    assert [s["symbol"] for s in body["signals"]] == SYMBOLS
    latest = client.get(f"/v1/strategies/{strategy['id']}/signals").json()
    assert latest["date"] >= "2017-12-29"


def test_only_one_backtest_parameter_set_has_signals(
    client: httpx.Client, strategy: dict[str, object]
) -> None:
    grid = {**PARAMS, "strategy": {"name": "sma_cross", "fast": [10, 20], "slow": 100}}
    many = client.post("/v1/strategies", json={"name": "g", "model": "backtest", "params": grid})
    risk = client.post(
        "/v1/strategies",
        json={"name": "r", "model": "risk_metrics", "params": {"symbols": ["AAPL"],
              "start": "2016-01-01", "end": "2016-12-31"}},
    )  # fmt: skip
    for made in (many, risk):
        assert made.status_code == 201, made.text
        r = client.get(f"/v1/strategies/{made.json()['id']}/signals")
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "strategy_id"
    early = client.get(f"/v1/strategies/{strategy['id']}/signals", params={"date": "2013-05-01"})
    assert early.status_code == 422 and early.json()["error"]["details"][0]["field"] == "date"
    assert client.get("/v1/strategies/nope/signals").status_code == 404
