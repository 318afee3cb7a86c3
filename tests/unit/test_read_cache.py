"""The API's read cache: concurrent identical reads cause one query; entries expire."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from quantrun.app.cache import SingleFlightCache


def test_concurrent_identical_reads_run_one_query() -> None:
    cache = SingleFlightCache(ttl_seconds=60)
    calls = 0
    gate = threading.Event()

    def slow_query() -> list[str]:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return ["AAPL"]

    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", slow_query)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    # every read counts its miss before it runs the query or waits on the one running:
    # eight misses with the query held means all eight are in flight together
    deadline = time.monotonic() + 10
    while cache.misses < 8 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert cache.misses == 8 and calls == 1
    gate.set()
    for t in threads:
        t.join()
    assert calls == 1 and results == [["AAPL"]] * 8


def test_entries_expire_and_errors_are_not_cached() -> None:
    now = [0.0]
    cache = SingleFlightCache(ttl_seconds=5, clock=lambda: now[0])
    values = iter([1, 2])
    assert cache.get("k", lambda: next(values)) == 1
    now[0] = 4.9
    assert cache.get("k", lambda: 99) == 1
    now[0] = 5.1
    assert cache.get("k", lambda: next(values)) == 2

    def boom() -> int:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        cache.get("other", boom)
    assert cache.get("other", lambda: 3) == 3


def test_the_cache_is_bounded_in_bytes_and_drops_expired_entries_first() -> None:
    import numpy as np

    now = [0.0]
    cache = SingleFlightCache(ttl_seconds=10, max_entries=100, clock=lambda: now[0], max_bytes=3000)
    block = np.zeros(100)  # 800 bytes
    cache.get("old", lambda: block)
    now[0] = 5.0
    cache.get("a", lambda: block)
    cache.get("b", lambda: block)
    assert len(cache) == 3 and cache.bytes_held == 2400
    now[0] = 11.0  # "old" has expired; "a" and "b" have not
    cache.get("c", lambda: block)  # over 3000 bytes: the expired entry goes, not "a"
    assert cache.peek("old") is None and cache.peek("a") is not None
    assert cache.bytes_held == 2400
    cache.get("d", lambda: block)  # nothing expired: the oldest goes
    assert cache.peek("a") is None and cache.peek("d") is not None
    huge = np.zeros(1000)  # 8,000 bytes: served, never kept
    assert cache.get("huge", lambda: huge) is huge
    assert cache.peek("huge") is None and cache.bytes_held <= 3000


def test_known_symbols_refresh_without_blocking_fresh_readers() -> None:
    """A reader of a fresh set never waits for a refresh another caller is running."""
    from quantrun.app.submit import KnownSymbols
    from quantrun.domain.prices import Instrument

    gate, asked = threading.Event(), threading.Event()
    calls = 0

    class Prices:
        def instruments(self) -> list[Instrument]:
            nonlocal calls
            calls += 1
            if calls > 1:  # the second load (an unknown symbol's refresh) hangs
                asked.set()
                gate.wait(5)
            d = __import__("datetime").date(2020, 1, 1)
            return [Instrument("AAPL", "Apple", d, d, 1)]

    known = KnownSymbols(Prices(), ttl=60, refresh_gap=0)  # type: ignore[arg-type]
    assert known.missing(["AAPL"]) == []
    slow = threading.Thread(target=lambda: known.missing(["NEWCO"]))
    slow.start()
    assert asked.wait(5)
    answered: list[list[str]] = []
    reader = threading.Thread(target=lambda: answered.append(known.missing(["AAPL"])))
    reader.start()
    reader.join(5)
    # answered from the fresh set while the refresh is still held at the gate
    assert answered == [[]] and not gate.is_set()
    gate.set()
    slow.join(5)
    assert calls == 2


def test_stale_while_revalidate_serves_the_old_value_while_one_refresh_runs() -> None:
    import threading

    from quantrun.app.cache import Freshness, SingleFlightCache

    now = [0.0]
    cache = SingleFlightCache(ttl_seconds=99, clock=lambda: now[0])
    loads: list[int] = []
    release = threading.Event()

    def load() -> int:
        loads.append(len(loads))
        if len(loads) > 1:
            release.wait(5)  # the refresh takes a while
        return len(loads)

    assert cache.lookup("k", load, ttl=10, stale=5) == (1, Freshness("miss", 10))
    now[0] = 4.0
    value, how = cache.lookup("k", load, ttl=10, stale=5)
    assert (value, how.state, how.header()) == (1, "hit", "quantrun; hit; ttl=6")
    now[0] = 12.0  # past the TTL, inside the grace: the old value, one refresh started
    value, how = cache.lookup("k", load, ttl=10, stale=5)
    again, _ = cache.lookup("k", load, ttl=10, stale=5)
    assert (value, again, how.state, how.header()) == (1, 1, "stale", "quantrun; hit; ttl=-2")
    release.set()
    for _ in range(100):  # the refresh lands
        if cache.lookup("k", load, ttl=10, stale=5)[0] == 2:
            break
        threading.Event().wait(0.01)
    assert cache.lookup("k", load, ttl=10, stale=5)[0] == 2 and len(loads) == 2
    now[0] = 40.0  # past the TTL and the grace: a miss, loaded in the request
    value, how = cache.lookup("k", load, ttl=10, stale=5)
    assert (value, how.header()) == (3, "quantrun; fwd=miss; stored")
    assert (cache.hits, cache.stale_hits) >= (2, 2) and cache.misses == 2


def test_coverage_and_synchronous_runs_read_through_the_cache() -> None:
    """BigQuery bills every query: a coverage read and a synchronous run's history are
    served from the read cache within its TTL, and an unknown symbol is refused from the
    cached instrument list without reading any prices."""
    from datetime import date, timedelta

    from quantrun.app.prices import CachedReads, CacheRule, coverage
    from quantrun.domain.errors import NotFound
    from quantrun.domain.prices import PriceRow
    from tests.fakes import FakePriceStore

    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(30)]
    prices = FakePriceStore([PriceRow(d, "ACME", 10.0 + i) for i, d in enumerate(days)])
    cache = SingleFlightCache(60)
    first = coverage(prices=prices, cache=cache, symbol="ACME")
    assert coverage(prices=prices, cache=cache, symbol="ACME") == first
    assert prices.loads == 1
    with pytest.raises(NotFound):
        coverage(prices=prices, cache=cache, symbol="NOPE")
    assert prices.loads == 1
    load = CachedReads(prices, cache, CacheRule(60)).load_close
    a = load(["ACME"], days[0], days[-1])
    b = load(["ACME"], days[0], days[-1])
    assert prices.loads == 2 and (a.close == b.close).all() and a.close.shape == (30, 1)
    # what the cache holds is shared: no reader can write into it
    with pytest.raises(ValueError, match="read-only"):
        a.close[0, 0] = 1.0


def test_a_synchronous_runs_reads_are_one_each_per_window_and_ttl() -> None:
    """``POST /v1/models/{model}/run`` reads the window's corporate actions and its
    adjusted close through the read cache: running it again within the TTL reads neither
    from the store (BigQuery bills each query), and gives the same result."""
    from datetime import date, timedelta

    import numpy as np

    from quantrun.app.models import run_sync
    from quantrun.app.prices import CachedReads, CacheRule
    from quantrun.app.submit import KnownSymbols
    from quantrun.domain.actions import PricedAction
    from quantrun.domain.prices import PriceRow
    from tests.fakes import FakePriceStore

    class CountingActions(FakePriceStore):
        actions_read = 0

        def actions(self, symbols: Any, after: date | None = None) -> list[PricedAction]:
            self.actions_read += 1
            return super().actions(symbols, after)

    rng = np.random.default_rng(1)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    prices = CountingActions(
        [PriceRow(d, s, float(p)) for s in ("AAA", "BBB", "SPY")
         for d, p in zip(days, 100 * np.cumprod(1 + rng.normal(0, 0.01, 60)), strict=True)]
    )  # fmt: skip
    reads = CachedReads(prices, SingleFlightCache(60), CacheRule(60))
    window = {"symbols": ["AAA", "BBB"], "start": "2024-01-01", "end": "2024-02-29"}

    def run() -> dict[str, Any]:
        return run_sync(model="risk_metrics", params=window, known=KnownSymbols(prices),
                        reads=reads, prices=prices, max_cost=1e9, max_values=100_000)  # fmt: skip

    first = run()
    assert (prices.loads, prices.actions_read) == (1, 1)
    assert run() == first
    assert (prices.loads, prices.actions_read) == (1, 1)
