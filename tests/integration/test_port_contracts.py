"""One contract suite per port, run against every adapter of it: the embedded ones on
real files, the Google Cloud ones through the real clients against the emulators, and
the in-memory fakes the unit tests use (``tests/fakes.py``), so a fake cannot drift from
what it stands for."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine

from devtools.emulators import Emulators
from quantrun.adapters.embedded.artifacts import LocalArtifactStore
from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.adapters.embedded.queue import EmbeddedQueue
from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
from quantrun.adapters.gcp.clients import bigquery_client, publisher_client, storage_client
from quantrun.adapters.gcp.emulator import throwaway_signing_credentials
from quantrun.adapters.gcp.gcs_artifacts import GcsArtifactStore
from quantrun.adapters.gcp.pubsub import PubSubPublisher
from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.outbox import OutboxQueue
from quantrun.domain.errors import Conflict
from quantrun.domain.market_data import ProviderCall, summarize
from quantrun.domain.prices import PriceRow
from tests.fakes import FakeArtifactStore, FakePriceStore, FakeQueue
from tests.integration.helpers import pulled_topic, queued_job

# -- PriceStore ------------------------------------------------------------------------


@pytest.fixture(params=["duckdb", "bigquery", "fake"])
def price_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "fake":  # the unit tests' stand-in keeps the same contract
        yield FakePriceStore()
        return
    if request.param == "duckdb":
        store = DuckDBPriceStore(tmp_path / "prices.duckdb")
        yield store
        store.close()
        return
    request.getfixturevalue("gcp_env")
    emu: Emulators = request.getfixturevalue("emulators")
    store = BigQueryPriceStore(
        bigquery_client(emu.project, emulator=emu.bigquery_url),
        dataset=f"contract_{uuid.uuid4().hex[:8]}",
        timeout=20,
    )
    store.ensure_schema()
    yield store


ROWS = [
    PriceRow(date(2020, 1, 2), "AAA", 10.0, volume=100),
    PriceRow(date(2020, 1, 3), "AAA", 11.0, adj_close=10.5),
    PriceRow(date(2020, 1, 6), "AAA", 12.0),
    PriceRow(date(2020, 1, 3), "BBB", 5.0),
    PriceRow(date(2020, 1, 6), "BBB", 5.5),
]


def test_price_store_contract(price_store: Any) -> None:
    assert price_store.upsert(ROWS, source="test") == 5
    price_store.upsert(ROWS, source="test")  # idempotent MERGE
    instruments = {i.symbol: i for i in price_store.instruments()}
    assert set(instruments) == {"AAA", "BBB"}
    assert instruments["AAA"].rows == 3 and instruments["AAA"].first_date == date(2020, 1, 2)
    assert instruments["BBB"].last_date == date(2020, 1, 6)
    m = price_store.load_close(["BBB", "AAA"], date(2020, 1, 1), date(2020, 1, 5))
    assert m.symbols == ("BBB", "AAA")
    assert [str(d) for d in m.dates] == ["2020-01-02", "2020-01-03"]
    np.testing.assert_array_equal(m.close, [[np.nan, 10.0], [5.0, 10.5]])  # adj_close wins
    # an update through the MERGE replaces the row
    price_store.upsert([PriceRow(date(2020, 1, 6), "BBB", 6.0)], source="fix")
    m = price_store.load_close(["BBB"], date(2020, 1, 6), date(2020, 1, 6))
    assert m.close.tolist() == [[6.0]]
    empty = price_store.load_close(["AAA"], date(1999, 1, 1), date(1999, 2, 1))
    assert empty.dates.size == 0 and empty.close.shape == (0, 1)
    # one stored column at a time: raw close, the adjusted close as load_close reads it,
    # NaN where a row has none (volume given once)
    window = (["AAA", "BBB"], date(2020, 1, 1), date(2020, 1, 6))
    read = price_store.load_fields(*window, ("close", "adj_close", "volume"))  # one query
    raw = read["close"]
    np.testing.assert_array_equal(raw.close, [[10.0, np.nan], [11.0, 5.0], [12.0, 6.0]])
    adjusted = read["adj_close"]
    np.testing.assert_array_equal(adjusted.close, price_store.load_close(*window).close)
    volume = read["volume"]
    np.testing.assert_array_equal(
        volume.close, [[100.0, np.nan], [np.nan, np.nan], [np.nan, np.nan]]
    )
    assert [str(d) for d in volume.dates] == [str(d) for d in raw.dates]
    latest = price_store.latest(["BBB", "ZZZ", "AAA"])
    assert [(p.symbol, p.date, p.close, p.source) for p in latest] == [
        ("BBB", date(2020, 1, 6), 6.0, "fix"),
        ("AAA", date(2020, 1, 6), 12.0, "test"),
    ]
    price_store.upsert([PriceRow(date(2020, 1, 6), "AAA", 12.0, 11.5, 12.5, 11.0)], source="f")
    stored = price_store.existing(["AAA", "BBB"], date(2020, 1, 2), date(2020, 1, 6))
    assert stored == {  # every field, to tell any change
        ("AAA", date(2020, 1, 2)): PriceRow(date(2020, 1, 2), "AAA", 10.0, volume=100),
        ("AAA", date(2020, 1, 3)): PriceRow(date(2020, 1, 3), "AAA", 11.0, adj_close=10.5),
        ("AAA", date(2020, 1, 6)): PriceRow(date(2020, 1, 6), "AAA", 12.0, 11.5, 12.5, 11.0),
        ("BBB", date(2020, 1, 3)): PriceRow(date(2020, 1, 3), "BBB", 5.0),
        ("BBB", date(2020, 1, 6)): PriceRow(date(2020, 1, 6), "BBB", 6.0),
    }
    assert price_store.last_ingest_run("AAA") is None
    at = datetime(2020, 1, 7, 12, tzinfo=UTC)
    runs = [
        {
            "run_id": f"r{i}",
            "symbol": symbols,
            "source": f"s{i}",
            "status": "ok",
            "detail": "",
            "run_at": at + timedelta(minutes=i),
            "fetched": 3,
            "inserted": 1,
            "updated": 1,
            "unchanged": 1,
            "rejected": 0,
        }
        for i, symbols in enumerate(("AAA", "AAA,BBB", "CCC"))
    ]
    price_store.record_ingest_runs(runs[:1])
    price_store.record_ingest_runs(runs[1:])  # a run's records, written at once
    last = price_store.last_ingest_run("BBB")
    assert last is not None and last["run_id"] == "r1" and last["source"] == "s1"
    assert price_store.last_ingest_run("AAA")["run_id"] == "r1"
    assert price_store.last_ingest_run("CCC")["run_id"] == "r2"
    price_store.ping()


def test_instrument_records_are_merged_on_symbol(price_store: Any) -> None:
    """CONTRACT 6.2: a record is added, then replaced whole by one of the same symbol."""
    from quantrun.domain.prices import InstrumentRecord

    assert price_store.instrument_records() == []
    first = [
        InstrumentRecord("EURUSD", "Euro in dollars", "fx", None, "USD", True),
        InstrumentRecord("AAPL", "Apple", "equity", "NASDAQ", "USD", True),
    ]
    price_store.put_instruments(first)
    assert price_store.instrument_records() == sorted(first, key=lambda r: r.symbol)
    changed = InstrumentRecord("AAPL", "Apple Inc.", "equity", "NASDAQ", "USD", False)
    price_store.put_instruments([changed])
    assert price_store.instrument_records() == [changed, first[0]]


def test_corporate_actions_are_merged_and_read_with_their_ex_date_close(price_store: Any) -> None:
    """CONTRACT 6.2: ``corporate_actions`` MERGEd on (symbol, date, kind); a read gives
    the symbols' actions after a date, by symbol and date, each with its day's stored
    close (None when that day has no price)."""
    from quantrun.domain.actions import CorporateAction, PricedAction

    price_store.upsert(ROWS, source="test")
    assert price_store.put_actions([]) == 0 and price_store.actions(["AAA"]) == []
    first = [
        CorporateAction("AAA", date(2020, 1, 3), "dividend", 0.25, "alphavantage"),
        CorporateAction("AAA", date(2020, 1, 3), "split", 2.0, "alphavantage"),
        CorporateAction("AAA", date(2020, 1, 7), "dividend", 0.3, "upload:actions.csv"),
        CorporateAction("BBB", date(2020, 1, 2), "split", 0.5, "upload:actions.csv"),
    ]
    assert price_store.put_actions(first) == 4
    # a provider's later figure for the same (symbol, date, kind) replaces the earlier
    price_store.put_actions([CorporateAction("AAA", date(2020, 1, 3), "dividend", 0.24, "av")])
    fixed = CorporateAction("AAA", date(2020, 1, 3), "dividend", 0.24, "av")
    assert price_store.actions(["BBB", "AAA"]) == [
        PricedAction(fixed, 11.0),
        PricedAction(first[1], 11.0),
        PricedAction(first[2], None),  # no price stored on 2020-01-07
        PricedAction(first[3], None),
    ]
    assert price_store.actions(["AAA"], date(2020, 1, 3)) == [PricedAction(first[2], None)]
    assert price_store.actions(["CCC"]) == []


def test_provider_calls_are_summarized_as_the_reference_does(price_store: Any) -> None:
    """The store's SQL against ``market_data.summarize`` (the reference) on the same
    calls, and against the figures worked out by hand."""
    now = datetime(2024, 3, 1, 12, tzinfo=UTC)

    def call(provider: str, hours_ago: float, outcome: Any, **kw: Any) -> ProviderCall:
        at = now - timedelta(hours=hours_ago)
        return ProviderCall("run", provider, "AAA", outcome, kw.pop("detail", ""), at, **kw)

    calls = [
        call("stooq", 40 * 24, "error", detail="too old: outside the window"),
        call("stooq", 30, "error", detail="stooq answered 503", requests=4),
        call("stooq", 20, "ok", requests=3, throttled=2, retry_after_seconds=7.0),
        call("stooq", 2, "ok", requests=1),
        call("alphavantage", 5, "rate_limited", detail="Note", throttled=1),
        call("alphavantage", 1, "rate_limited", detail="429", throttled=3, retry_after_seconds=60),
        call("synthetic", 3, "stale", detail="last 2024-01-02"),
    ]
    price_store.record_provider_calls(calls[:3])
    price_store.record_provider_calls(calls[3:])  # appended, not replaced
    found = price_store.provider_summaries(now)
    assert found == summarize(calls, now)
    by_name = {s.provider: s for s in found}
    assert list(by_name) == ["alphavantage", "stooq", "synthetic"]
    stooq = by_name["stooq"]
    assert stooq.last_outcome == "ok" and stooq.last_success_at == now - timedelta(hours=2)
    assert stooq.last_error == "stooq answered 503" and stooq.last_error_at == now - timedelta(
        hours=30
    )
    assert (stooq.calls, stooq.errors, stooq.throttled) == (2, 0, 2)
    assert stooq.retry_after_seconds == 7.0
    limited = by_name["alphavantage"]
    assert limited.last_success_at is None and limited.last_error == "429"
    assert (limited.calls, limited.errors, limited.throttled) == (2, 2, 4)
    assert limited.retry_after_seconds == 60.0
    assert by_name["synthetic"].last_error_at is None and by_name["synthetic"].errors == 0
    assert price_store.provider_summaries(now + timedelta(days=60)) == []


# -- ArtifactStore ---------------------------------------------------------------------


@pytest.fixture(params=["local", "gcs", "fake"])
def artifact_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "fake":
        return FakeArtifactStore()
    if request.param == "local":
        return LocalArtifactStore(tmp_path)
    request.getfixturevalue("gcp_env")
    emu: Emulators = request.getfixturevalue("emulators")
    client = storage_client(emu.project, emulator=emu.storage_url)
    bucket = f"contract-{uuid.uuid4().hex[:8]}"
    client.create_bucket(bucket)
    return GcsArtifactStore(
        client,
        bucket,
        signing_credentials=throwaway_signing_credentials(),
        api_endpoint=emu.storage_url,
        url_seconds=300,
    )


def test_artifact_store_contract(artifact_store: Any) -> None:
    job = str(uuid.uuid4())
    ref = artifact_store.put(job, "result.json", b'{"a": 1}', "application/json")
    assert (ref.name, ref.content_type, ref.size_bytes) == ("result.json", "application/json", 8)
    artifact_store.put(job, "result.json", b'{"a": 1}', "application/json")  # same bytes: ok
    with pytest.raises(Conflict):
        artifact_store.put(job, "result.json", b'{"a": 2}', "application/json")
    got = artifact_store.get(job, "result.json")
    assert got is not None and got.data == b'{"a": 1}' and got.content_type == "application/json"
    assert artifact_store.get(job, "missing.png") is None
    url = artifact_store.signed_url(job, "result.json")
    if url is not None:  # Cloud Storage: the signed URL downloads the object
        assert "X-Goog-Signature=" in url and "X-Goog-Expires=300" in url
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200 and json.loads(response.content) == {"a": 1}
    # a retried attempt writes beside the first one's, whatever that left
    again = artifact_store.put(job, "result.json", b'{"a": 2}', "application/json", attempt=2)
    assert again.attempt == 2 and again.size_bytes == 8
    second = artifact_store.get(job, "result.json", attempt=2)
    assert second is not None and second.data == b'{"a": 2}'
    assert artifact_store.get(job, "result.json").data == b'{"a": 1}'  # untouched
    url = artifact_store.signed_url(job, "result.json", attempt=2)
    if url is not None:
        assert json.loads(httpx.get(url, timeout=10).content) == {"a": 2}
    artifact_store.ping()


# -- JobQueue --------------------------------------------------------------------------


@pytest.fixture
def queue_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("kind", ["embedded", "pubsub", "fake"])
def test_job_queue_contract(
    kind: str, queue_engine: Engine, request: pytest.FixtureRequest
) -> None:
    # the queue hands on jobs the store holds as queued (in gcp mode with their outbox rows)
    store = SqlJobStore(queue_engine, outbox=kind == "pubsub")
    user = store.get_or_create_user("contract")
    ids = [queued_job(store, user.id).id for _ in range(2)]
    if kind == "embedded":
        queue: Any = EmbeddedQueue(queue_engine, visibility_seconds=30)

        def receive(_expected: int) -> list[str]:
            got = []
            while (d := queue.receive(wait_seconds=0)) is not None:
                got.append(d.job_id)
                queue.ack(d)
            return got
    elif kind == "fake":
        queue = FakeQueue()

        def receive(_expected: int) -> list[str]:
            got, queue.published[:] = list(queue.published), []
            return got
    else:
        request.getfixturevalue("gcp_env")
        project = request.getfixturevalue("emulators").project
        topic, receive = pulled_topic(project, "contract")
        queue = OutboxQueue(
            queue_engine, PubSubPublisher(publisher_client(), project, topic, timeout=10)
        )
    queue.ping()
    for job_id in ids:
        queue.publish(job_id)
    assert sorted(receive(len(ids))) == sorted(ids)
