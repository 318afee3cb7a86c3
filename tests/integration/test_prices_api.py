"""/v1/prices and /v1/prices/latest over real HTTP on the sample data (CONTRACT 5.5):
the stored fields, each symbol's last row and its source, and the read cache saying how
it served each read (RFC 9211 ``Cache-Status``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness.api import RunningApi, unlimited_api

WINDOW = {"symbols": "AAPL,XOM", "start": "2017-12-20", "end": "2017-12-29"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    api: RunningApi
    with unlimited_api(tmp_path_factory.mktemp("prices")) as api, api.client("reader") as c:
        yield c


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
