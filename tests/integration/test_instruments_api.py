"""Instruments through the API (CONTRACT 6.2) in embedded mode (DuckDB): admins
register and change them, members read them; the listing joins records with stored
prices and filters on ``active``; every change is audited; bad input is a 422 naming the
field; an inactive instrument gets no ``data.stale`` alert."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from devtools.jobs import wait_until
from quantrun.adapters.sql.schema import alerts
from quantrun.app.paper_steps import stale_alerts
from quantrun.app.users import set_role
from quantrun.clock import utcnow
from quantrun.settings import IngestSettings, LimitSettings, Settings
from tests.harness.api import RunningApi

WITH_WORKER = False
USER = "instrument reader"


def api_settings(data_dir: Path) -> Settings:
    # backfills fetch from the synthetic provider (no network here)
    return Settings(
        data_dir=data_dir,
        limits=LimitSettings(rate_requests_per_second=0),
        ingest=IngestSettings(ingest_providers="synthetic"),
    )


@pytest.fixture(scope="module")
def admin(api: RunningApi) -> httpx.Client:
    client = api.client("instrument admin")
    set_role(api.container.store, "instrument admin", "admin", utcnow())
    return client


def by_symbol(client: httpx.Client, **params: str) -> dict[str, dict[str, object]]:
    r = client.get("/v1/instruments", params=params)
    assert r.status_code == 200, r.text
    return {i["symbol"]: i for i in r.json()}


def test_admins_register_and_change_instruments(
    api: RunningApi, client: httpx.Client, admin: httpx.Client
) -> None:
    eur = {"symbol": "eurusd", "name": "Euro in US dollars", "asset_type": "fx",
           "exchange": None, "currency": "USD"}  # fmt: skip
    assert client.post("/v1/instruments", json=eur).status_code == 403
    made = admin.post("/v1/instruments", json=eur)
    assert made.status_code == 201, made.text
    assert made.json() == {**eur, "symbol": "EURUSD", "active": True}
    assert admin.post("/v1/instruments", json=eur).status_code == 409
    listed = by_symbol(client)
    assert listed["EURUSD"]["rows"] == 0 and listed["EURUSD"]["first_date"] is None
    # a symbol with prices and no record: an active USD equity until changed
    aapl = listed["AAPL"]
    assert (aapl["asset_type"], aapl["currency"], aapl["active"]) == ("equity", "USD", True)
    assert aapl["rows"] > 5000
    assert client.patch("/v1/instruments/AAPL", json={"active": False}).status_code == 403
    changed = admin.patch("/v1/instruments/aapl", json={"active": False, "exchange": "NASDAQ"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False and changed.json()["exchange"] == "NASDAQ"
    assert list(by_symbol(client, active="false")) == ["AAPL"]
    assert "AAPL" not in by_symbol(client, active="true")
    assert "EURUSD" in by_symbol(client, active="true")
    assert admin.patch("/v1/instruments/NOPE", json={"active": False}).status_code == 404
    # an inactive instrument is not reported stale
    stale_alerts(store=api.container.portfolios, prices=api.container.prices,
                 today=utcnow().date(), after_days=3, now=utcnow())  # fmt: skip
    with api.container.engine.connect() as conn:
        keys = {r.key for r in conn.execute(select(alerts.c.key)).all()}
    assert any(k.startswith("data.stale:XOM:") for k in keys)
    assert not any(k.startswith("data.stale:AAPL:") for k in keys)
    # audited, by the admin
    trail = admin.get("/v1/audit").json()["items"]
    mine = [
        (e["action"], e["subject"]["id"]) for e in trail if e["actor"]["name"] == "instrument admin"
    ]
    assert mine[:2] == [("instrument.update", "AAPL"), ("instrument.create", "EURUSD")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "X1", "name": "x", "asset_type": "bond"}, "asset_type"),
        ({"symbol": "X1", "name": "x", "currency": "usd"}, "currency"),
        ({"symbol": "bad symbol!", "name": "x"}, "symbol"),
        ({"symbol": "X1"}, "name"),
        ({"symbol": "X1", "name": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_instruments_are_refused_naming_the_field(
    admin: httpx.Client, body: dict[str, object], field: str
) -> None:
    r = admin.post("/v1/instruments", json=body)
    assert r.status_code == 422, r.text
    assert field in r.text


def test_a_change_may_not_null_a_required_field(admin: httpx.Client) -> None:
    r = admin.patch("/v1/instruments/XOM", json={"name": None})
    assert r.status_code == 422 and "name" in r.text


def test_a_backfill_is_an_ingest_run_anyone_can_follow(
    api: RunningApi, client: httpx.Client, admin: httpx.Client
) -> None:
    made = admin.post("/v1/instruments", json={"symbol": "DEMO", "name": "A demo series"})
    assert made.status_code == 201, made.text
    body = {"start": "2024-01-02", "end": "2024-01-31"}
    assert client.post("/v1/instruments/DEMO/backfill", json=body).status_code == 403
    assert admin.post("/v1/instruments/ZZZZ/backfill", json=body).status_code == 404
    backwards = admin.post("/v1/instruments/DEMO/backfill", json={"start": "2024-02-01",
                                                                  "end": "2024-01-01"})  # fmt: skip
    assert backwards.status_code == 422 and "start" in backwards.text
    started = admin.post("/v1/instruments/DEMO/backfill", json=body)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.json()["status"] == "queued"
    done = wait_until(
        lambda: (r := client.get(f"/v1/ingest-runs/{run_id}").json())["status"] != "queued" and r,
        timeout=30,
    )
    assert done["status"] == "ok", done
    (demo,) = done["symbols"]
    assert demo["source"] == "synthetic" and demo["inserted"] == 22  # January's weekdays
    prices = client.get("/v1/prices", params={"symbols": "DEMO", "start": "2024-01-01",
                                              "end": "2024-01-31"}).json()  # fmt: skip
    assert len(prices["dates"]) == 22
    assert client.get("/v1/ingest-runs/00000000-0000-0000-0000-000000000000").status_code == 404
    trail = admin.get("/v1/audit").json()["items"]
    assert any(e["action"] == "instrument.backfill" and e["details"]["run_id"] == run_id
               for e in trail)  # fmt: skip
