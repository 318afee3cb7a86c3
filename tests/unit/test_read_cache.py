"""The API's read cache: concurrent identical reads cause one query; entries expire."""

from __future__ import annotations

import threading
import time

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
    time.sleep(0.2)  # all eight are waiting on the one query
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
