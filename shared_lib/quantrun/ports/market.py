"""The market-data ports: the price store (BigQuery / DuckDB: prices, instruments,
corporate actions, ingest records), the providers ingest fetches from, and uploaded files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from quantrun.domain.actions import CorporateAction, PricedAction
from quantrun.domain.market_data import CallMeter, ProviderCall, ProviderSummary
from quantrun.domain.prices import (
    Instrument,
    InstrumentRecord,
    LatestPrice,
    PriceField,
    PriceMatrix,
    PriceRow,
)


class PriceStore(Protocol):
    """Daily price history (BigQuery / DuckDB), table ``prices`` of CONTRACT section 4."""

    def ping(self) -> None: ...
    def instruments(self) -> list[Instrument]: ...
    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        """Adjusted close (``adj_close``, else ``close``) for the symbols, in that order."""
        ...

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]:
        """Stored columns (``PRICE_FIELDS``), read in one query, each as a matrix (in its
        ``close``) over the same dates, NaN where a row has none; ``adj_close`` falls back
        to ``close`` as ``load_close`` does."""
        ...

    def latest(self, symbols: Sequence[str]) -> list[LatestPrice]:
        """Each symbol's last stored row (symbols with none are left out)."""
        ...

    def upsert(self, rows: Sequence[PriceRow], *, source: str) -> int:
        """MERGE on (symbol, date); returns rows written. Idempotent."""
        ...

    def existing(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[tuple[str, date], PriceRow]:
        """The stored rows (every field) per (symbol, date) in the range."""
        ...

    def record_ingest_runs(self, runs: Sequence[dict[str, Any]]) -> None:
        """Append ``ingest_runs`` records (run_id, symbol, source, status, counts...);
        one write for a whole run."""
        ...

    def last_ingest_run(self, symbol: str) -> dict[str, Any] | None: ...
    def ingest_run(self, run_id: str) -> list[dict[str, Any]]:
        """The records of one run (a backfill's ``queued`` one first), oldest first."""
        ...

    def instrument_records(self) -> list[InstrumentRecord]:
        """The registered instruments (``POST /v1/instruments``, seeded by ingest)."""
        ...

    def put_instruments(self, records: Sequence[InstrumentRecord]) -> None:
        """MERGE on symbol: a new record is added, an existing one replaced."""
        ...

    def record_provider_calls(self, calls: Sequence[ProviderCall]) -> None:
        """Append ``provider_calls`` records (one write for a whole ingest run)."""
        ...

    def put_actions(self, actions: Sequence[CorporateAction]) -> int:
        """MERGE ``corporate_actions`` on (symbol, date, kind); nothing given, no write."""
        ...

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]:
        """The symbols' actions dated after ``after`` (all: None), by symbol and date,
        each with the stored close of its date."""
        ...

    def provider_summaries(self, now: datetime) -> list[ProviderSummary]:
        """Per provider what ``market_data.summarize`` makes of its calls."""
        ...


class PriceProvider(Protocol):
    """A market-data source (Stooq, Alpha Vantage, synthetic) for the ingest functions."""

    name: str
    meter: CallMeter  # its requests and too-many-requests answers so far

    def fetch(self, symbol: str, start: date, end: date) -> list[PriceRow]: ...


class UploadedFiles(Protocol):
    """The uploads bucket: price files dropped under ``uploads/`` (Cloud Storage)."""

    def size(self, bucket: str, name: str) -> int | None:
        """The object's size in bytes, or None when it is gone (already processed)."""
        ...

    def read(self, bucket: str, name: str) -> bytes: ...
    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> None: ...
    def move(self, bucket: str, name: str, target: str) -> None: ...
