"""In-memory fakes of the ports, for unit tests of the layers above them.

Each fake keeps the port's observable contract (create-only artifacts, adjusted-close
price matrices, publish order) and can be told to fail, to exercise error paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from quantrun.domain.actions import CorporateAction, PricedAction
from quantrun.domain.artifacts import ArtifactRef, StoredArtifact, artifact_key
from quantrun.domain.errors import Conflict, TransientError
from quantrun.domain.market_data import ProviderCall, ProviderSummary, summarize
from quantrun.domain.prices import (
    Instrument,
    InstrumentRecord,
    LatestPrice,
    PriceField,
    PriceMatrix,
    PriceRow,
)


class FakeQueue:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.quick: list[str] = []  # the published ids marked quick
        self.fail = False

    def ping(self) -> None:
        if self.fail:
            raise TransientError("queue down")

    def publish(self, job_id: str, trace: str | None = None, *, quick: bool = False) -> None:
        if self.fail:
            raise TransientError("queue down")
        self.published.append(job_id)
        if quick:
            self.quick.append(job_id)


class FakePriceStore:
    def __init__(self, rows: Sequence[PriceRow] = ()) -> None:
        self.rows: dict[tuple[str, date], PriceRow] = {(r.symbol, r.date): r for r in rows}
        self.fail_loads = 0  # the next N loads raise TransientError
        self.loads = 0
        self.upserts = 0
        self.sources: dict[tuple[str, date], str] = {}
        self.runs: list[dict[str, Any]] = []
        self.calls: list[ProviderCall] = []
        self.records: dict[str, InstrumentRecord] = {}
        self.stored_actions: dict[tuple[str, date, str], CorporateAction] = {}

    def ping(self) -> None:
        return None

    def instrument_records(self) -> list[InstrumentRecord]:
        return [self.records[s] for s in sorted(self.records)]

    def put_instruments(self, records: Sequence[InstrumentRecord]) -> None:
        self.records.update({r.symbol: r for r in records})

    def instruments(self) -> list[Instrument]:
        by_symbol: dict[str, list[date]] = {}
        for symbol, day in self.rows:
            by_symbol.setdefault(symbol, []).append(day)
        return [Instrument(s, s, min(d), max(d), len(d)) for s, d in sorted(by_symbol.items())]

    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        self.loads += 1
        if self.fail_loads:
            self.fail_loads -= 1
            raise TransientError("price store unavailable")
        wanted = set(symbols)
        days = sorted({d for s, d in self.rows if s in wanted and start <= d <= end})
        close = np.full((len(days), len(symbols)), np.nan)
        row = {d: i for i, d in enumerate(days)}
        for j, symbol in enumerate(symbols):
            for d in days:
                price = self.rows.get((symbol, d))
                if price is not None:
                    close[row[d], j] = price.adj_close if price.adj_close else price.close
        return PriceMatrix(np.array(days, dtype="datetime64[D]"), tuple(symbols), close)

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]:
        return {f: self._field(symbols, start, end, f) for f in fields}

    def _field(
        self, symbols: Sequence[str], start: date, end: date, field: PriceField
    ) -> PriceMatrix:
        m = self.load_close(symbols, start, end)
        values = np.full_like(m.close, np.nan)
        for i, d in enumerate(m.dates.astype(object)):
            for j, symbol in enumerate(symbols):
                row = self.rows.get((symbol, d))
                if row is None:
                    continue
                value = getattr(row, field)
                if field == "adj_close" and value is None:
                    value = row.close
                values[i, j] = np.nan if value is None else value
        return PriceMatrix(m.dates, m.symbols, values)

    def latest(self, symbols: Sequence[str]) -> list[LatestPrice]:
        out = []
        for symbol in symbols:
            days = [d for s, d in self.rows if s == symbol]
            if days:
                r = self.rows[(symbol, max(days))]
                source = self.sources.get((symbol, r.date), "fake")
                out.append(LatestPrice(symbol, r.date, r.close, r.adj_close, source))
        return out

    def upsert(self, rows: Sequence[PriceRow], *, source: str) -> int:
        for r in rows:
            self.rows[(r.symbol, r.date)] = r
        self.sources.update({(r.symbol, r.date): source for r in rows})
        self.upserts += 1
        return len(rows)

    def existing(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[tuple[str, date], PriceRow]:
        return {k: r for k, r in self.rows.items() if k[0] in symbols and start <= k[1] <= end}

    def record_ingest_runs(self, runs: Sequence[dict[str, Any]]) -> None:
        self.runs.extend(runs)

    def ingest_run(self, run_id: str) -> list[dict[str, Any]]:
        return [
            {**r, "run_at": r["run_at"].isoformat()} for r in self.runs if r["run_id"] == run_id
        ]

    def last_ingest_run(self, symbol: str) -> dict[str, Any] | None:
        matching = [r for r in self.runs if symbol in str(r["symbol"]).split(",")]
        return matching[-1] if matching else None

    def put_actions(self, actions: Sequence[CorporateAction]) -> int:
        self.stored_actions.update({(a.symbol, a.date, a.kind): a for a in actions})
        return len(actions)

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]:
        found = sorted(
            (a for a in self.stored_actions.values()
             if a.symbol in symbols and (after is None or a.date > after)),
            key=lambda a: (a.symbol, a.date, a.kind),
        )  # fmt: skip
        rows = [self.rows.get((a.symbol, a.date)) for a in found]
        return [PricedAction(a, r.close if r else None) for a, r in zip(found, rows, strict=True)]

    def record_provider_calls(self, calls: Sequence[ProviderCall]) -> None:
        self.calls.extend(calls)

    def provider_summaries(self, now: datetime) -> list[ProviderSummary]:
        return summarize(self.calls, now)


class FakeArtifactStore:
    def __init__(self) -> None:
        self.objects: dict[str, StoredArtifact] = {}

    def ping(self) -> None:
        return None

    def put(
        self, job_id: str, name: str, data: bytes, content_type: str, *, attempt: int = 1
    ) -> ArtifactRef:
        key = artifact_key(job_id, name, attempt)
        existing = self.objects.get(key)
        if existing is not None and existing.data != data:
            raise Conflict(f"artifact {name} of job {job_id} exists with other content")
        self.objects[key] = StoredArtifact(content_type, data)
        return ArtifactRef(name, content_type, len(data), attempt)

    def get(self, job_id: str, name: str, *, attempt: int = 1) -> StoredArtifact | None:
        return self.objects.get(artifact_key(job_id, name, attempt))

    def signed_url(
        self, job_id: str, name: str, *, attempt: int = 1, content_type: str | None = None
    ) -> str | None:
        return None


class HeartbeatLog:
    """The one job-store method a lease uses: records each renewal, every one succeeds."""

    def __init__(self) -> None:
        self.beats: list[str] = []

    def heartbeat(self, job_id: str, **_kwargs: Any) -> bool:
        self.beats.append(job_id)
        return True
