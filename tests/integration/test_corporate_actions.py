"""Corporate actions end to end in embedded mode (CONTRACT 6.2), on recorded Alpha
Vantage answers served to the real provider client and ingested into the real DuckDB
store:

- IBM, 2024-01-17 .. 2024-06-07 (an answer refreshed 2024-06-07, recorded in a public
  repository): two dividends, 1.66 ex 2024-02-08 and 1.67 ex 2024-05-09. The total return
  QuantRun makes from the stored closes and the dividends it kept must be Alpha Vantage's
  adjusted close of every day.
- AMZN, 2022-06-03 .. 2022-06-07: its 20-for-1 split on 2022-06-06. The split day must be
  the day's market move (+2.0%), not -95%.

Then the actions route, an ``actions.csv`` upload, and a history model's ``adjustment``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from devtools.jobs import wait_for_job
from quantrun.adapters.providers import AlphaVantageProvider, HttpPolicy
from quantrun.app.fallback import FallbackFetcher
from quantrun.app.ingest import ingest_prices
from quantrun.app.ingest_request import IngestRequest
from quantrun.app.price_files import ingest_file
from tests.harness.api import RunningApi
from tests.harness.recorded_http import load, recorded_server

USER = "actions member"
FAST = HttpPolicy(timeout=5, retries=0, backoff=0.0, per_second=1000)
IBM = {"symbols": "IBM", "start": "2024-01-17", "end": "2024-06-07"}
AMZN = {"symbols": "AMZN", "start": "2022-06-03", "end": "2022-06-07"}


def _series(name: str) -> dict[str, dict[str, str]]:
    answer: dict[str, Any] = json.loads(load(name))
    return dict(sorted(answer["Time Series (Daily)"].items()))


@pytest.fixture(scope="module")
def recorded(api: RunningApi) -> dict[str, dict[str, dict[str, str]]]:
    """Both answers ingested through ``ingest_prices``, each on its own day."""
    with recorded_server() as server:
        server.routes[("/query", "IBM")] = (200, "application/json",
                                            load("alphavantage_ibm_dividends.json"))  # fmt: skip
        server.routes[("/query", "AMZN")] = (200, "application/json",
                                             load("alphavantage_amzn_split.json"))  # fmt: skip
        for symbol, today in (("IBM", date(2024, 6, 7)), ("AMZN", date(2022, 6, 7))):
            fetcher = FallbackFetcher(
                [AlphaVantageProvider("key", server.url, policy=FAST)], today=lambda t=today: t
            )
            result = ingest_prices(
                request=IngestRequest([symbol], start=date(2022, 1, 1), end=today),
                fetcher=fetcher,
                store=api.container.prices,
                now=datetime.combine(today, datetime.min.time(), UTC),
                today=today,
            )
            assert not result.failed, result.failed
    api.container.read_cache.clear()
    return {"IBM": _series("alphavantage_ibm_dividends.json"),
            "AMZN": _series("alphavantage_amzn_split.json")}  # fmt: skip


def test_the_providers_dividends_and_splits_are_kept(
    client: httpx.Client, recorded: dict[str, Any]
) -> None:
    ibm = client.get("/v1/instruments/IBM/actions")
    assert ibm.status_code == 200, ibm.text
    assert ibm.json() == [
        {"date": "2024-02-08", "kind": "dividend", "value": 1.66, "source": "alphavantage"},
        {"date": "2024-05-09", "kind": "dividend", "value": 1.67, "source": "alphavantage"},
    ]
    amzn = client.get("/v1/instruments/AMZN/actions").json()
    assert amzn == [{"date": "2022-06-06", "kind": "split", "value": 20.0,
                     "source": "alphavantage"}]  # fmt: skip
    unknown = client.get("/v1/instruments/NOPE/actions")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_total_return_from_the_dividends_is_the_providers_adjusted_close(
    client: httpx.Client, recorded: dict[str, Any]
) -> None:
    answer = recorded["IBM"]
    got = client.get("/v1/prices", params=IBM).json()
    assert got["dates"] == list(answer)
    # the prices table also holds Alpha Vantage's adjusted close; made from the actions,
    # the total return does not read it, and agrees with it to the last digit it gives
    expected = [float(v["5. adjusted close"]) for v in answer.values()]
    np.testing.assert_allclose(np.array(got["close"])[:, 0], expected, rtol=1e-12)
    raw = client.get("/v1/prices", params={**IBM, "adjustment": "none"}).json()
    assert [row[0] for row in raw["close"]] == [float(v["4. close"]) for v in answer.values()]
    # no splits in the window: split-adjusted is the close as traded
    assert client.get("/v1/prices", params={**IBM, "adjustment": "splits"}).json() == raw
    # the ex-date's total return is CRSP's (C_ex + D) / C_prev - 1
    at = got["dates"].index("2024-02-08")
    r = got["close"][at][0] / got["close"][at - 1][0] - 1
    assert r == pytest.approx((184.36 + 1.66) / 183.74 - 1, rel=1e-12)


def test_a_split_day_is_the_days_move_not_a_crash(
    client: httpx.Client, recorded: dict[str, Any]
) -> None:
    for adjustment in ("total_return", "splits"):
        got = client.get("/v1/prices", params={**AMZN, "adjustment": adjustment}).json()
        before, on = got["close"][0][0], got["close"][1][0]
        assert on / before - 1 == pytest.approx(124.79 / (2447.0 / 20) - 1, rel=1e-12)  # +2.0%
        assert before == pytest.approx(122.35, rel=1e-12)  # the provider's adjusted close
    raw = client.get("/v1/prices", params={**AMZN, "adjustment": "none"}).json()
    assert raw["close"][1][0] / raw["close"][0][0] - 1 == pytest.approx(-0.949, abs=1e-3)
    asked = client.get("/v1/prices", params={**AMZN, "fields": "close,adj_close"}).json()
    assert [r[0] for r in asked["close"]] == [2447.0, 124.79, 123.0]  # as traded
    assert asked["adj_close"][0][0] == pytest.approx(122.35, rel=1e-12)
    bad = client.get("/v1/prices", params={**AMZN, "adjustment": "dividends"})
    assert bad.status_code == 422 and "adjustment" in bad.text


def test_history_models_read_under_the_adjustment_asked(
    client: httpx.Client, recorded: dict[str, Any]
) -> None:
    answer = recorded["IBM"]
    closes = [float(v["4. close"]) for v in answer.values()]
    adjusted = [float(v["5. adjusted close"]) for v in answer.values()]
    params = {"symbols": ["IBM"], "start": IBM["start"], "end": IBM["end"], "benchmark": "IBM"}
    runs = {
        a: client.post("/v1/models/risk_metrics/run", json={"params": {**params, "adjustment": a}})
        for a in ("total_return", "none")
    }
    for run in runs.values():
        assert run.status_code == 200, run.text
    total = runs["total_return"].json()["series"]["IBM"]["total_return"]
    price_only = runs["none"].json()["series"]["IBM"]["total_return"]
    assert total == pytest.approx(adjusted[-1] / adjusted[0] - 1, rel=1e-9)
    assert price_only == pytest.approx(closes[-1] / closes[0] - 1, rel=1e-9)
    # what the dividends add: each reinvested at its ex-date close
    reinvested = (184.36 + 1.66) / 184.36 * (166.27 + 1.67) / 166.27
    assert (1 + total) / (1 + price_only) == pytest.approx(reinvested, rel=1e-12)
    job = {"model": "risk_metrics", "params": {**params, "adjustment": "none"}}
    done = wait_for_job(client, client.post("/v1/jobs", json=job).json()["id"], timeout=60)
    assert done["status"] == "succeeded", done
    assert done["result"]["series"]["IBM"]["total_return"] == pytest.approx(price_only, rel=1e-12)


def test_an_uploaded_actions_file_adjusts_what_is_read(
    api: RunningApi, client: httpx.Client, recorded: dict[str, Any]
) -> None:
    bad = ingest_file(name="actions.csv", data=b"symbol,date,kind,value\nAMZN,2022-06-07,split,1\n",
                      store=api.container.prices, now=datetime.now(UTC))  # fmt: skip
    assert not bad.accepted and "line 2: a split of 1.0 changes nothing" in bad.report["problems"]
    good = b"symbol,date,kind,value\nAMZN,2022-06-07,dividend,1.23\n"
    loaded = ingest_file(name="amzn-actions.csv", data=good, store=api.container.prices,
                         now=datetime.now(UTC))  # fmt: skip
    assert loaded.accepted and loaded.report["actions"] == 1
    api.container.read_cache.clear()
    listed = client.get("/v1/instruments/AMZN/actions").json()
    assert listed[-1] == {"date": "2022-06-07", "kind": "dividend", "value": 1.23,
                          "source": "upload:amzn-actions.csv"}  # fmt: skip
    got = client.get("/v1/prices", params=AMZN).json()["close"]
    # the day before the ex-date now carries 123 / (123 + 1.23) too
    assert got[1][0] == pytest.approx(124.79 * 123.0 / 124.23, rel=1e-12)
    assert got[2][0] == 123.0
