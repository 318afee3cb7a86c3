"""Instruments managed through the API (CONTRACT 6.2).

An instrument is a symbol with prices, a registered record (``InstrumentRecord``: name,
asset type, exchange, currency, active), or both; the listing shows each once, its
coverage (dates, rows) beside its record. A symbol with prices and no record counts as
an active equity in USD named by ``instrument_names`` (or its symbol). Admins add and
change records and backfill one (an ingest run whose outcome ``GET /v1/ingest-runs/{id}``
tells); scheduled ingest fetches the active ones (``app.ingest.active_symbols``).

Records live with the prices (BigQuery / DuckDB), the audit trail in the job database:
an instrument's audit entry is written just after its change, not in its transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

from quantrun.app import audit
from quantrun.app.cache import SingleFlightCache
from quantrun.app.ingest import Counts, run_record
from quantrun.app.ingest_request import IngestRequest
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
        record = records[symbol] if symbol in records else _default(covered[symbol])
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


def backfill(
    *,
    prices: PriceStore,
    trail: AuditLog,
    launch: Callable[[IngestRequest], None],
    user: User,
    symbol: str,
    start: date,
    end: date | None,
    now: datetime,
) -> dict[str, Any]:
    """Ingest one registered instrument from ``start`` (to ``end``, default today) as an
    ingest run with an id the caller can follow (``run_outcome``); the run is recorded
    ``queued`` first, so its id is known before it starts."""
    symbol = symbol.upper()
    if symbol not in {r.symbol for r in prices.instrument_records()}:
        raise NotFound(f"no instrument {symbol}: POST /v1/instruments registers it")
    if start > (end or now.date()):
        raise InvalidInput(f"start: {start} is after the end of the backfill", field="start")
    run_id = str(uuid.uuid4())
    detail = f"backfill from {start}" + (f" to {end}" if end else "")
    prices.record_ingest_runs([run_record(run_id=run_id, symbol=symbol, source=None,
                                          status="queued", detail=detail, at=now,
                                          counts=Counts())])  # fmt: skip
    launch(IngestRequest([symbol], start, end, run_id=run_id))
    trail.record(audit.entry(user, "instrument.backfill", symbol, now, run_id=run_id,
                             start=start.isoformat()))  # fmt: skip
    return {"run_id": run_id, "symbol": symbol, "status": "queued"}


def run_outcome(prices: PriceStore, run_id: str) -> dict[str, Any]:
    """``GET /v1/ingest-runs/{id}``: each symbol's latest record and the run's status
    (``queued`` until a record of the run itself comes; then ``ok``, ``partial`` or
    ``failed`` as its symbols fared)."""
    records = prices.ingest_run(run_id)
    if not records:
        raise NotFound(f"no ingest run {run_id}")
    latest = {r["symbol"]: r for r in records}  # oldest first: the last one stands
    statuses = [r["status"] for r in latest.values()]
    if all(s == "queued" for s in statuses):
        status = "queued"
    elif all(s == "ok" for s in statuses):
        status = "ok"
    else:
        status = "failed" if all(s != "ok" for s in statuses) else "partial"
    keep = ("symbol", "source", "status", "detail", "run_at", *Counts().as_dict())
    return {
        "run_id": run_id,
        "status": status,
        "symbols": [{k: r.get(k) for k in keep} for r in latest.values()],
    }


def actions_of(prices: PriceStore, cache: SingleFlightCache, symbol: str) -> list[dict[str, Any]]:
    """An instrument's corporate actions, oldest first; 404 for a symbol QuantRun does
    not know (no prices, no record)."""
    symbol = symbol.upper()
    found = prices.actions([symbol])
    if not found and not any(i["symbol"] == symbol for i in listing(prices, cache)):
        raise NotFound(f"no instrument {symbol}")
    return [
        {"date": p.action.date, "kind": p.action.kind, "value": p.action.value,
         "source": p.action.source}
        for p in found
    ]  # fmt: skip
