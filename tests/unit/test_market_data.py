"""The market-data status: what the fallback fetcher records of each provider it asks
(real provider code against recorded responses on a local server), what an ingest run
and a file upload leave in the store, the summary and the rate-limit state made of it,
and the read cache's figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from quantrun.adapters.providers import AlphaVantageProvider, HttpPolicy, StooqProvider
from quantrun.app.cache import SingleFlightCache
from quantrun.app.fallback import FallbackFetcher, NoProvider
from quantrun.app.ingest import ingest_prices
from quantrun.app.ingest_request import IngestRequest
from quantrun.app.market_data import market_data_status
from quantrun.app.price_files import ingest_file
from quantrun.domain.errors import RateLimited
from quantrun.domain.market_data import ProviderCall, rate_limit_state, summarize
from tests.fakes import FakePriceStore
from tests.harness.recorded_http import Recorded, load, recorded_server

JAN = (date(2024, 1, 1), date(2024, 1, 12))
NOW = datetime(2024, 1, 12, 23, tzinfo=UTC)
FAST = HttpPolicy(timeout=5, retries=2, backoff=0.0, per_second=1000)


def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    with recorded_server() as server:
        server.routes[("/q/d/l/", "aapl.us")] = (200, "text/csv", load("stooq_aapl_us.csv"))
        server.routes[("/query", "IBM")] = (200, "application/json", load("alphavantage_ibm.json"))
        yield server


def ticking_clock(start: datetime) -> Iterator[datetime]:
    """One second later at each reading: every call has its own time."""
    t = start
    while True:
        yield t
        t += timedelta(seconds=1)


def fetcher(*providers: object, start: datetime = NOW) -> FallbackFetcher:
    clock = ticking_clock(start)
    return FallbackFetcher(
        providers,  # type: ignore[arg-type]
        today=lambda: date(2024, 1, 12),
        clock=lambda: next(clock),
    )


def test_a_call_counts_its_requests_and_the_too_many_requests_answers(recorded: Recorded) -> None:
    recorded.retry_after = "7"
    recorded.script[("/q/d/l/", "aapl.us")].extend([429, 429])  # then the recording
    stooq = StooqProvider(recorded.url, policy=FAST, sleep=no_sleep)
    got = fetcher(stooq).fetch("AAPL", *JAN, run_id="r1")
    (call,) = got.attempts
    assert (call.provider, call.outcome, call.run_id, call.symbol) == ("stooq", "ok", "r1", "AAPL")
    assert (call.requests, call.throttled, call.retry_after_seconds) == (3, 2, 7.0)
    assert call.called_at == NOW and call.detail == "9 rows"
    # the next call counts only its own requests
    again = fetcher(stooq).fetch("AAPL", *JAN).attempts[0]
    assert (again.requests, again.throttled, again.retry_after_seconds) == (1, 0, None)


def test_refused_after_the_retries_is_rate_limited_and_the_next_provider_answers(
    recorded: Recorded,
) -> None:
    recorded.retry_after = "60"
    recorded.script[("/q/d/l/", "ibm.us")].extend([429] * 3)
    stooq = StooqProvider(recorded.url, policy=FAST, sleep=no_sleep)
    alpha = AlphaVantageProvider("k", recorded.url, policy=FAST)
    got = fetcher(stooq, alpha).fetch("IBM", *JAN)
    limited, ok = got.attempts
    assert got.source == "alphavantage" and ok.outcome == "ok"
    assert (limited.outcome, limited.requests, limited.throttled) == ("rate_limited", 3, 3)
    assert limited.retry_after_seconds == 60.0 and "429" in limited.detail
    assert ok.called_at > limited.called_at


def test_no_provider_keeps_every_attempt_and_errors_never_carry_the_key(
    recorded: Recorded,
) -> None:
    key = "sekrit-provider-key-4711"
    # Alpha Vantage says "rate limited" in a 200 body; a 4xx body may echo the request
    recorded.routes[("/query", "MSFT")] = (
        200,
        "application/json",
        f'{{"Note": "limit reached for apikey={key}"}}'.encode(),
    )
    recorded.routes[("/query", "NVDA")] = (403, "text/plain", f"bad apikey={key}".encode())
    recorded.script[("/q/d/l/", "msft.us")].extend([503] * 3)
    stooq = StooqProvider(recorded.url, policy=FAST, sleep=no_sleep)
    alpha = AlphaVantageProvider(key, recorded.url, policy=FAST)
    with pytest.raises(NoProvider) as caught:
        fetcher(stooq, alpha).fetch("MSFT", *JAN)
    down, limited = caught.value.attempts
    assert (down.outcome, down.requests, down.throttled) == ("error", 3, 0)
    assert (limited.outcome, limited.throttled) == ("rate_limited", 1)
    assert "limit reached" in limited.detail and key not in limited.detail
    assert "stooq: error" in str(caught.value) and key not in str(caught.value)
    with pytest.raises(NoProvider) as caught:
        fetcher(alpha).fetch("NVDA", *JAN)
    assert "403" in caught.value.attempts[0].detail and key not in str(caught.value)
    with pytest.raises(RateLimited):
        alpha.fetch("MSFT", *JAN)


def test_an_ingest_run_writes_its_provider_calls_at_once(recorded: Recorded) -> None:
    store = FakePriceStore()
    writes: list[int] = []
    record = store.record_provider_calls
    store.record_provider_calls = lambda calls: (writes.append(len(calls)), record(calls))  # type: ignore[method-assign]
    stooq = StooqProvider(recorded.url, policy=FAST, sleep=no_sleep)
    alpha = AlphaVantageProvider("k", recorded.url, policy=FAST)
    unknown = b'{"Error Message": "Invalid API call."}'  # how it says "no such symbol"
    recorded.routes[("/query", "ZZZZ")] = (200, "application/json", unknown)
    result = ingest_prices(
        request=IngestRequest(["AAPL", "IBM", "ZZZZ"], *JAN),
        fetcher=fetcher(stooq, alpha),
        store=store,
        now=NOW,
        today=date(2024, 1, 12),
    )
    assert set(result.failed) == {"ZZZZ"}
    assert writes == [5]  # AAPL: stooq; IBM: stooq, alphavantage; ZZZZ: both
    assert [(c.symbol, c.provider, c.outcome) for c in store.calls] == [
        ("AAPL", "stooq", "ok"),
        ("IBM", "stooq", "error"),
        ("IBM", "alphavantage", "ok"),
        ("ZZZZ", "stooq", "error"),
        ("ZZZZ", "alphavantage", "empty"),
    ]
    assert {c.run_id for c in store.calls} == {result.run_id}


def test_files_are_calls_of_the_upload_provider() -> None:
    store = FakePriceStore()
    good = b"date,symbol,close\n2024-01-02,ACME,10\n2024-01-03,ACME,10.5\n"
    ingest_file(name="good.csv", data=good, store=store, now=NOW)
    bad = b"date,symbol,close\n2024-01-02,ACME,10\n2024-01-03,ACME,-1\n"
    ingest_file(name="bad.csv", data=bad, store=store, now=NOW + timedelta(seconds=1))
    ok, failed = store.calls
    assert (ok.provider, ok.outcome, ok.symbol, ok.detail) == (
        "upload",
        "ok",
        "ACME",
        "good.csv: 2 rows",
    )
    assert failed.outcome == "error" and failed.detail.startswith("bad.csv: 1 problem(s)")
    (summary,) = store.provider_summaries(NOW + timedelta(minutes=1))
    assert summary.last_success_at == NOW and summary.last_error_at == NOW + timedelta(seconds=1)


def call(hours_ago: float, outcome: object, now: datetime = NOW, **kw: object) -> ProviderCall:
    return ProviderCall(
        "r",
        "stooq",
        "AAPL",
        outcome,  # type: ignore[arg-type]
        str(kw.pop("detail", "")),
        now - timedelta(hours=hours_ago),
        **kw,  # type: ignore[arg-type]
    )


def test_rate_limit_state() -> None:
    def state(*calls: ProviderCall, now: datetime = NOW) -> tuple[str, datetime | None]:
        (summary,) = summarize(calls, now)
        found = rate_limit_state(summary, now)
        return found.state, found.until

    assert state(call(1, "ok")) == ("ok", None)
    # refused, told to wait a minute: limited until then, then merely throttled
    refused = call(0.25 / 60, "rate_limited", throttled=3, retry_after_seconds=60.0)
    assert state(call(2, "ok"), refused) == ("limited", NOW + timedelta(seconds=45))
    assert state(call(2, "ok"), refused, now=NOW + timedelta(minutes=5)) == ("throttled", None)
    # refused without a Retry-After: limited until a call gets through
    assert state(call(1, "rate_limited", throttled=1)) == ("limited", None)
    assert state(call(2, "rate_limited", throttled=1), call(1, "ok")) == ("throttled", None)
    # throttled answers older than 24 h no longer count
    assert state(call(30, "ok", throttled=2), call(1, "ok")) == ("ok", None)


def test_the_status_reads_the_store_once_a_ttl_and_reports_the_cache() -> None:
    ticks = [0.0]
    cache = SingleFlightCache(5.0, clock=lambda: ticks[0])
    store = FakePriceStore()
    store.record_provider_calls([call(1, "ok"), call(0.5, "error", detail="503")])
    reads: list[datetime] = []
    summaries = store.provider_summaries
    store.provider_summaries = lambda now: (reads.append(now), summaries(now))[1]  # type: ignore[method-assign]
    first = market_data_status(prices=store, cache=cache, ttl=5.0, now=NOW)
    (stooq,) = first.providers
    assert stooq.summary.last_error == "503" and stooq.summary.errors == 1
    assert (first.cache.misses, first.cache.hits, first.cache.entries) == (1, 0, 1)
    assert first.cache.hit_rate == 0.0 and first.window_days == 30
    ticks[0] = 4.0
    second = market_data_status(prices=store, cache=cache, ttl=5.0, now=NOW)
    assert len(reads) == 1 and second.cache.hits == 1 and second.cache.hit_rate == 0.5
    ticks[0] = 6.0
    market_data_status(prices=store, cache=cache, ttl=5.0, now=NOW)
    assert len(reads) == 2
    assert SingleFlightCache(1.0).stats().hit_rate is None


def test_a_failed_write_still_keeps_the_calls_and_is_the_error_raised(recorded: Recorded) -> None:
    from quantrun.domain.errors import TransientError

    class DownForWrites(FakePriceStore):
        fail_records = False

        def upsert(self, rows: object, *, source: str) -> int:
            raise TransientError("BigQuery is unavailable: merge")

        def record_provider_calls(self, calls: object) -> None:
            if self.fail_records:
                raise TransientError("BigQuery is unavailable: load")
            super().record_provider_calls(calls)  # type: ignore[arg-type]

    stooq = StooqProvider(recorded.url, policy=FAST, sleep=no_sleep)
    request = IngestRequest(["AAPL"], *JAN)
    for fail_records in (False, True):
        store = DownForWrites()
        store.fail_records = fail_records
        with pytest.raises(TransientError, match="merge"):  # never the records' error
            ingest_prices(
                request=request,
                fetcher=fetcher(stooq),
                store=store,
                now=NOW,
                today=date(2024, 1, 12),
            )
        assert [c.outcome for c in store.calls] == ([] if fail_records else ["ok"])
