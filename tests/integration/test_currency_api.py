"""Currencies over real HTTP in embedded mode (CONTRACT 6.2): an FX instrument (EURUSD)
registered and priced, then ``GET /v1/prices?currency=EUR`` is each day's USD close over
that day's EURUSD close; a history model's ``currency`` param converts what it reads, in
a synchronous run and in a job; a day without a rate is a 422 (or a failed job) naming
the rate and the day."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import numpy as np
import pytest

from devtools.jobs import wait_for_job
from quantrun.app.users import set_role
from quantrun.clock import utcnow
from quantrun.domain.prices import PriceRow
from tests.harness.api import RunningApi

USER = "euro member"
WINDOW = {"start": "2017-01-03", "end": "2017-03-31"}
GAP = date(2017, 2, 15)


@pytest.fixture(scope="module")
def rates(api: RunningApi) -> dict[str, float]:
    """EURUSD on every weekday of 2017's first quarter but ``GAP``."""
    with api.client("fx admin") as admin:
        set_role(api.container.store, "fx admin", "admin", utcnow())
        made = admin.post("/v1/instruments", json={"symbol": "EURUSD", "name": "Euro in USD",
                                                   "asset_type": "fx"})  # fmt: skip
        assert made.status_code == 201, made.text
    day, rows = date(2017, 1, 2), []
    while day <= date(2017, 3, 31):
        if day.weekday() < 5 and day != GAP:
            rows.append(PriceRow(day, "EURUSD", round(1.04 + 0.0005 * len(rows), 6)))
        day += timedelta(days=1)
    api.container.prices.upsert(rows, source="test")
    api.container.read_cache.clear()
    return {r.date.isoformat(): r.close for r in rows}


def test_prices_in_euros_are_each_close_over_that_days_rate(
    client: httpx.Client, rates: dict[str, float]
) -> None:
    window = {"symbols": "AAPL,XOM", "start": "2017-01-03", "end": "2017-02-14"}
    usd = client.get("/v1/prices", params=window).json()
    eur = client.get("/v1/prices", params={**window, "currency": "EUR"})
    assert eur.status_code == 200, eur.text
    assert eur.json()["dates"] == usd["dates"]
    expected = np.array(usd["close"]) / np.array([[rates[d]] for d in usd["dates"]])
    np.testing.assert_allclose(np.array(eur.json()["close"], dtype=float), expected, rtol=1e-12)
    same = client.get("/v1/prices", params={**window, "currency": "USD"}).json()
    assert same["close"] == usd["close"]


def test_a_day_without_a_rate_is_a_422_naming_it(
    client: httpx.Client, rates: dict[str, float]
) -> None:
    r = client.get("/v1/prices", params={"symbols": "AAPL", **WINDOW, "currency": "EUR"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "missing_fx_rate"
    assert f"no EURUSD close on {GAP}" in r.json()["error"]["message"]
    jpy = client.get("/v1/prices", params={"symbols": "AAPL", **WINDOW, "currency": "JPY"})
    assert jpy.status_code == 422 and "JPYUSD" in jpy.text
    bad = client.get("/v1/prices", params={"symbols": "AAPL", **WINDOW, "currency": "euro"})
    assert bad.status_code == 422 and "currency" in bad.text


def test_history_models_read_in_the_currency_asked(
    client: httpx.Client, rates: dict[str, float]
) -> None:
    params = {"symbols": ["AAPL", "XOM"], "start": "2017-01-03", "end": "2017-02-14",
              "benchmark": "XOM"}  # fmt: skip
    usd = client.post("/v1/models/risk_metrics/run", json={"params": params}).json()
    run = client.post("/v1/models/risk_metrics/run", json={"params": {**params, "currency": "EUR"}})
    assert run.status_code == 200, run.text
    eur = run.json()
    # both series are divided by the same rate: the relative figures barely move, the
    # returns do by the euro's move over the window
    assert eur["series"]["AAPL"]["total_return"] != usd["series"]["AAPL"]["total_return"]
    first, last = rates["2017-01-03"], rates["2017-02-14"]
    grown = (1 + usd["series"]["AAPL"]["total_return"]) * first / last - 1
    assert eur["series"]["AAPL"]["total_return"] == pytest.approx(grown, rel=1e-9)
    in_euros = {"model": "risk_metrics", "params": {**params, "currency": "EUR"}}
    done = wait_for_job(client, client.post("/v1/jobs", json=in_euros).json()["id"], timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["series"]["AAPL"]["total_return"] == pytest.approx(grown, rel=1e-9)
    gap = {**params, "end": "2017-03-31", "currency": "EUR"}
    failed = wait_for_job(client, client.post("/v1/jobs", json={"model": "risk_metrics",
                          "params": gap}).json()["id"], timeout=60)  # fmt: skip
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "missing_fx_rate" and str(GAP) in failed["error"]["message"]
