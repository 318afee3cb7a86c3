"""The ingest use cases: a scheduled provider fetch, and an uploaded price file.

Both validate, write through the price store's idempotent MERGE and return counts:
``fetched``, ``inserted`` (new (symbol, date)), ``updated`` (a stored close or adjusted
close changed), ``unchanged`` (identical rows, not rewritten) and ``rejected``.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from quantrun.app.fallback import FallbackFetcher, default_start
from quantrun.domain.errors import ProviderError
from quantrun.domain.price_checks import ValidationReport, validate
from quantrun.domain.price_csv import PriceFileError, parse_price_csv
from quantrun.domain.prices import PriceRow
from quantrun.domain.symbols import parse_symbol
from quantrun.logging import get_logger
from quantrun.ports import PriceStore

log = get_logger(__name__)

MAX_SYMBOLS = 500


@dataclass(frozen=True)
class IngestRequest:
    symbols: list[str]
    start: date | None = None
    end: date | None = None


def parse_ingest_message(data: bytes | str) -> IngestRequest:
    """``{"symbols": [...], "start": "YYYY-MM-DD"?, "end": ...?, "since_last": true?}``;
    without a start (or with since_last) each symbol resumes after its last stored date."""
    try:
        body = json.loads(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the ingest message is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("symbols"), list):
        raise ValueError("the ingest message needs a list of symbols")
    symbols = list(dict.fromkeys(parse_symbol(s) for s in body["symbols"]))
    if not symbols or len(symbols) > MAX_SYMBOLS:
        raise ValueError(f"give 1 to {MAX_SYMBOLS} symbols")
    start = None if body.get("since_last") else body.get("start")
    end = body.get("end")
    return IngestRequest(
        symbols,
        date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None,
    )


@dataclass
class Counts:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: Counts) -> None:
        for name in ("fetched", "inserted", "updated", "unchanged", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class IngestResult:
    run_id: str
    counts: Counts = field(default_factory=Counts)
    per_symbol: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def write_changes(store: PriceStore, rows: Sequence[PriceRow], source: str) -> Counts:
    """MERGE only the rows that are new or differ from what is stored."""
    counts = Counts(fetched=len(rows))
    if not rows:
        return counts
    symbols = sorted({r.symbol for r in rows})
    existing = store.existing(symbols, min(r.date for r in rows), max(r.date for r in rows))
    changed = []
    for r in rows:
        stored = existing.get((r.symbol, r.date))
        if stored is None:
            counts.inserted += 1
            changed.append(r)
        elif stored != (r.close, r.adj_close):
            counts.updated += 1
            changed.append(r)
        else:
            counts.unchanged += 1
    store.upsert(changed, source=source)
    return counts


def ingest_prices(
    *,
    request: IngestRequest,
    fetcher: FallbackFetcher,
    store: PriceStore,
    now: datetime,
    today: date,
) -> IngestResult:
    result = IngestResult(run_id=str(uuid.uuid4()))
    last = {i.symbol: i.last_date for i in store.instruments()}
    for symbol in request.symbols:
        start = request.start or default_start(last.get(symbol))
        end = request.end or today
        if start > end:
            result.per_symbol[symbol] = {"source": None, "outcome": "up to date"}
            continue
        try:
            fetched = fetcher.fetch(symbol, start, end)
        except ProviderError as exc:
            result.failed[symbol] = str(exc)
            store.record_ingest_run(
                {
                    "run_id": result.run_id,
                    "symbol": symbol,
                    "source": None,
                    "status": "failed",
                    "detail": str(exc)[:1000],
                    "run_at": now,
                    **Counts().as_dict(),
                }
            )
            continue
        report = validate(fetched.rows)
        counts = write_changes(store, report.accepted, fetched.source)
        counts.fetched = len(fetched.rows)
        counts.rejected = len(report.rejected)
        result.counts.add(counts)
        result.per_symbol[symbol] = {
            "source": fetched.source,
            "attempts": fetched.attempts,
            **counts.as_dict(),
            **_warnings(report),
        }
        store.record_ingest_run(
            {
                "run_id": result.run_id,
                "symbol": symbol,
                "source": fetched.source,
                "status": "ok",
                "detail": json.dumps(_warnings(report))[:1000],
                "run_at": now,
                **counts.as_dict(),
            }
        )
    log.info(
        "ingest run",
        extra={
            "fields": {"run_id": result.run_id, **result.counts.as_dict(), "failed": result.failed}
        },
    )
    return result


def _warnings(report: ValidationReport) -> dict[str, Any]:
    return {
        "missing_weekdays": report.missing_weekdays,
        "suspicious_jumps": report.suspicious_jumps[:20],
    }


@dataclass
class FileOutcome:
    accepted: bool
    counts: Counts
    report: dict[str, Any]


def ingest_file(*, name: str, data: bytes, store: PriceStore, now: datetime) -> FileOutcome:
    """All or nothing: a file with any bad row loads nothing and returns the report."""
    try:
        if name.lower().endswith(".parquet"):
            rows = _parquet_rows(data)
        else:
            rows = parse_price_csv(data.decode("utf-8-sig"))
    except (PriceFileError, UnicodeDecodeError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, PriceFileError) else [str(exc)]
        return FileOutcome(False, Counts(), {"file": name, "accepted": False, "problems": problems})
    report = validate(rows)
    if report.rejected:
        return FileOutcome(
            False,
            Counts(fetched=len(rows), rejected=len(report.rejected)),
            {"file": name, "accepted": False, **report.summary()},
        )
    counts = write_changes(store, report.accepted, source=f"upload:{name}")
    store.record_ingest_run(
        {
            "run_id": str(uuid.uuid4()),
            "symbol": ",".join(sorted({r.symbol for r in rows}))[:1000],
            "source": f"upload:{name}",
            "status": "ok",
            "detail": "",
            "run_at": now,
            **counts.as_dict(),
        }
    )
    return FileOutcome(
        True, counts, {"file": name, "accepted": True, **report.summary(), **counts.as_dict()}
    )


def _parquet_rows(data: bytes) -> list[PriceRow]:
    """Parquet with the CSV layout's columns, checked by the same parser."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return parse_price_csv(buffer.getvalue().decode())


@dataclass(frozen=True)
class LoadedPrices:
    rows: int
    symbols: list[str]


def load_price_csv(*, text: str, store: PriceStore, source: str) -> LoadedPrices:
    """A price CSV into the store as it is (``quantrun load-prices``); raises
    ``PriceFileError`` listing every problem, and then loads nothing."""
    rows = parse_price_csv(text)
    written = store.upsert(rows, source=source)
    return LoadedPrices(written, sorted({r.symbol for r in rows}))
