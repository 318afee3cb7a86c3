"""Paper portfolios over real HTTP in embedded mode (CONTRACT 6.1): made from a one-set
backtest strategy, stepped on demand to the latest stored day, read back whole (the
book, its equity, orders and trades pages); every fill delivered once to a webhook as a
signed ``order.filled`` (a failed delivery retried with its id), the rule's turns as
``signal.changed``, the drawdown alert once, and ``data.stale`` for instruments whose
prices stopped; bad input refused naming
the field; another user's portfolio is not found."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.jobs import wait_until
from quantrun.app.paper_steps import step_all
from quantrun.clock import utcnow
from quantrun.settings import ApiSettings, LimitSettings, Settings
from tests.harness.api import RunningApi
from tests.harness.receiver import Receiver

WITH_WORKER = False  # the test steps the portfolios itself
STRATEGY = {
    "name": "rsi on two",
    "model": "backtest",
    "params": {
        "symbols": ["AAPL", "XOM"],
        "start": "2016-01-01",
        "end": "2017-12-29",
        "strategy": {"name": "rsi", "period": 14, "lower": 40, "upper": 60},
        "fees_bps": 5,
    },
}
ALERTS = ["order.filled", "signal.changed", "portfolio.drawdown", "data.stale"]


def api_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        api=ApiSettings(
            webhook_allow_private=True,
            webhook_interval_seconds=0.1,
            webhook_first_retry_seconds=0.3,
        ),
        limits=LimitSettings(rate_requests_per_second=0),
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def every(client: httpx.Client, url: str, limit: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        r = client.get(url, params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def test_a_portfolio_steps_books_and_alerts(
    api: RunningApi, client: httpx.Client, receiver: Receiver
) -> None:
    api.container.start_webhooks()
    receiver.statuses = [500]  # the first alert delivered fails: retried with its id
    hook = client.post("/v1/webhooks", json={"url": receiver.url, "events": ALERTS}).json()
    strategy = client.post("/v1/strategies", json=STRATEGY).json()
    r = client.post(
        "/v1/portfolios",
        json={"strategy_id": strategy["id"], "name": "paper", "cash": 100_000,
              "start": "2017-01-01", "alerts": {"max_drawdown": 0.02}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["as_of"], made["cash"], made["equity"], made["positions"]) == (
        None, 100_000, 100_000, [],
    )  # fmt: skip
    r = client.post(f"/v1/portfolios/{made['id']}/step")
    assert r.status_code == 200, r.text
    booked, doc = r.json()["booked"], r.json()["portfolio"]
    assert booked == doc["days"] > 250 and doc["as_of"] >= "2018-01-02"
    assert client.post(f"/v1/portfolios/{made['id']}/step").json()["booked"] == 0
    assert client.get(f"/v1/portfolios/{made['id']}").json() == doc
    assert [p["id"] for p in client.get("/v1/portfolios").json()] == [made["id"]]

    equity = every(client, f"/v1/portfolios/{made['id']}/equity", 100)
    assert len(equity) == booked and equity[0]["date"] == "2017-01-03"
    assert [e["date"] for e in equity] == sorted(e["date"] for e in equity)
    assert equity[-1]["value"] == pytest.approx(doc["equity"], rel=1e-12)
    orders = every(client, f"/v1/portfolios/{made['id']}/orders", 7)
    trades = every(client, f"/v1/portfolios/{made['id']}/trades", 3)
    closed = [t for t in trades if t["exit_date"] is not None]
    assert len(orders) == 2 * len(closed) + len(doc["positions"]) > 6
    assert sum(t["pnl"] for t in trades) == pytest.approx(doc["equity"] - 100_000, rel=1e-9)
    for order in orders:
        price = client.get(
            "/v1/prices",
            params={"symbols": order["symbol"], "start": order["date"], "end": order["date"]},
        )
        assert order["price"] == price.json()["close"][0][0]  # filled at that close
        assert order["cost"] == pytest.approx(order["notional"] * 5e-4)

    # alerts: one order.filled per order, signed; a drawdown alert at most once per crossing
    wait_until(lambda: len(_delivered(receiver, "order.filled")) >= len(orders), timeout=30)
    filled = _delivered(receiver, "order.filled")
    assert len(filled) == len(orders)
    assert sorted((b["order"]["date"], b["order"]["symbol"]) for b in filled) == sorted(
        (o["date"], o["symbol"]) for o in orders
    )
    for headers, body in _received(receiver):
        expected = "sha256=" + hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-QuantRun-Signature"] == expected
    # sent beside the fills, not necessarily before the last of them
    wait_until(lambda: len(_delivered(receiver, "signal.changed")) >= len(orders) // 2, timeout=30)
    turns = _delivered(receiver, "signal.changed")
    assert {b["signal"] for b in turns} <= {"BUY", "SELL"} and len(turns) >= len(orders) // 2
    assert all(b["portfolio"]["id"] == made["id"] for b in filled + turns)
    # each drawdown alert on the first day the drawdown passed the limit (after a day
    # within it), and one for every such day
    before = [0.0] + [e["drawdown"] for e in equity[:-1]]
    crossed = [e["date"] for e, prev in zip(equity, before, strict=True)
               if e["drawdown"] <= -0.02 < prev]  # fmt: skip
    wait_until(lambda: len(_delivered(receiver, "portfolio.drawdown")) >= len(crossed), timeout=30)
    drawdowns = _delivered(receiver, "portfolio.drawdown")
    assert doc["max_drawdown"] < -0.02 and len(drawdowns) >= 1
    assert all(b["drawdown"] <= -0.02 for b in drawdowns)
    assert sorted(b["portfolio"]["date"] for b in drawdowns) == crossed

    # data.stale: the bundled prices stop in 2018; once per instrument however many runs,
    # and the coverage read (a table scan on BigQuery) once a day however often stepped
    now = utcnow()
    counted = CountingPrices(api.container.prices)
    runs = [
        step_all(store=api.container.portfolios, prices=counted, today=now.date(), now=now,
                 stale_after_days=3)
        for _ in range(3)
    ]  # fmt: skip
    assert runs[0]["stale"] > 0 and runs[1]["stale"] == runs[2]["stale"] == 0
    assert counted.instrument_reads == 1
    instruments = {i["symbol"] for i in client.get("/v1/instruments").json()}
    wait_until(lambda: len(_delivered(receiver, "data.stale")) >= len(instruments), timeout=30)
    stale = Counter(b["instrument"]["symbol"] for b in _delivered(receiver, "data.stale"))
    assert set(stale) == instruments and set(stale.values()) == {1}
    # one delivery per webhook and alert: the failed one came again with the same id and
    # body (but sent_at), no other came twice
    ids = Counter(h["X-QuantRun-Delivery"] for h, _ in _received(receiver))
    (retried,) = [i for i, n in ids.items() if n > 1]
    assert ids[retried] == 2
    first, again = [
        json.loads(b) for h, b in _received(receiver) if h["X-QuantRun-Delivery"] == retried
    ]
    assert {**first, "sent_at": None} == {**again, "sent_at": None} and first["id"] == retried

    assert client.delete(f"/v1/portfolios/{made['id']}").status_code == 204
    assert client.get(f"/v1/portfolios/{made['id']}").status_code == 404


class CountingPrices:
    """The real price store, its instrument-list reads counted."""

    def __init__(self, prices: Any) -> None:
        self._prices, self.instrument_reads = prices, 0

    def instruments(self) -> Any:
        self.instrument_reads += 1
        return self._prices.instruments()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prices, name)


def _received(receiver: Receiver) -> list[tuple[dict[str, str], bytes]]:
    return [(h, b) for _, h, b in receiver.received]


def _delivered(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    """The bodies of ``kind`` received, a retried delivery once."""
    bodies = {}
    for h, b in _received(receiver):
        if h["X-QuantRun-Event"] == kind:
            bodies[h["X-QuantRun-Delivery"]] = json.loads(b)
    return list(bodies.values())


def test_bad_portfolios_are_refused_naming_the_field(api: RunningApi, client: httpx.Client) -> None:
    strategy = client.post("/v1/strategies", json=STRATEGY).json()
    grid = client.post("/v1/strategies", json={**STRATEGY, "params": {
        **STRATEGY["params"], "strategy": {"name": "rsi", "period": [10, 14]}}}).json()  # type: ignore[dict-item]  # fmt: skip
    base = {"strategy_id": strategy["id"], "name": "p", "start": "2017-01-01"}
    for body, field in [
        ({**base, "strategy_id": grid["id"]}, "strategy_id"),
        ({**base, "start": "2999-01-01"}, "start"),
        ({**base, "cash": -1}, "cash"),
        ({**base, "alerts": {"max_drawdown": 2}}, "max_drawdown"),
        ({**base, "colour": "red"}, "colour"),
        ({k: v for k, v in base.items() if k != "start"}, "start"),
    ]:
        r = client.post("/v1/portfolios", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in json.dumps(r.json()["error"]), (field, r.text)
    assert client.post("/v1/portfolios", json={**base, "strategy_id": "nope"}).status_code == 404
    made = client.post("/v1/portfolios", json=base).json()
    assert client.get(f"/v1/portfolios/{made['id']}/orders?cursor=x").status_code == 422
    with api.client("someone else") as other:
        assert other.get(f"/v1/portfolios/{made['id']}").status_code == 404
        assert other.post(f"/v1/portfolios/{made['id']}/step").status_code == 404
        assert other.delete(f"/v1/portfolios/{made['id']}").status_code == 404
