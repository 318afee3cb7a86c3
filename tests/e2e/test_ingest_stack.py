"""The ingest functions wired as in production, on the emulators: a message on the ingest
topic drives ingest_prices through a push subscription; a file finalized under uploads/
drives ingest_upload through the storage emulator's Pub/Sub notifications. Providers are
the real client code against recorded responses on a local server. A paper portfolio
(CONTRACT 6.1) steps on the worker over a day the upload function ingested, and its
fill reaches a webhook as ``order.filled``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from devtools.emulators import Emulators
from devtools.jobs import wait_until
from devtools.postgres import PostgresServer
from devtools.stack import Stack, start_stack
from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
from quantrun.adapters.sql.job_store import SqlJobStore
from tests.harness.log_filter import extract, matching, read_entries
from tests.harness.receiver import Receiver
from tests.harness.recorded_http import Recorded, load, recorded_server
from tests.infra.monitoring import load as load_monitoring

USER = "ingest"  # the API key's user (tests/e2e/conftest.py)


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorded]:
    with recorded_server() as server:
        server.routes[("/q/d/l/", "aapl.us")] = (200, "text/csv", load("stooq_aapl_us.csv"))
        server.routes[("/query", "IBM")] = (200, "application/json", load("alphavantage_ibm.json"))
        yield server


@pytest.fixture(scope="module")
def stack(
    postgres_server: PostgresServer, emulators: Emulators, recorded: Recorded
) -> Iterator[Stack]:
    s = start_stack(
        postgres=postgres_server,
        emulators=emulators,
        sample_symbols=["SPY"],
        with_functions=True,
        service_env={
            "QUANTRUN_READ_CACHE_SECONDS": "0.5",
            "QUANTRUN_WEBHOOK_ALLOW_PRIVATE": "true",
            "QUANTRUN_WEBHOOK_INTERVAL_SECONDS": "0.2",
        },
        function_env={
            "QUANTRUN_INGEST_PROVIDERS": "stooq,alphavantage",
            "QUANTRUN_STOOQ_URL": recorded.url,
            "QUANTRUN_ALPHAVANTAGE_URL": recorded.url,
            "QUANTRUN_SECRET_PROVIDER_ALPHAVANTAGE_KEY": "test-key",
            "QUANTRUN_SECRETS_FROM_ENV_ONLY": "true",
            "QUANTRUN_GCP_TIMEOUT_SECONDS": "20",
        },
    )
    try:
        yield s
    finally:
        s.stop()


def publish_ingest(stack: Stack, message: dict[str, Any]) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    with stack.env_applied():
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(stack.emulators.project, stack.names.ingest_topic)
        publisher.publish(topic, json.dumps(message).encode()).result(10)


def price_store(stack: Stack) -> BigQueryPriceStore:
    from quantrun.adapters.gcp.clients import bigquery_client

    with stack.env_applied():
        return BigQueryPriceStore(
            bigquery_client(stack.emulators.project, emulator=stack.emulators.bigquery_url),
            dataset=stack.names.dataset,
            timeout=20,
        )


def test_an_ingest_message_loads_rows_and_a_rerun_changes_nothing(
    stack: Stack, client: httpx.Client, recorded: Recorded
) -> None:
    store = price_store(stack)
    recorded.script[("/q/d/l/", "aapl.us")].append(500)  # the first call fails: retried
    publish_ingest(stack, {"symbols": ["AAPL"], "start": "2024-01-01", "end": "2024-01-12"})
    run = wait_until(lambda: store.last_ingest_run("AAPL"))
    assert run["source"] == "stooq" and run["inserted"] == 9 and run["status"] == "ok"
    assert recorded.hits[("/q/d/l/", "aapl.us")] >= 2
    prices = client.get(
        "/v1/prices", params={"symbols": "AAPL", "start": "2024-01-01", "end": "2024-01-12"}
    ).json()
    assert len(prices["dates"]) == 9 and prices["close"][0] == [185.64]
    publish_ingest(stack, {"symbols": ["AAPL"], "start": "2024-01-01", "end": "2024-01-12"})
    again = wait_until(
        lambda: (r := store.last_ingest_run("AAPL")) and r["run_id"] != run["run_id"] and r
    )
    assert again["inserted"] == 0 and again["updated"] == 0 and again["unchanged"] == 9
    assert (
        store.instruments()[0].rows == 9
        or {i.symbol: i.rows for i in store.instruments()}["AAPL"] == 9
    )


def test_the_second_provider_supplies_when_the_first_has_nothing(
    stack: Stack, client: httpx.Client
) -> None:
    store = price_store(stack)
    publish_ingest(stack, {"symbols": ["IBM"], "start": "2024-01-01", "end": "2024-01-12"})
    run = wait_until(lambda: store.last_ingest_run("IBM"))
    assert run["source"] == "alphavantage" and run["inserted"] == 5
    # the API tells what each provider did, from the calls the function recorded
    providers = wait_until(lambda: _providers(client, "alphavantage"))
    assert providers["alphavantage"]["last_outcome"] == "ok"
    stooq = providers["stooq"]  # it has no IBM recording: 404, no retries
    assert stooq["last_error"]["message"] == "stooq answered 404: not recorded"
    assert stooq["rate_limit"]["state"] == "ok" and stooq["errors_24h"] >= 1


def test_the_ingest_log_metric_counts_the_functions_runs_by_outcome(stack: Stack) -> None:
    """infra/modules/monitoring's ingest_runs metric on the lines the function wrote: a
    run that fetched its symbol counts as ok, one whose every provider failed as failed
    (the freshness alert waits for ok runs)."""
    store = price_store(stack)
    publish_ingest(stack, {"symbols": ["AAPL"], "start": "2024-01-01", "end": "2024-01-12"})
    publish_ingest(stack, {"symbols": ["NOPE"], "start": "2024-01-01", "end": "2024-01-12"})
    ok = wait_until(lambda: store.last_ingest_run("AAPL"))
    failed = wait_until(lambda: store.last_ingest_run("NOPE"))
    metric = load_monitoring().log_metrics["ingest_runs"]
    logs = sorted(stack.workdir.glob("function-*.log"))

    def outcomes() -> dict[str, Any] | None:
        counted = matching(metric.filter, read_entries(*logs))
        found = {e["jsonPayload"]["run_id"]: extract(metric.labels["outcome"], e) for e in counted}
        return found if {ok["run_id"], failed["run_id"]} <= set(found) else None

    found = wait_until(outcomes, timeout=20)
    assert found[ok["run_id"]] == "ok" and found[failed["run_id"]] == "failed"


def _providers(client: httpx.Client, wanted: str) -> dict[str, Any] | None:
    r = client.get("/v1/market-data/status")
    assert r.status_code == 200, r.text
    found = {p["provider"]: p for p in r.json()["providers"]}
    return found if wanted in found else None


def _upload(stack: Stack, name: str, body: bytes) -> None:
    from quantrun.adapters.gcp.clients import storage_client

    with stack.env_applied():
        bucket = storage_client(
            stack.emulators.project, emulator=stack.emulators.storage_url
        ).bucket(stack.names.uploads_bucket)
        bucket.blob(name).upload_from_string(body, content_type="text/csv")


def _objects(stack: Stack, prefix: str) -> dict[str, bytes]:
    from quantrun.adapters.gcp.clients import storage_client

    with stack.env_applied():
        client = storage_client(stack.emulators.project, emulator=stack.emulators.storage_url)
        return {
            b.name: b.download_as_bytes()
            for b in client.list_blobs(stack.names.uploads_bucket, prefix=prefix)
        }


def _acme_csv(days: int = 60, symbol: str = "ACME") -> bytes:
    rng = np.random.default_rng(1)
    day = date(2017, 1, 3)
    lines = ["date,symbol,close,volume"]
    price = 20.0
    while len(lines) <= days:
        if day.weekday() < 5:
            price *= 1 + rng.normal(0.001, 0.02)
            lines.append(f"{day},{symbol},{price:.4f},{1000 + len(lines)}")
        day += timedelta(days=1)
    return ("\n".join(lines) + "\n").encode()


def test_an_uploaded_file_is_loaded_and_a_model_job_sees_it(
    stack: Stack, client: httpx.Client
) -> None:
    _upload(stack, "uploads/acme.csv", _acme_csv())
    wait_until(lambda: "processed/acme.csv" in _objects(stack, "processed/"))
    assert "uploads/acme.csv" not in _objects(stack, "uploads/")
    coverage = wait_until(
        lambda: (r := client.get("/v1/instruments/ACME/coverage")).status_code == 200 and r.json()
    )
    assert coverage["rows"] == 60 and coverage["last_ingest"]["source"] == "upload:acme.csv"
    params = {"symbols": ["ACME"], "start": "2017-01-01", "end": "2017-03-31", "benchmark": "SPY"}
    # the API re-reads the symbol list at most once a second on a miss
    job = wait_until(
        lambda: (
            (
                r := client.post("/v1/jobs", json={"model": "risk_metrics", "params": params})
            ).status_code
            == 202
            and r
        ),
        timeout=10,
    )
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 60
    while (done := client.get(f"/v1/jobs/{job.json()['id']}").json())["status"] in (
        "queued",
        "running",
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["series"]["ACME"]["observations"] == 59
    # each BigQuery query the job made is in its manifest, with what BigQuery says it
    # processed (the emulator says 0 bytes for every query: it does not count them)
    manifest = client.get(f"/v1/jobs/{done['id']}/artifacts/manifest.json",
                          follow_redirects=True).json()  # fmt: skip
    queries = manifest["bigquery"]["queries"]
    assert [q["table"] for q in queries] == ["corporate_actions", "prices"], queries
    assert all(isinstance(q["total_bytes_processed"], int) for q in queries)
    assert manifest["bigquery"]["total_bytes_processed"] == sum(
        q["total_bytes_processed"] for q in queries
    )


OHLCV = [  # date, open, high, low, close, volume
    ("2017-02-01", 10.0, 10.8, 9.9, 10.5, 1500),
    ("2017-02-02", 10.5, 11.2, 10.1, 11.0, 2500),
    ("2017-02-03", 11.0, 11.1, 10.2, 10.4, 1200),
]


def test_uploaded_fields_come_back_as_uploaded_and_the_latest_names_its_source(
    stack: Stack, client: httpx.Client
) -> None:
    """CONTRACT 5.5 end to end: a file with open, high, low, close and volume through the
    upload function into BigQuery; `/v1/prices?fields=` returns each as uploaded and
    `/v1/prices/latest` the last row and where it came from."""
    body = "date,symbol,open,high,low,close,volume\n" + "".join(
        f"{d},OHLC,{o},{h},{lo},{c},{v}\n" for d, o, h, lo, c, v in OHLCV
    )
    _upload(stack, "uploads/ohlc.csv", body.encode())
    wait_until(lambda: "processed/ohlc.csv" in _objects(stack, "processed/"))
    query = {"symbols": "OHLC", "start": "2017-01-01", "end": "2017-12-31"}
    got = wait_until(
        lambda: (
            (
                r := client.get(
                    "/v1/prices", params={**query, "fields": "open,high,low,close,volume"}
                )
            ).status_code
            == 200
            and r.json()
        ),
        timeout=15,
    )
    assert got["dates"] == [d for d, *_ in OHLCV] and got["symbols"] == ["OHLC"]
    for i, name in enumerate(("open", "high", "low", "close", "volume"), start=1):
        assert [row[0] for row in got[name]] == [float(r[i]) for r in OHLCV], name
    assert "adj_close" not in got
    latest = client.get("/v1/prices/latest", params={"symbols": "OHLC"}).json()
    assert latest == [
        {"symbol": "OHLC", "date": "2017-02-03", "close": 10.4, "adj_close": None,
         "source": "upload:ohlc.csv"}
    ]  # fmt: skip
    bad = client.get("/v1/prices", params={**query, "fields": "close,bid"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "fields"


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        (
            "negative.csv",
            b"date,symbol,close\n2017-01-03,BADCO,10\n2017-01-04,BADCO,-2\n",
            "line 3",
        ),
        ("dupe.csv", b"date,symbol,close\n2017-01-03,BADCO,10\n2017-01-03,BADCO,11\n", "duplicate"),
    ],
)
def test_a_bad_upload_loads_nothing_and_leaves_a_report(
    stack: Stack, client: httpx.Client, name: str, body: bytes, problem: str
) -> None:
    _upload(stack, f"uploads/{name}", body)
    rejected = wait_until(
        lambda: (
            (objs := _objects(stack, "rejected/"))
            and f"rejected/{name}.report.json" in objs
            and objs
        )
    )
    assert rejected[f"rejected/{name}"] == body
    report = json.loads(rejected[f"rejected/{name}.report.json"])
    assert report["accepted"] is False and problem in json.dumps(report)
    assert client.get("/v1/instruments/BADCO/coverage").status_code == 404


def test_a_portfolio_steps_on_the_worker_over_an_ingested_day_and_tells_the_fill(
    stack: Stack, client: httpx.Client
) -> None:
    _upload(stack, "uploads/papr.csv", _acme_csv(symbol="PAPR"))
    wait_until(lambda: "processed/papr.csv" in _objects(stack, "processed/"))
    receiver = Receiver([])
    try:
        hook = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["order.filled"]})
        assert hook.status_code == 201, hook.text
        params = {
            "symbols": ["PAPR"],
            "start": "2017-01-01",
            "end": "2017-03-31",
            "strategy": {"name": "sma_cross", "fast": 2, "slow": 5},
            "fees_bps": 5,
        }
        strategy = wait_until(
            lambda: (
                (
                    r := client.post(
                        "/v1/strategies",
                        json={"name": "papr", "model": "backtest", "params": params},
                    )
                ).status_code
                == 201
                and r.json()
            )
        )
        made = client.post(
            "/v1/portfolios",
            json={
                "strategy_id": strategy["id"],
                "name": "papr",
                "cash": 10_000,
                "start": "2017-01-01",
            },
        )
        assert made.status_code == 201, made.text
        url = f"/v1/portfolios/{made.json()['id']}"
        # what Cloud Scheduler does every 10 minutes
        stepped = httpx.post(f"{stack.worker_url}/tasks/portfolios", timeout=60)
        assert stepped.status_code == 200 and stepped.json()["days"] == 60, stepped.text
        before = client.get(url).json()
        assert before["days"] == 60 and before["as_of"] == "2017-03-27"
        # a new day, ingested through the upload function: a jump that turns the rule
        holding = bool(before["positions"])
        last = client.get("/v1/prices/latest", params={"symbols": "PAPR"}).json()[0]["close"]
        close = last * (0.5 if holding else 2.0)
        _upload(
            stack,
            "uploads/papr-day.csv",
            f"date,symbol,close\n2017-03-28,PAPR,{close:.4f}\n".encode(),
        )
        wait_until(lambda: "processed/papr-day.csv" in _objects(stack, "processed/"))
        asked = client.post(f"{url}/step")  # gcp: a message on the jobs topic for the worker
        assert asked.status_code == 202, asked.text
        after = wait_until(lambda: (doc := client.get(url).json())["days"] == 61 and doc)
        assert after["as_of"] == "2017-03-28" and bool(after["positions"]) != holding
        orders = client.get(f"{url}/orders", params={"limit": 200}).json()["items"]
        assert orders[-1]["date"] == "2017-03-28"
        assert orders[-1]["side"] == ("SELL" if holding else "BUY")
        assert orders[-1]["price"] == pytest.approx(close, rel=1e-9)

        def told() -> list[dict[str, Any]]:
            bodies = [json.loads(b) for _, _, b in receiver.received]
            return [b for b in bodies if b["order"]["date"] == "2017-03-28"]

        (delivery,) = wait_until(told, timeout=30)
        assert delivery["type"] == "order.filled"
        assert delivery["portfolio"]["id"] == made.json()["id"]
        assert delivery["order"] == orders[-1]
        assert len(receiver.received) == len(orders)  # every fill told once
    finally:
        receiver.close()


def test_an_admin_adds_an_instrument_and_backfills_it_through_the_function(
    stack: Stack, store: SqlJobStore, recorded: Recorded
) -> None:
    """CONTRACT 6.2 on the emulators: the instrument is kept in BigQuery, the backfill
    goes to the ingest function as a message on its topic, its run is followed by id,
    and a member reads the prices it loaded, in euros once EURUSD is loaded."""
    from quantrun.app.users import set_role
    from quantrun.clock import utcnow

    with stack.client("universe admin") as admin, stack.client("universe member") as member:
        set_role(store, "universe admin", "admin", utcnow())
        made = admin.post("/v1/instruments", json={"symbol": "AAPL", "name": "Apple Inc.",
                                                   "exchange": "NASDAQ"})  # fmt: skip
        assert made.status_code == 201, made.text
        listed = {i["symbol"]: i for i in member.get("/v1/instruments").json()}
        assert listed["AAPL"]["exchange"] == "NASDAQ" and listed["SPY"]["active"] is True
        started = admin.post("/v1/instruments/AAPL/backfill",
                             json={"start": "2024-01-01", "end": "2024-01-12"})  # fmt: skip
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        done = wait_until(
            lambda: (
                (r := member.get(f"/v1/ingest-runs/{run_id}").json())["status"] != "queued" and r
            ),
            timeout=60,
        )
        assert done["status"] == "ok", done
        (aapl,) = done["symbols"]
        assert aapl["source"] == "stooq" and aapl["fetched"] == 9
        window = {"symbols": "AAPL", "start": "2024-01-01", "end": "2024-01-12"}
        prices = member.get("/v1/prices", params=window).json()
        assert len(prices["dates"]) == 9
        # in euros: EURUSD registered as an FX instrument and loaded by the upload function
        fx = admin.post("/v1/instruments", json={"symbol": "EURUSD", "name": "Euro in USD",
                                                 "asset_type": "fx"})  # fmt: skip
        assert fx.status_code == 201, fx.text
        rates = {d: 1.09 + 0.001 * i for i, d in enumerate(prices["dates"])}
        lines = "".join(f"{d},EURUSD,{r:.4f}\n" for d, r in rates.items())
        _upload(stack, "uploads/eurusd.csv", f"date,symbol,close\n{lines}".encode())
        wait_until(lambda: "processed/eurusd.csv" in _objects(stack, "processed/"))
        eur = wait_until(
            lambda: (
                (r := member.get("/v1/prices", params={**window, "currency": "EUR"})).status_code
                == 200
                and r.json()
            ),
            timeout=30,
        )
        assert eur["close"] == [
            [pytest.approx(p[0] / rates[d], rel=1e-12)]
            for d, p in zip(prices["dates"], prices["close"], strict=True)
        ]


def test_a_member_reads_total_return_prices_in_euros(
    stack: Stack, store: SqlJobStore, recorded: Recorded
) -> None:
    """CONTRACT 6.2's whole path on the emulators: an admin registers IBM and backfills it
    through the ingest function, which falls back to Alpha Vantage (the recorded answer
    with two dividends) and keeps the dividends in BigQuery; EURUSD comes by the upload
    function; a member reads IBM's total return in euros: each day Alpha Vantage's
    adjusted close over that day's rate."""
    from quantrun.app.users import set_role
    from quantrun.clock import utcnow

    answer = json.loads(load("alphavantage_ibm_dividends.json"))["Time Series (Daily)"]
    days = sorted(answer)
    recorded.routes[("/query", "IBM")] = (200, "application/json",
                                          load("alphavantage_ibm_dividends.json"))  # fmt: skip
    with stack.client("actions admin") as admin, stack.client("actions member") as member:
        set_role(store, "actions admin", "admin", utcnow())
        made = admin.post("/v1/instruments", json={"symbol": "IBM", "name": "IBM"})
        assert made.status_code in (201, 409), made.text
        started = admin.post("/v1/instruments/IBM/backfill",
                             json={"start": days[0], "end": days[-1]})  # fmt: skip
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        done = wait_until(
            lambda: (
                (r := member.get(f"/v1/ingest-runs/{run_id}").json())["status"] != "queued" and r
            ),
            timeout=60,
        )
        assert done["status"] == "ok" and done["symbols"][0]["source"] == "alphavantage", done
        actions = member.get("/v1/instruments/IBM/actions").json()
        assert [(a["date"], a["kind"], a["value"]) for a in actions] == [
            ("2024-02-08", "dividend", 1.66),
            ("2024-05-09", "dividend", 1.67),
        ]
        rates = {d: 1.07 + 0.0001 * i for i, d in enumerate(days)}
        lines = "".join(f"{d},EURUSD,{r:.4f}\n" for d, r in rates.items())
        _upload(stack, "uploads/eurusd-2024.csv", f"date,symbol,close\n{lines}".encode())
        wait_until(lambda: "processed/eurusd-2024.csv" in _objects(stack, "processed/"))
        window = {"symbols": "IBM", "start": days[0], "end": days[-1], "currency": "EUR"}
        eur = wait_until(
            lambda: (
                (r := member.get("/v1/prices", params=window)).status_code == 200
                and len(r.json()["dates"]) == len(days)
                and r.json()
            ),
            timeout=30,
        )
        assert eur["dates"] == days
        expected = [float(answer[d]["5. adjusted close"]) / float(f"{rates[d]:.4f}") for d in days]
        np.testing.assert_allclose([row[0] for row in eur["close"]], expected, rtol=1e-12)
