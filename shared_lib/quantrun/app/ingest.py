"""The ingest use case: a scheduled provider fetch (price files: ``price_files``).

Rows are validated and written through the price store's idempotent MERGE; a run
returns counts: ``fetched``, ``inserted`` (new (symbol, date)), ``updated`` (any stored
field changed), ``unchanged`` (identical rows, not rewritten) and ``rejected``. Each
provider asked leaves a ``provider_calls`` record for the market-data status, each
symbol an ``ingest_runs`` record; a run writes each kind at once. The dividends and
splits a provider reports beside its prices are kept as corporate actions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from quantrun.app.fallback import FallbackFetcher, Fetched, NoProvider, default_start
from quantrun.app.ingest_request import MAX_SYMBOLS, IngestRequest
from quantrun.app.universe import active_symbols
from quantrun.domain.actions import reported_actions
from quantrun.domain.market_data import ProviderCall
from quantrun.domain.price_checks import ValidationReport, validate
from quantrun.domain.prices import PriceRow
from quantrun.logging import get_logger
from quantrun.ports import PriceStore

log = get_logger(__name__)


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


def changes(
    rows: Sequence[PriceRow], existing: dict[tuple[str, date], PriceRow]
) -> tuple[Counts, list[PriceRow]]:
    """The rows that are new or differ from what is stored (any field), with counts."""
    counts = Counts(fetched=len(rows))
    changed = []
    for r in rows:
        stored = existing.get((r.symbol, r.date))
        if stored is None:
            counts.inserted += 1
            changed.append(r)
        elif stored != r:
            counts.updated += 1
            changed.append(r)
        else:
            counts.unchanged += 1
    return counts, changed


def stored_rows(store: PriceStore, rows: Sequence[PriceRow]) -> dict[tuple[str, date], PriceRow]:
    """What the store holds over the rows' symbols and dates: one query."""
    if not rows:
        return {}
    symbols = sorted({r.symbol for r in rows})
    return store.existing(symbols, min(r.date for r in rows), max(r.date for r in rows))


def write_changes(store: PriceStore, rows: Sequence[PriceRow], source: str) -> Counts:
    """MERGE only the rows that are new or differ from what is stored."""
    counts, changed = changes(rows, stored_rows(store, rows))
    if changed:
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
    """Every symbol fetched first, then one comparison with the store and one MERGE per
    source for the whole run: on BigQuery a run is a handful of jobs, not a few per
    symbol (a MERGE takes seconds, and a table takes 1,500 load jobs a day)."""
    if request.active:
        request = replace(request, symbols=active_symbols(store, request.seed)[:MAX_SYMBOLS])
    run = _Run(request, fetcher, store, now, today)
    try:
        for symbol in request.symbols:
            run.fetch(symbol)
        run.write()
    except Exception:
        # what the providers did is worth keeping also when the write failed, but a
        # failure to keep it must not hide the write's own error
        try:
            run.record()
        except Exception:
            log.warning("the ingest run's records were not written", exc_info=True)
        raise
    run.record()
    result = run.result
    log.info(
        "ingest run",
        extra={
            "fields": {
                # infra/modules/monitoring counts these lines by outcome (ingest freshness)
                "event": "ingest_finished",
                "outcome": _outcome(result, len(request.symbols)),
                "run_id": result.run_id,
                **result.counts.as_dict(),
                "failed": result.failed,
            }
        },
    )
    return result


def _outcome(result: IngestResult, symbols: int) -> str:
    """``ok``: every symbol fetched; ``partial``: some; ``failed``: none."""
    if not result.failed:
        return "ok"
    return "failed" if len(result.failed) >= symbols else "partial"


def run_record(
    *,
    run_id: str,
    symbol: str,
    source: str | None,
    status: str,
    detail: str,
    at: datetime,
    counts: Counts,
) -> dict[str, Any]:
    """One ``ingest_runs`` record (a symbol of a run, or an uploaded file)."""
    return {
        "run_id": run_id,
        "symbol": symbol[:1000],
        "source": source,
        "status": status,
        "detail": detail[:1000],
        "run_at": at,
        **counts.as_dict(),
    }


class _Run:
    """One ingest run: its symbols fetched one by one, then written together."""

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
        self.result = IngestResult(run_id=request.run_id or str(uuid.uuid4()))
        self.last = {i.symbol: i.last_date for i in store.instruments()}
        self.calls: list[ProviderCall] = []
        self.records: list[dict[str, Any]] = []
        self.pending: dict[str, tuple[Fetched, ValidationReport]] = {}

    def fetch(self, symbol: str) -> None:
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
        self.pending[symbol] = (fetched, validate(fetched.rows))

    def write(self) -> None:
        accepted = [r for _f, report in self.pending.values() for r in report.accepted]
        stored = stored_rows(self.store, accepted)
        by_source: dict[str, list[PriceRow]] = {}
        outcomes = []
        for symbol, (f, report) in self.pending.items():
            counts, changed = changes(report.accepted, stored)
            counts.fetched, counts.rejected = len(f.rows), len(report.rejected)
            by_source.setdefault(f.source, []).extend(changed)
            outcomes.append((symbol, f, report, counts))
        for source, rows in by_source.items():
            if rows:
                self.store.upsert(rows, source=source)
        # after their prices: a dividend's factor reads its day's close
        self.store.put_actions(
            [a for f, r in self.pending.values() for a in reported_actions(r.accepted, f.source)]
        )
        for symbol, f, report, counts in outcomes:  # recorded once their rows are stored
            self.result.counts.add(counts)
            self.result.per_symbol[symbol] = {
                "source": f.source,
                "attempts": [{"provider": a.provider, "outcome": a.outcome} for a in f.attempts],
                **counts.as_dict(),
                **_warnings(report),
            }
            self._record(symbol, f.source, "ok", json.dumps(_warnings(report)), counts)

    def record(self) -> None:
        """The run's provider calls and per-symbol records, one write each."""
        if self.calls:
            self.store.record_provider_calls(self.calls)
        if self.records:
            self.store.record_ingest_runs(self.records)

    def _record(
        self, symbol: str, source: str | None, status: str, detail: str, counts: Counts
    ) -> None:
        self.records.append(
            run_record(
                run_id=self.result.run_id,
                symbol=symbol,
                source=source,
                status=status,
                detail=detail,
                at=self.now,
                counts=counts,
            )
        )


def _warnings(report: ValidationReport) -> dict[str, Any]:
    return {
        "missing_weekdays": report.missing_weekdays,
        "suspicious_jumps": report.suspicious_jumps[:20],
    }
