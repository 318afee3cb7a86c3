"""A short-TTL cache with single-flight: concurrent identical reads cause one query.

Used on the API's read side (instruments, price windows, latest prices), where many
clients ask the same thing at once and BigQuery bills per query, and for authenticated
keys. Bounded in entries and in bytes (an estimate: arrays by their ``nbytes``): when
full, expired entries go first, then the oldest; a value larger than the whole budget is
served but not kept.

Each read may give its own TTL (a kind of data: latest prices short, history long) and a
grace: an entry past its TTL but within the grace is served as it is while one refresh
runs in the background (stale-while-revalidate), and ``lookup`` says which it was."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Freshness:
    """How a read was served: ``hit`` (fresh), ``miss`` (loaded now) or ``stale`` (past
    its TTL, within the grace, a refresh under way); ``ttl`` the seconds it has left
    (negative when stale), as RFC 9211's Cache-Status says it."""

    state: str
    ttl: float

    def header(self) -> str:
        if self.state == "miss":
            return "quantrun; fwd=miss; stored"
        return f"quantrun; hit; ttl={int(self.ttl // 1) if self.ttl < 0 else int(self.ttl)}"


@dataclass(frozen=True)
class CacheStats:
    """What the cache holds and how its reads were served since the process started
    (``stale_hits`` count as hits in ``hit_rate``; None before any read)."""

    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    hits: int
    stale_hits: int
    misses: int

    @property
    def hit_rate(self) -> float | None:
        reads = self.hits + self.stale_hits + self.misses
        return None if reads == 0 else (self.hits + self.stale_hits) / reads


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
        self._ttls: dict[Hashable, float] = {}
        self.hits = self.misses = self.stale_hits = 0
        self._sizes: dict[Hashable, int] = {}
        self._bytes = 0
        self._flights: dict[Hashable, _Flight] = {}

    def _fresh(self, key: Hashable, ttl: float | None = None) -> tuple[float, Any] | None:
        hit = self._values.get(key)
        ttl = self._ttls.get(key, self._ttl) if ttl is None else ttl
        return hit if hit is not None and self._clock() - hit[0] < ttl else None

    def lookup(
        self, key: Hashable, load: Callable[[], T], *, ttl: float | None = None, stale: float = 0.0
    ) -> tuple[T, Freshness]:
        """The value and how it was served: fresh from the cache, loaded now, or past its
        ``ttl`` by less than ``stale`` seconds (served while one refresh runs)."""
        ttl = self._ttl if ttl is None else ttl
        with self._lock:
            hit = self._values.get(key)
            if hit is not None:
                age = self._clock() - hit[0]
                if age < ttl:
                    self.hits += 1
                    return hit[1], Freshness("hit", ttl - age)
                if age < ttl + stale:
                    self.stale_hits += 1
                    if key not in self._flights:
                        self._flights[key] = flight = _Flight()
                        threading.Thread(
                            target=self._refresh, args=(key, load, ttl, flight), daemon=True
                        ).start()
                    return hit[1], Freshness("stale", ttl - age)
        return self.get(key, load, ttl=ttl), Freshness("miss", ttl)

    def _refresh(self, key: Hashable, load: Callable[[], Any], ttl: float, flight: _Flight) -> None:
        # a failed refresh keeps the stale value; the next read past the grace loads again
        self._fly(key, load, ttl, flight)

    def _fly(
        self, key: Hashable, load: Callable[[], Any], ttl: float | None, flight: _Flight
    ) -> None:
        """Run the load of ``flight`` and land it: kept if it worked, the waiters woken."""
        try:
            flight.value = load()
        except BaseException as exc:
            flight.error = exc
        finally:
            with self._lock:
                self._flights.pop(key, None)
                if flight.error is None:
                    self._keep(key, flight.value, ttl)
            flight.done.set()

    def peek(self, key: Hashable) -> Any | None:
        """The fresh cached value, or None; never loads (for callers that must not block)."""
        with self._lock:
            hit = self._fresh(key)
            return None if hit is None else hit[1]

    def get(self, key: Hashable, load: Callable[[], T], *, ttl: float | None = None) -> T:
        with self._lock:
            hit = self._fresh(key, ttl)
            if hit is not None:
                self.hits += 1
                return hit[1]  # type: ignore[no-any-return]
            self.misses += 1
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
        self._fly(key, load, ttl, flight)
        if flight.error is not None:
            raise flight.error
        return flight.value  # type: ignore[no-any-return]

    def _keep(self, key: Hashable, value: Any, ttl: float | None = None) -> None:
        """Store under the lock, making room: expired entries first, then the oldest."""
        size = approximate_size(value)
        self._drop(key)
        if size > self._max_bytes or self._max <= 0:
            return
        if len(self._values) >= self._max or self._bytes + size > self._max_bytes:
            now = self._clock()
            for old in [
                k
                for k, (at, _v) in self._values.items()
                if now - at >= self._ttls.get(k, self._ttl)
            ]:
                self._drop(old)
        while self._values and (
            len(self._values) >= self._max or self._bytes + size > self._max_bytes
        ):
            self._drop(next(iter(self._values)))
        self._values[key] = (self._clock(), value)
        self._sizes[key] = size
        self._bytes += size
        if ttl is not None:
            self._ttls[key] = ttl

    def _drop(self, key: Hashable) -> None:
        if self._values.pop(key, None) is not None:
            self._bytes -= self._sizes.pop(key, 0)
            self._ttls.pop(key, None)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                len(self._values),
                self._bytes,
                self._max,
                self._max_bytes,
                self.hits,
                self.stale_hits,
                self.misses,
            )

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
