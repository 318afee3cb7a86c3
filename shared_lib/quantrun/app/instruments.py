"""Instruments managed through the API (CONTRACT 6.2).

An instrument is a symbol with prices, a registered record (``InstrumentRecord``: name,
asset type, exchange, currency, active), or both; the listing shows each once, its
coverage (dates, rows) beside its record. A symbol with prices and no record counts as
an active equity in USD named by ``instrument_names`` (or its symbol). Admins add and
change records; scheduled ingest fetches the active ones (``active_symbols``), and adds
the seed list (Terraform's ``ingest_symbols``) for the symbols with no record yet.

Records live with the prices (BigQuery / DuckDB), the audit trail in the job database:
an instrument's audit entry is written just after its change, not in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from quantrun.app import audit
from quantrun.app.cache import SingleFlightCache
from quantrun.domain.errors import Conflict, InvalidInput, NotFound
from quantrun.domain.prices import ASSET_TYPES, Instrument, InstrumentRecord
from quantrun.domain.symbols import parse_symbol
from quantrun.domain.users import User
from quantrun.ports import AuditLog, PriceStore


def _default(found: Instrument) -> InstrumentRecord:
    return InstrumentRecord(found.symbol, found.name)


def listing(
    prices: PriceStore, cache: SingleFlightCache, active: bool | None = None
) -> list[dict[str, Any]]:
    """Every instrument, by symbol; with ``active``, only those that are (or are not)."""
    covered = {i.symbol: i for i in cache.get(("instruments",), prices.instruments)}
    records = {r.symbol: r for r in cache.get(("instrument-records",), prices.instrument_records)}
    out = []
    for symbol in sorted(covered.keys() | records.keys()):
        coverage = covered.get(symbol)
        record = records.get(symbol) or _default(coverage)  # type: ignore[arg-type]
        if active is not None and record.active != active:
            continue
        out.append(
            {
                **asdict(record),
                "first_date": coverage.first_date if coverage else None,
                "last_date": coverage.last_date if coverage else None,
                "rows": coverage.rows if coverage else 0,
            }
        )
    return out


def _checked(record: InstrumentRecord) -> InstrumentRecord:
    if record.asset_type not in ASSET_TYPES:
        raise InvalidInput(f"asset_type: one of {', '.join(ASSET_TYPES)}", field="asset_type")
    return record


def create(
    *,
    prices: PriceStore,
    trail: AuditLog,
    cache: SingleFlightCache,
    user: User,
    record: InstrumentRecord,
    now: datetime,
) -> InstrumentRecord:
    try:
        record = replace(record, symbol=parse_symbol(record.symbol))
    except ValueError as exc:
        raise InvalidInput(f"symbol: {exc}", field="symbol") from None
    if any(r.symbol == record.symbol for r in prices.instrument_records()):
        raise Conflict(f"instrument {record.symbol} exists: PATCH /v1/instruments/{record.symbol}")
    prices.put_instruments([_checked(record)])
    cache.clear()
    trail.record(audit.entry(user, "instrument.create", record.symbol, now, **asdict(record)))
    return record


def update(
    *,
    prices: PriceStore,
    trail: AuditLog,
    cache: SingleFlightCache,
    user: User,
    symbol: str,
    changes: dict[str, Any],
    now: datetime,
) -> InstrumentRecord:
    """Change a registered instrument, or register one that has prices with the changes."""
    symbol = symbol.upper()
    current = {r.symbol: r for r in prices.instrument_records()}.get(symbol)
    if current is None:
        covered = {i.symbol: i for i in prices.instruments()}.get(symbol)
        if covered is None:
            raise NotFound(f"no instrument {symbol}")
        current = _default(covered)
    changed = _checked(replace(current, **changes))
    prices.put_instruments([changed])
    cache.clear()
    trail.record(audit.entry(user, "instrument.update", symbol, now, **changes))
    return changed


def active_symbols(prices: PriceStore, seed: Sequence[str] = ()) -> list[str]:
    """The symbols scheduled ingest fetches: every active record, after adding a record
    for each ``seed`` symbol that has none (Terraform's list seeds the universe once;
    after that the API manages it)."""
    records = {r.symbol: r for r in prices.instrument_records()}
    new = [InstrumentRecord(s, s) for s in dict.fromkeys(seed) if s not in records]
    if new:
        prices.put_instruments(new)
        records.update({r.symbol: r for r in new})
    return sorted(s for s, r in records.items() if r.active)


def inactive(prices: PriceStore) -> set[str]:
    return {r.symbol for r in prices.instrument_records() if not r.active}
