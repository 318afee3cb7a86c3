"""Ingestion: providers against recorded responses (real httpx client code, local server),
retries, fallback, staleness, validation, and the use cases against a fake price store."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from quantrun.adapters.gcp.events import BadEvent, pubsub_payload, storage_object
from quantrun.adapters.providers import (
    AlphaVantageProvider,
    HttpPolicy,
    RateLimiter,
    StooqProvider,
    SyntheticProvider,
)
from quantrun.app.fallback import FallbackFetcher
from quantrun.app.ingest import ingest_prices
from quantrun.app.ingest_request import IngestRequest, parse_ingest_message
from quantrun.app.price_files import ingest_file
from quantrun.domain.errors import ProviderError
from quantrun.domain.price_checks import validate
from quantrun.domain.prices import InstrumentRecord, PriceRow
from tests.fakes import FakePriceStore
from tests.harness.recorded_http import Recorded, load, recorded_server

JAN = (date(2024, 1, 1), date(2024, 1, 12))
NOW = datetime(2024, 1, 12, 23, tzinfo=UTC)
FAST = HttpPolicy(timeout=5, retries=2, backoff=0.0, per_second=1000)


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    with recorded_server() as server:
        server.routes[("/q/d/l/", "aapl.us")] = (200, "text/csv", load("stooq_aapl_us.csv"))
        server.routes[("/q/d/l/", "zzzz.us")] = (200, "text/csv", b"No data")
        server.routes[("/query", "IBM")] = (200, "application/json", load("alphavantage_ibm.json"))
        server.routes[("/query", "AAPL")] = (
            200,
            "application/json",
            load("alphavantage_rate_limited.json"),
        )
        yield server


def test_stooq_parses_its_csv(recorded: Recorded) -> None:
    rows = StooqProvider(recorded.url, policy=FAST).fetch("AAPL", *JAN)
    assert len(rows) == 9 and rows[0] == PriceRow(
        date(2024, 1, 2),
        "AAPL",
        185.64,
        open=187.15,
        high=188.44,
        low=183.885,
        adj_close=185.64,
        volume=82488674,
    )
    assert StooqProvider(recorded.url, policy=FAST).fetch("ZZZZ", *JAN) == []


def test_alphavantage_parses_adjusted_close_and_detects_rate_limits(recorded: Recorded) -> None:
    provider = AlphaVantageProvider("k", recorded.url, policy=FAST)
    rows = provider.fetch("IBM", *JAN)
    assert [r.date for r in rows] == sorted(r.date for r in rows) and len(rows) == 5
    assert rows[-1].close == 165.8 and rows[-1].adj_close == 160.9021
    with pytest.raises(ProviderError, match="frequency"):
        provider.fetch("AAPL", *JAN)


def test_a_500_then_200_succeeds_after_retry(recorded: Recorded) -> None:
    recorded.script[("/q/d/l/", "aapl.us")].extend([500, 429])
    rows = StooqProvider(recorded.url, policy=FAST).fetch("AAPL", *JAN)
    assert len(rows) == 9 and recorded.hits[("/q/d/l/", "aapl.us")] == 3


def test_retries_are_bounded(recorded: Recorded) -> None:
    recorded.script[("/q/d/l/", "aapl.us")].extend([503] * 10)
    with pytest.raises(ProviderError, match="failed after 3 tries"):
        StooqProvider(recorded.url, policy=FAST).fetch("AAPL", *JAN)
    assert recorded.hits[("/q/d/l/", "aapl.us")] == 3


def test_fallback_when_the_first_provider_is_down_and_source_says_so(recorded: Recorded) -> None:
    down = StooqProvider("http://127.0.0.1:9", policy=HttpPolicy(timeout=0.5, retries=0))
    fetcher = FallbackFetcher(
        [down, AlphaVantageProvider("k", recorded.url, policy=FAST)],
        today=lambda: date(2024, 1, 12),
    )
    got = fetcher.fetch("IBM", *JAN)
    assert got.source == "alphavantage" and len(got.rows) == 5
    assert got.attempts[0].provider == "stooq" and got.attempts[0].outcome == "error"


def test_fallback_on_empty_and_on_stale_data(recorded: Recorded) -> None:
    stooq = StooqProvider(recorded.url, policy=FAST)
    synthetic = SyntheticProvider()
    empty_first = FallbackFetcher([stooq, synthetic], today=lambda: date(2024, 1, 12))
    assert empty_first.fetch("ZZZZ", *JAN).source == "synthetic"
    # Stooq's AAPL ends 2024-01-12; a month later it is stale
    stale = FallbackFetcher([stooq, synthetic], stale_after_days=5, today=lambda: date(2024, 2, 12))
    got = stale.fetch("AAPL", date(2024, 1, 1), date(2024, 2, 12))
    assert got.source == "synthetic" and got.attempts[0].outcome == "stale"
    assert got.attempts[0].detail == "last 2024-01-12, 21 weekdays behind"
    with pytest.raises(ProviderError, match="no provider"):
        FallbackFetcher([stooq], today=lambda: date(2024, 1, 12)).fetch("ZZZZ", *JAN)


def test_rate_limiter_spaces_calls() -> None:
    slept: list[float] = []
    limiter = RateLimiter(2.0, sleep=slept.append)
    for _ in range(4):
        limiter.wait()
    assert len(slept) == 3 and all(0.3 < s <= 0.5 for s in slept[:1])


def test_synthetic_is_deterministic_per_symbol() -> None:
    a = SyntheticProvider().fetch("DEMO", *JAN)
    assert a == SyntheticProvider().fetch("DEMO", *JAN)
    assert a != SyntheticProvider().fetch("OTHER", *JAN)
    assert all(r.date.weekday() < 5 for r in a)


def test_validation_rejects_bad_rows_and_flags_gaps_and_splits() -> None:
    rows = [PriceRow(date(2024, 1, d), "X", 100.0) for d in (2, 3, 4, 8, 9)]
    rows += [
        PriceRow(date(2024, 1, 10), "X", 50.0),  # halves: a likely 2:1 split
        PriceRow(date(2024, 1, 11), "X", 51.0, high=50.0),  # high below close
        PriceRow(date(2024, 1, 12), "X", 52.0, low=53.0, open=52.5),  # low above min
        PriceRow(date(2024, 1, 2), "Y", 10.0),
        PriceRow(date(2024, 1, 2), "Y", 11.0),
    ]
    report = validate(rows)
    reasons = sorted(r["reason"].split(" ")[0] for r in report.rejected)
    assert reasons == ["duplicate", "duplicate", "high", "low"]
    assert report.missing_weekdays == {"X": 1}  # 2024-01-05 (a Friday) is missing
    assert report.suspicious_jumps == [
        {"symbol": "X", "date": "2024-01-10", "move": -0.5, "near_split": 2.0}
    ]


def test_ingest_prices_counts_and_is_idempotent(recorded: Recorded) -> None:
    store = FakePriceStore()
    fetcher = FallbackFetcher(
        [StooqProvider(recorded.url, policy=FAST)], today=lambda: date(2024, 1, 12)
    )
    request = IngestRequest(["AAPL"], *JAN)
    first = ingest_prices(
        request=request, fetcher=fetcher, store=store, now=NOW, today=date(2024, 1, 12)
    )
    assert first.counts.as_dict() == {
        "fetched": 9,
        "inserted": 9,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    again = ingest_prices(
        request=request, fetcher=fetcher, store=store, now=NOW, today=date(2024, 1, 12)
    )
    assert again.counts.as_dict() == {
        "fetched": 9,
        "inserted": 0,
        "updated": 0,
        "unchanged": 9,
        "rejected": 0,
    }
    assert set(store.sources.values()) == {"stooq"}
    assert store.last_ingest_run("AAPL")["source"] == "stooq"  # type: ignore[index]
    # a provider correction updates only the rows that changed
    fixed = load("stooq_aapl_us.csv").replace(b"181.18", b"181.28")
    recorded.routes[("/q/d/l/", "aapl.us")] = (200, "text/csv", fixed)
    third = ingest_prices(
        request=request, fetcher=fetcher, store=store, now=NOW, today=date(2024, 1, 12)
    )
    assert third.counts.updated == 1 and third.counts.unchanged == 8


def test_a_run_writes_once_per_source_and_any_changed_field_is_an_update(
    recorded: Recorded,
) -> None:
    store = FakePriceStore()
    stooq = StooqProvider(recorded.url, policy=FAST)
    alpha = AlphaVantageProvider("k", recorded.url, policy=FAST)
    fetcher = FallbackFetcher([stooq, alpha], today=lambda: date(2024, 1, 12))
    request = IngestRequest(["AAPL", "IBM"], *JAN)
    first = ingest_prices(
        request=request, fetcher=fetcher, store=store, now=NOW, today=date(2024, 1, 12)
    )
    assert first.counts.inserted == 14 and store.upserts == 2  # stooq's rows, then Alpha's
    assert [r["symbol"] for r in store.runs] == ["AAPL", "IBM"]
    # a provider corrects one volume only: that row is rewritten, nothing else
    fixed = load("stooq_aapl_us.csv").replace(b"82488674", b"82488675")
    recorded.routes[("/q/d/l/", "aapl.us")] = (200, "text/csv", fixed)
    again = ingest_prices(
        request=request, fetcher=fetcher, store=store, now=NOW, today=date(2024, 1, 12)
    )
    assert (again.counts.updated, again.counts.unchanged) == (1, 13) and store.upserts == 3
    assert store.rows[("AAPL", date(2024, 1, 2))].volume == 82488675


def test_since_last_resumes_after_the_stored_date() -> None:
    store = FakePriceStore([PriceRow(date(2024, 1, 5), "DEMO", 1.0)])
    msg = json.dumps({"symbols": ["demo"], "since_last": True}).encode()
    request = parse_ingest_message(msg)
    result = ingest_prices(
        request=request,
        fetcher=FallbackFetcher([SyntheticProvider()], today=lambda: date(2024, 1, 12)),
        store=store,
        now=NOW,
        today=date(2024, 1, 12),
    )
    assert result.per_symbol["DEMO"]["source"] == "synthetic"
    assert min(d for s, d in store.rows if s == "DEMO" and store.sources.get((s, d))) == date(
        2024, 1, 8
    )


def test_scheduled_ingest_fetches_the_active_instruments_seeded_once() -> None:
    """CONTRACT 6.2: ``{"active": true, "seed": [...]}`` fetches every active record; a
    seed symbol with no record gets one (active), one with a record keeps it (here made
    inactive through the API: the seed does not turn it back on)."""
    store = FakePriceStore()
    store.put_instruments([InstrumentRecord("GONE", "Gone", active=False),
                           InstrumentRecord("FX", "A rate", "fx")])  # fmt: skip
    msg = json.dumps({"active": True, "seed": ["demo", "gone"], "since_last": True})
    request = parse_ingest_message(msg.encode())
    assert request.symbols == [] and request.seed == ["DEMO", "GONE"]
    result = ingest_prices(
        request=request,
        fetcher=FallbackFetcher([SyntheticProvider()], today=lambda: date(2024, 1, 12)),
        store=store,
        now=NOW,
        today=date(2024, 1, 12),
    )
    assert sorted(result.per_symbol) == ["DEMO", "FX"]
    assert {r.symbol: r.active for r in store.instrument_records()} == {
        "DEMO": True, "FX": True, "GONE": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"{}", b'{"symbols": []}', b'{"symbols": ["bad symbol!"]}',
     b'{"active": true, "seed": "AAPL"}', b"[]"],
)  # fmt: skip
def test_bad_ingest_messages_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_ingest_message(raw)


def test_a_bad_file_loads_nothing_and_reports_why() -> None:
    store = FakePriceStore()
    bad = b"date,symbol,close\n2024-01-02,ACME,10\n2024-01-03,ACME,-1\n2024-01-03,ACME,2\n"
    outcome = ingest_file(name="acme.csv", data=bad, store=store, now=NOW)
    assert not outcome.accepted and store.rows == {}
    assert any("line 3" in p for p in outcome.report["problems"])
    dup = b"date,symbol,close\n2024-01-02,ACME,10\n2024-01-02,ACME,11\n"
    outcome = ingest_file(name="dup.csv", data=dup, store=store, now=NOW)
    assert not outcome.accepted and store.rows == {}
    good = b"date,symbol,close,open,high,low,volume\n2024-01-02,ACME,10,9.5,10.5,9,1000\n"
    outcome = ingest_file(name="good.csv", data=good, store=store, now=NOW)
    assert outcome.accepted and outcome.counts.inserted == 1
    assert store.sources[("ACME", date(2024, 1, 2))] == "upload:good.csv"


def test_parquet_files_use_the_same_rules() -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "date": [date(2024, 1, 2), date(2024, 1, 3)],
            "symbol": ["PQ", "PQ"],
            "close": [10.0, 10.5],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    store = FakePriceStore()
    outcome = ingest_file(name="p.parquet", data=buf.getvalue(), store=store, now=NOW)
    assert outcome.accepted and outcome.counts.inserted == 2


def _pubsub(data: bytes, **attributes: str) -> dict[str, object]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "attributes": attributes},
        "subscription": "projects/p/subscriptions/s",
    }


def test_event_decoding() -> None:
    body, attrs = pubsub_payload(_pubsub(b'{"symbols": ["A"]}', k="v"))
    assert body == b'{"symbols": ["A"]}' and attrs == {"k": "v"}
    with pytest.raises(BadEvent):
        pubsub_payload({"nope": 1})
    finalized = storage_object(
        "google.cloud.storage.object.v1.finalized", {"bucket": "b", "name": "uploads/x.csv"}
    )
    assert finalized is not None and finalized.name == "uploads/x.csv"
    via_pubsub = storage_object(
        "google.cloud.pubsub.topic.v1.messagePublished",
        _pubsub(b"{}", eventType="OBJECT_FINALIZE", bucketId="b", objectId="uploads/y.csv"),
    )
    assert via_pubsub is not None and via_pubsub.bucket == "b"
    assert (
        storage_object(
            "google.cloud.pubsub.topic.v1.messagePublished",
            _pubsub(b"{}", eventType="OBJECT_DELETE"),
        )
        is None
    )


def test_a_provider_key_never_reaches_the_logs(recorded: Recorded) -> None:
    """httpx logs each request's URL, query string and all (Alpha Vantage's key is in
    it): QuantRun's logging keeps HTTP clients at WARNING even when asked for DEBUG."""
    import io
    import logging

    from quantrun.logging import configure_logging

    out = io.StringIO()
    configure_logging("DEBUG", stream=out)
    try:
        key = "sekrit-provider-key-4711"
        rows = AlphaVantageProvider(key, recorded.url, policy=FAST).fetch("IBM", *JAN)
        logging.getLogger("quantrun.test").info("fetched %d rows", len(rows))
    finally:
        configure_logging("INFO")
    assert rows and "fetched" in out.getvalue()  # the capture works
    assert key not in out.getvalue()
