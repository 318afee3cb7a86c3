"""A short-TTL cache with single-flight: concurrent identical reads cause one query.

Used on the API's read side (instruments, price windows), where many clients ask the same
thing at once and BigQuery bills per query."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SingleFlightCache:
    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._flights: dict[Hashable, _Flight] = {}

    def _fresh(self, key: Hashable) -> tuple[float, Any] | None:
        hit = self._values.get(key)
        return hit if hit is not None and self._clock() - hit[0] < self._ttl else None

    def peek(self, key: Hashable) -> Any | None:
        """The fresh cached value, or None; never loads (for callers that must not block)."""
        with self._lock:
            hit = self._fresh(key)
            return None if hit is None else hit[1]

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]  # type: ignore[no-any-return]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        assert flight is not None
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[no-any-return]
        try:
            flight.value = load()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
                if flight.error is None:
                    if len(self._values) >= self._max:
                        self._values.pop(next(iter(self._values)))
                    self._values[key] = (self._clock(), flight.value)
            flight.done.set()
        return flight.value  # type: ignore[no-any-return]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
