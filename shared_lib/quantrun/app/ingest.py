"""The ingest use cases: a scheduled provider fetch, and an uploaded price file.

Both validate, write through the price store's idempotent MERGE and return counts:
``fetched``, ``inserted`` (new (symbol, date)), ``updated`` (a stored close or adjusted
close changed), ``unchanged`` (identical rows, not rewritten) and ``rejected``. Each
provider asked, and each file loaded (provider ``upload`` or ``load-prices``), leaves a
``provider_calls`` record for the market-data status; a run writes them at once.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from quantrun.app.fallback import FallbackFetcher, NoProvider, default_start
from quantrun.clock import utcnow
from quantrun.domain.market_data import Outcome, ProviderCall
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
    run = _Run(request, fetcher, store, now, today)
    try:
        for symbol in request.symbols:
            run.ingest(symbol)
    finally:
        # what the providers did is worth keeping also when a write failed midway
        if run.calls:
            store.record_provider_calls(run.calls)
    result = run.result
    log.info(
        "ingest run",
        extra={
            "fields": {"run_id": result.run_id, **result.counts.as_dict(), "failed": result.failed}
        },
    )
    return result


class _Run:
    """One ingest run: its symbols one by one, the provider calls they made."""

    def __init__(
        self,
        request: IngestRequest,
        fetcher: FallbackFetcher,
        store: PriceStore,
        now: datetime,
        today: date,
    ) -> None:
        self.request, self.fetcher, self.store = request, fetcher, store
        self.now, self.today = now, today
        self.result = IngestResult(run_id=str(uuid.uuid4()))
        self.last = {i.symbol: i.last_date for i in store.instruments()}
        self.calls: list[ProviderCall] = []

    def ingest(self, symbol: str) -> None:
        result = self.result
        start = self.request.start or default_start(self.last.get(symbol))
        end = self.request.end or self.today
        if start > end:
            result.per_symbol[symbol] = {"source": None, "outcome": "up to date"}
            return
        try:
            fetched = self.fetcher.fetch(symbol, start, end, run_id=result.run_id)
        except NoProvider as exc:
            self.calls.extend(exc.attempts)
            result.failed[symbol] = str(exc)
            self._record(symbol, None, "failed", str(exc), Counts())
            return
        self.calls.extend(fetched.attempts)
        report = validate(fetched.rows)
        counts = write_changes(self.store, report.accepted, fetched.source)
        counts.fetched = len(fetched.rows)
        counts.rejected = len(report.rejected)
        result.counts.add(counts)
        result.per_symbol[symbol] = {
            "source": fetched.source,
            "attempts": [{"provider": a.provider, "outcome": a.outcome} for a in fetched.attempts],
            **counts.as_dict(),
            **_warnings(report),
        }
        self._record(symbol, fetched.source, "ok", json.dumps(_warnings(report)), counts)

    def _record(
        self, symbol: str, source: str | None, status: str, detail: str, counts: Counts
    ) -> None:
        self.store.record_ingest_run(
            {
                "run_id": self.result.run_id,
                "symbol": symbol,
                "source": source,
                "status": status,
                "detail": detail[:1000],
                "run_at": self.now,
                **counts.as_dict(),
            }
        )


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
    outcome = _check_file(name, data)
    if not outcome.accepted:
        problems = outcome.report.get("problems") or outcome.report.get("rejections") or ["?"]
        said = f"{name}: {outcome.counts.rejected or len(problems)} problem(s), first {problems[0]}"
        _file_call(store, "upload", "", "error", said, now)
        return FileOutcome(False, outcome.counts, outcome.report)
    counts = write_changes(store, outcome.rows, source=f"upload:{name}")
    symbols = sorted({r.symbol for r in outcome.rows})
    store.record_ingest_run(
        {
            "run_id": str(uuid.uuid4()),
            "symbol": ",".join(symbols)[:1000],
            "source": f"upload:{name}",
            "status": "ok",
            "detail": "",
            "run_at": now,
            **counts.as_dict(),
        }
    )
    _file_call(store, "upload", ",".join(symbols), "ok", f"{name}: {len(outcome.rows)} rows", now)
    return FileOutcome(True, counts, {**outcome.report, **counts.as_dict()})


@dataclass
class _CheckedFile:
    accepted: bool
    counts: Counts
    report: dict[str, Any]
    rows: list[PriceRow]


def _check_file(name: str, data: bytes) -> _CheckedFile:
    try:
        if name.lower().endswith(".parquet"):
            rows = _parquet_rows(data)
        else:
            rows = parse_price_csv(data.decode("utf-8-sig"))
    except (PriceFileError, UnicodeDecodeError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, PriceFileError) else [str(exc)]
        report = {"file": name, "accepted": False, "problems": problems}
        return _CheckedFile(False, Counts(), report, [])
    checked = validate(rows)
    if checked.rejected:
        counts = Counts(fetched=len(rows), rejected=len(checked.rejected))
        return _CheckedFile(
            False, counts, {"file": name, "accepted": False, **checked.summary()}, []
        )
    summary = {"file": name, "accepted": True, **checked.summary()}
    return _CheckedFile(True, Counts(fetched=len(rows)), summary, list(checked.accepted))


def _file_call(
    store: PriceStore, provider: str, symbols: str, outcome: Outcome, detail: str, now: datetime
) -> None:
    call = ProviderCall(str(uuid.uuid4()), provider, symbols[:1000], outcome, detail[:1000], now)
    store.record_provider_calls([call])


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
    try:
        rows = parse_price_csv(text)
    except PriceFileError as exc:
        _file_call(store, "load-prices", "", "error", f"{source}: {exc.problems[0]}", utcnow())
        raise
    written = store.upsert(rows, source=source)
    symbols = sorted({r.symbol for r in rows})
    _file_call(store, "load-prices", ",".join(symbols), "ok", f"{source}: {written} rows", utcnow())
    return LoadedPrices(written, symbols)
