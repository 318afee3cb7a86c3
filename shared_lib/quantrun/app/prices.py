"""The market-data read side: instruments, a window of prices (adjusted closes, or the
stored fields asked for), the latest price per symbol, a symbol's coverage.

Reads go through the API's read cache (``SingleFlightCache``): one price-store query per
TTL for identical requests, however many arrive at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from quantrun.app.cache import Freshness, SingleFlightCache
from quantrun.app.history_loads import adjusted_fields, needs_close
from quantrun.app.submit import KnownSymbols
from quantrun.domain.actions import Adjustment, PricedAction
from quantrun.domain.errors import InvalidInput, NotFound, QuantRunError
from quantrun.domain.lists import list_pattern, split_list
from quantrun.domain.prices import PRICE_FIELDS, Instrument, LatestPrice, PriceField, PriceMatrix
from quantrun.domain.symbols import SYMBOL_CORE, parse_symbol
from quantrun.ports import PriceStore

MAX_SYMBOLS = 100
MISSING_SAMPLE = 50


class UnknownSymbols(QuantRunError):
    code = "unknown_symbol"


def instruments(*, prices: PriceStore, cache: SingleFlightCache) -> list[Instrument]:
    """The price store's instruments through the read cache (one GROUP BY per TTL)."""
    return cache.get(("instruments",), prices.instruments)


def _symbol(raw: str, field: str) -> str:
    try:
        return parse_symbol(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None


def _checked(known: KnownSymbols, symbols: str, start: date, end: date) -> list[str]:
    wanted = list(dict.fromkeys(_symbol(s, "symbols") for s in split_list(symbols)))
    if not wanted or len(wanted) > MAX_SYMBOLS:
        raise InvalidInput(f"symbols: give 1 to {MAX_SYMBOLS} symbols", field="symbols")
    if start > end:
        raise InvalidInput(f"end: must not be before start ({start.isoformat()})", field="end")
    unknown = known.missing(wanted)
    if unknown:
        raise UnknownSymbols(f"no prices stored for {', '.join(unknown)}", field="symbols")
    return wanted


# what ``symbols=`` and ``fields=`` may say (the OpenAPI document publishes them)
SYMBOLS_PATTERN = list_pattern(SYMBOL_CORE, at_least_one=True)
FIELDS_PATTERN = list_pattern("|".join(PRICE_FIELDS), at_least_one=True)


def parse_fields(raw: str | None) -> tuple[PriceField, ...] | None:
    """The price fields asked for (None: the default, the adjusted close as ``close``)."""
    if raw is None:
        return None
    asked = split_list(raw)
    unknown = sorted(set(asked) - set(PRICE_FIELDS))
    if unknown or not asked:
        raise InvalidInput(
            f"fields: choose from {', '.join(PRICE_FIELDS)} (got {', '.join(unknown) or 'none'})",
            field="fields",
        )
    return tuple(f for f in PRICE_FIELDS if f in asked)


@dataclass(frozen=True)
class CacheRule:
    """How long a kind of read is fresh, and how long past that it may still be served
    while one refresh runs (stale-while-revalidate)."""

    ttl: float
    stale: float = 0.0


@dataclass(frozen=True)
class CachedReads:
    """The price store's history reads (``actions``, ``load_fields``, ``load_close``, as
    ``PriceStore`` names them) through the read cache: one query each per window and TTL
    for ``GET /v1/prices`` and synchronous runs alike. (A worker's jobs read the store:
    a job submitted after a price changed must see the change, which a TTL would hide.)
    What the cache holds is shared, so its arrays are read-only: a model writing into
    its input fails loudly instead of changing the next run's prices."""

    prices: PriceStore
    cache: SingleFlightCache
    rule: CacheRule

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]:
        wanted = tuple(symbols)
        found, _ = self.cache.lookup(
            ("actions", wanted, after),
            lambda: self.prices.actions(list(wanted), after),
            ttl=self.rule.ttl,
            stale=self.rule.stale,
        )
        return found

    def served_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> tuple[dict[PriceField, PriceMatrix], Freshness]:
        wanted, asked = tuple(symbols), tuple(fields)
        return self.cache.lookup(
            ("fields", asked, wanted, start, end),
            lambda: {
                f: read_only(m)
                for f, m in self.prices.load_fields(list(wanted), start, end, asked).items()
            },
            ttl=self.rule.ttl,
            stale=self.rule.stale,
        )

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]:
        return self.served_fields(symbols, start, end, fields)[0]

    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        """The adjusted close: the entry ``GET /v1/prices`` fills for it by default."""
        return self.load_fields(symbols, start, end, ("adj_close",))["adj_close"]


