"""/v1/prices, /v1/prices/latest and /v1/market-data/status over real HTTP on the sample
data (CONTRACT 5.5): the stored fields, each symbol's last row and its source, the read
cache saying how it served each read (RFC 9211 ``Cache-Status``), and the providers'
status made from the calls the store holds."""

from __future__ import annotations

from datetime import timedelta

import httpx

from quantrun.clock import utcnow
from quantrun.domain.market_data import ProviderCall
from tests.harness.api import RunningApi

WINDOW = {"symbols": "AAPL,XOM", "start": "2017-12-20", "end": "2017-12-29"}

USER = "reader"


def test_fields_come_as_stored_and_the_default_is_the_adjusted_close(
    client: httpx.Client,
) -> None:
    default = client.get("/v1/prices", params=WINDOW)
    assert default.status_code == 200 and set(default.json()) == {"dates", "symbols", "close"}
    asked = client.get("/v1/prices", params={**WINDOW, "fields": "volume,adj_close,close"})
    body = asked.json()
    assert set(body) == {"dates", "symbols", "close", "adj_close", "volume"}
    assert body["adj_close"] == default.json()["close"]  # what the models read
    assert body["dates"] == default.json()["dates"] and len(body["dates"]) == 7
    assert all(isinstance(v, float) for row in body["close"] for v in row)


def test_the_cache_says_miss_then_hit(client: httpx.Client) -> None:
    window = {**WINDOW, "start": "2016-03-01"}
    first = client.get("/v1/prices", params=window)
    second = client.get("/v1/prices", params=window)
    assert first.headers["cache-status"] == "quantrun; fwd=miss; stored"
    assert second.headers["cache-status"].startswith("quantrun; hit; ttl=")
    assert second.json() == first.json()


def test_latest_names_the_day_and_the_source(client: httpx.Client) -> None:
    r = client.get("/v1/prices/latest", params={"symbols": "XOM,AAPL"})
    assert r.status_code == 200, r.text
    latest = r.json()
    assert [p["symbol"] for p in latest] == ["XOM", "AAPL"]
    assert all(p["date"] >= "2017-12-29" and p["close"] > 0 and p["source"] for p in latest)
    assert r.headers["cache-status"] == "quantrun; fwd=miss; stored"
    unknown = client.get("/v1/prices/latest", params={"symbols": "NOPE"})
    assert unknown.status_code == 422


def test_market_data_status_per_provider_and_the_read_cache(
    api: RunningApi, client: httpx.Client
) -> None:
    now = utcnow()

    def call(provider: str, minutes_ago: float, outcome: str, **kw: object) -> ProviderCall:
        at = now - timedelta(minutes=minutes_ago)
        detail = str(kw.pop("detail", ""))
        return ProviderCall("run", provider, "AAPL", outcome, detail, at, **kw)  # type: ignore[arg-type]

    api.container.prices.record_provider_calls(
        [
            call("stooq", 300, "error", detail="stooq answered 503", requests=4),
            call("stooq", 120, "ok", requests=3, throttled=2, retry_after_seconds=5.0),
            call("alphavantage", 119, "ok", requests=1),
            call(
                "alphavantage",
                1,
                "rate_limited",
                detail="429",
                throttled=3,
                retry_after_seconds=3600,
            ),
        ]
    )
    r = client.get("/v1/market-data/status")
    assert r.status_code == 200, r.text
    body = r.json()
    providers = {p["provider"]: p for p in body["providers"]}
    assert list(providers) == ["alphavantage", "stooq"] and body["window_days"] == 30
    stooq, alpha = providers["stooq"], providers["alphavantage"]
    assert stooq["last_outcome"] == "ok" and stooq["last_success_at"] is not None
    assert stooq["last_error"]["message"] == "stooq answered 503"
    assert stooq["rate_limit"]["state"] == "throttled" and stooq["rate_limit"]["until"] is None
    assert (stooq["calls_24h"], stooq["errors_24h"], stooq["rate_limit"]["throttled_24h"]) == (
        2,
        1,
        2,
    )
    assert alpha["rate_limit"]["state"] == "limited" and alpha["last_error"]["message"] == "429"
    until = alpha["rate_limit"]["until"]
    assert until > body["checked_at"]  # an hour after the refusal, ISO strings in UTC
    cache = body["cache"]
    assert cache["ttl_seconds"] == {
        "instruments": 5.0,
        "history": 60.0,
        "latest": 5.0,
        "stale": 30.0,
    }
    assert cache["entries"] >= 1 and cache["misses"] >= 1 and 0 <= cache["hit_rate"] <= 1
    again = client.get("/v1/market-data/status").json()["cache"]
    assert again["hits"] == cache["hits"] + 1  # the provider summary, cached for the latest TTL
