"""A short-TTL cache with single-flight: concurrent identical reads cause one query.

Used on the API's read side (instruments, price windows), where many clients ask the same
thing at once and BigQuery bills per query, and for authenticated keys. Bounded in
entries and in bytes (an estimate: arrays by their ``nbytes``): when full, expired
entries go first, then the oldest; a value larger than the whole budget is served but
not kept."""

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
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._sizes: dict[Hashable, int] = {}
        self._bytes = 0
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
                    self._keep(key, flight.value)
            flight.done.set()
        return flight.value  # type: ignore[no-any-return]

    def _keep(self, key: Hashable, value: Any) -> None:
        """Store under the lock, making room: expired entries first, then the oldest."""
        size = approximate_size(value)
        self._drop(key)
        if size > self._max_bytes or self._max <= 0:
            return
        if len(self._values) >= self._max or self._bytes + size > self._max_bytes:
            now = self._clock()
            for stale in [k for k, (at, _v) in self._values.items() if now - at >= self._ttl]:
                self._drop(stale)
        while self._values and (
            len(self._values) >= self._max or self._bytes + size > self._max_bytes
        ):
            self._drop(next(iter(self._values)))
        self._values[key] = (self._clock(), value)
        self._sizes[key] = size
        self._bytes += size

    def _drop(self, key: Hashable) -> None:
        if self._values.pop(key, None) is not None:
            self._bytes -= self._sizes.pop(key, 0)

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._sizes.clear()
            self._bytes = 0


def approximate_size(value: Any) -> int:
    """Bytes a cached value holds, roughly: arrays by ``nbytes``, containers by their
    items, anything else a small constant."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if hasattr(value, "__dataclass_fields__"):
        return 64 + sum(approximate_size(getattr(value, f)) for f in value.__dataclass_fields__)
    if isinstance(value, list | tuple | set | frozenset):
        return 64 + sum(approximate_size(v) for v in value)
    if isinstance(value, dict):
        return 64 + sum(approximate_size(k) + approximate_size(v) for k, v in value.items())
    if isinstance(value, str | bytes):
        return 49 + len(value)
    return 64