def read_only(matrix: PriceMatrix) -> PriceMatrix:
    matrix.dates.setflags(write=False)
    matrix.close.setflags(write=False)
    return matrix


def field_window(
    *,
    reads: CachedReads,
    known: KnownSymbols,
    symbols: str,
    start: date,
    end: date,
    fields: tuple[PriceField, ...] | None,
    adjustment: Adjustment = "total_return",
) -> tuple[dict[str, PriceMatrix], Freshness]:
    """Each of ``fields`` as stored (``close`` the close as ingested), ``adj_close`` under
    ``adjustment`` (``app/history_loads.py``), for the same dates; None: ``close`` is
    that adjusted close (what the models read). One query for the fields and one for the
    symbols' corporate actions, each cached; with how the cache served the fields."""
    wanted = _checked(known, symbols, start, end)
    actions = reads.actions(wanted, start)
    asked: tuple[PriceField, ...] = fields or ("adj_close",)
    if needs_close(adjustment, actions):
        asked = tuple(dict.fromkeys((*asked, "close", "adj_close")))
    found, served = reads.served_fields(wanted, start, end, asked)
    return adjusted_fields(found, fields, actions, adjustment), served


def latest(
    *,
    prices: PriceStore,
    cache: SingleFlightCache,
    known: KnownSymbols,
    symbols: str,
    rule: CacheRule,
) -> tuple[list[LatestPrice], Freshness]:
    """Each symbol's last stored price, its date and its source."""
    wanted = _checked(known, symbols, date.min, date.max)
    return cache.lookup(
        ("latest", tuple(wanted)), lambda: prices.latest(wanted), ttl=rule.ttl, stale=rule.stale
    )


@dataclass(frozen=True)
class Coverage:
    instrument: Instrument
    missing_weekdays: int
    missing_sample: list[str]
    last_ingest: dict[str, Any] | None


def coverage(*, prices: PriceStore, cache: SingleFlightCache, symbol: str) -> Coverage:
    """Stored dates of a symbol, the weekdays missing between its first and last, and the
    last ingest run that touched it."""
    symbol = _symbol(symbol, "symbol")
    # an unknown symbol is refused from the cached instrument list: no scan of prices
    found = next((i for i in instruments(prices=prices, cache=cache) if i.symbol == symbol), None)
    if found is None:
        raise NotFound(f"no prices stored for {symbol}")
    return cache.get(("coverage", symbol), lambda: _coverage(prices, found))


def _coverage(prices: PriceStore, found: Instrument) -> Coverage:
    symbol = found.symbol
    matrix = prices.load_close([symbol], found.first_date, found.last_date)
    weekdays = np.arange(np.datetime64(found.first_date), np.datetime64(found.last_date) + 1)
    weekdays = weekdays[np.is_busday(weekdays)]
    missing = np.setdiff1d(weekdays, matrix.dates)
    return Coverage(
        instrument=found,
        missing_weekdays=int(missing.size),
        missing_sample=[str(d) for d in missing[:MISSING_SAMPLE]],
        last_ingest=prices.last_ingest_run(symbol),
    )
