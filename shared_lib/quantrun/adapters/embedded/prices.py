"""``PriceStore`` on a DuckDB file with BigQuery's schema and query semantics (adjusted
close, inclusive dates, MERGE on (symbol, date)); corporate actions in ``actions.py``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from quantrun.adapters.embedded.actions import ACTIONS_SCHEMA, DuckDBActions
from quantrun.adapters.embedded.sample import SAMPLE_DIR, SAMPLE_FILES, SAMPLE_NAMES
from quantrun.adapters.price_matrix import field_columns, pivot_indexed
from quantrun.adapters.provider_calls_sql import summary_from_row, summary_sql
from quantrun.clock import utcnow
from quantrun.domain.errors import TransientError
from quantrun.domain.market_data import RECENT, STATUS_WINDOW, ProviderCall, ProviderSummary
from quantrun.domain.prices import (
    Instrument,
    InstrumentRecord,
    LatestPrice,
    PriceField,
    PriceMatrix,
    PriceRow,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prices (
    date DATE NOT NULL,
    symbol VARCHAR NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE,
    close DOUBLE NOT NULL,
    adj_close DOUBLE,
    volume BIGINT,
    source VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    PRIMARY KEY (symbol, date)
);
CREATE TABLE IF NOT EXISTS instrument_names (symbol VARCHAR PRIMARY KEY, name VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS instruments (
    symbol VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, asset_type VARCHAR NOT NULL,
    exchange VARCHAR, currency VARCHAR NOT NULL, active BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id VARCHAR, symbol VARCHAR, source VARCHAR, status VARCHAR, detail VARCHAR,
    run_at TIMESTAMP, fetched BIGINT, inserted BIGINT, updated BIGINT, unchanged BIGINT,
    rejected BIGINT
);
CREATE TABLE IF NOT EXISTS provider_calls (
    run_id VARCHAR NOT NULL, provider VARCHAR NOT NULL, symbol VARCHAR,
    outcome VARCHAR NOT NULL, detail VARCHAR, called_at TIMESTAMP NOT NULL, requests BIGINT,
    throttled BIGINT, retry_after_seconds DOUBLE
);
"""


class DuckDBPriceStore(DuckDBActions):
    def __init__(self, path: Path | str) -> None:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:  # another process holds the file (single writer)
            raise TransientError(f"cannot open the price store {path}: {exc}") from None
        self._con.execute(_SCHEMA + ACTIONS_SCHEMA)
        self._write_lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # One cursor per call: DuckDB connections are not shared across threads.
        return self._con.cursor()

    def ping(self) -> None:
        self._cursor().execute("SELECT 1").fetchall()

    def is_empty(self) -> bool:
        row = (
            self._cursor().execute("SELECT count(*) FROM (SELECT 1 FROM prices LIMIT 1)").fetchone()
        )
        return row is None or row[0] == 0

    def instruments(self) -> list[Instrument]:
        rows = (
            self._cursor()
            .execute(
                """
            SELECT p.symbol, coalesce(n.name, p.symbol), min(p.date), max(p.date), count(*)
            FROM prices p LEFT JOIN instrument_names n USING (symbol)
            GROUP BY p.symbol, n.name ORDER BY p.symbol
            """
            )
            .fetchall()
        )
        return [Instrument(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def instrument_records(self) -> list[InstrumentRecord]:
        rows = (
            self._cursor()
            .execute(
                "SELECT symbol, name, asset_type, exchange, currency, active FROM instruments "
                "ORDER BY symbol"
            )
            .fetchall()
        )
        return [InstrumentRecord(*r) for r in rows]

    def put_instruments(self, records: Sequence[InstrumentRecord]) -> None:
        now = _naive_utc(utcnow())
        with self._write_lock:
            cur = self._cursor()
            cur.executemany(
                "INSERT OR REPLACE INTO instruments VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.symbol, r.name, r.asset_type, r.exchange, r.currency, r.active, now)
                 for r in records],
            )  # fmt: skip

    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        return self.load_fields(symbols, start, end, ("adj_close",))["adj_close"]

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]:
        # Symbols travel as their index in the request and dates as day numbers, so the
        # pivot works on integers only (no strings on the hot path).
        cols = (
            self._cursor()
            .execute(
                f"""
                SELECT CAST(p.date - DATE '1970-01-01' AS INTEGER) AS day, w.idx - 1 AS col,
                       {field_columns(fields, "DOUBLE")}
                FROM prices p
                JOIN (SELECT unnest($symbols) AS symbol,
                             generate_subscripts($symbols, 1) AS idx) w USING (symbol)
                WHERE p.date BETWEEN $start AND $end
                """,  # noqa: S608
                {"symbols": list(symbols), "start": start, "end": end},
            )
            .fetchnumpy()
        )
        days = np.asarray(cols["day"], dtype=np.int64)
        at = np.asarray(cols["col"], dtype=np.intp)
        found = {}
        for i, field in enumerate(fields):
            values = cols[f"px{i}"]
            filled = values.filled(np.nan) if isinstance(values, np.ma.MaskedArray) else values
            found[field] = pivot_indexed(
                days, at, np.asarray(filled, dtype=np.float64), tuple(symbols)
            )
        return found

    def latest(self, symbols: Sequence[str]) -> list[LatestPrice]:
        rows = (
            self._cursor()
            .execute(
                """
                SELECT symbol, date, close, adj_close, source FROM prices
                WHERE symbol IN (SELECT unnest($symbols))
                QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY date DESC) = 1
                """,
                {"symbols": list(symbols)},
            )
            .fetchall()
        )
        found = {r[0]: LatestPrice(r[0], r[1], float(r[2]), r[3], r[4]) for r in rows}
        return [found[s] for s in symbols if s in found]

    def upsert(self, rows: Sequence[PriceRow], *, source: str) -> int:
        if not rows:
            return 0
        now = utcnow().replace(tzinfo=None)
        data = [
            (r.date, r.symbol, r.open, r.high, r.low, r.close, r.adj_close, r.volume, source, now)
            for r in rows
        ]
        with self._write_lock:
            cur = self._cursor()
            cur.execute("BEGIN")
            try:
                cur.executemany(
                    """
                    INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (symbol, date) DO UPDATE SET
                        open = excluded.open, high = excluded.high, low = excluded.low,
                        close = excluded.close, adj_close = excluded.adj_close,
                        volume = excluded.volume, source = excluded.source,
                        ingested_at = excluded.ingested_at
                    """,
                    data,
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
        return len(rows)

    def existing(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[tuple[str, date], PriceRow]:
        rows = (
            self._cursor()
            .execute(
                "SELECT date, symbol, close, open, high, low, adj_close, volume FROM prices "
                "WHERE symbol IN (SELECT unnest($s)) AND date BETWEEN $a AND $b",
                {"s": list(symbols), "a": start, "b": end},
            )
            .fetchall()
        )
        return {(r[1], r[0]): PriceRow(*r) for r in rows}

    def record_ingest_runs(self, runs: Sequence[dict[str, Any]]) -> None:
        rows = [{**run, "run_at": _naive_utc(run["run_at"])} for run in runs]
        with self._write_lock:
            self._cursor().executemany(
                "INSERT INTO ingest_runs VALUES ($run_id, $symbol, $source, $status, $detail, "
                "$run_at, $fetched, $inserted, $updated, $unchanged, $rejected)",
                rows,
            )

    def last_ingest_run(self, symbol: str) -> dict[str, Any] | None:
        cur = self._cursor().execute(
            "SELECT * FROM ingest_runs WHERE list_contains(string_split(symbol, ','), ?) "
            "ORDER BY run_at DESC LIMIT 1",
            [symbol],
        )
        row = cur.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cur.description]
        out = dict(zip(names, row, strict=True))
        out["run_at"] = out["run_at"].replace(tzinfo=UTC).isoformat()
        return out

    def ingest_run(self, run_id: str) -> list[dict[str, Any]]:
        cur = self._cursor().execute(
            "SELECT * FROM ingest_runs WHERE run_id = ? ORDER BY run_at", [run_id]
        )
        names = [d[0] for d in cur.description]
        out = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for record in out:
            record["run_at"] = record["run_at"].replace(tzinfo=UTC).isoformat()
        return out

    def record_provider_calls(self, calls: Sequence[ProviderCall]) -> None:
        rows = [{**asdict(c), "called_at": _naive_utc(c.called_at)} for c in calls]
        with self._write_lock:
            self._cursor().executemany(
                "INSERT INTO provider_calls VALUES ($run_id, $provider, $symbol, $outcome, "
                "$detail, $called_at, $requests, $throttled, $retry_after_seconds)",
                rows,
            )

    def provider_summaries(self, now: datetime) -> list[ProviderSummary]:
        cur = self._cursor().execute(
            summary_sql("provider_calls", "$"),
            {"since": _naive_utc(now - STATUS_WINDOW), "recent": _naive_utc(now - RECENT)},
        )
        names = [d[0] for d in cur.description]
        return [summary_from_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def load_sample_data(self) -> int:
        """Load the bundled wide CSVs (close-only, adjusted) in one set-based statement."""
        folder = SAMPLE_DIR
        now = utcnow().replace(tzinfo=None)
        total = 0
        with self._write_lock:
            cur = self._cursor()
            for name in SAMPLE_FILES:
                path = folder / name
                cur.execute(
                    """
                    INSERT OR REPLACE INTO prices
                    SELECT CAST(date AS DATE), symbol, NULL, NULL, NULL, px, px, NULL,
                           'sample', $now
                    FROM (UNPIVOT (SELECT * FROM read_csv($path, header = true,
                                                            all_varchar = true))
                          ON COLUMNS(* EXCLUDE (date)) INTO NAME symbol VALUE raw)
                    CROSS JOIN LATERAL (SELECT TRY_CAST(raw AS DOUBLE) AS px)
                    WHERE px IS NOT NULL
                    """,
                    {"now": now, "path": str(path)},
                )
            cur.executemany(
                "INSERT OR REPLACE INTO instrument_names VALUES (?, ?)", list(SAMPLE_NAMES.items())
            )
            row = cur.execute("SELECT count(*) FROM prices WHERE source = 'sample'").fetchone()
            total = int(row[0]) if row else 0
        return total


def _naive_utc(at: datetime) -> datetime:
    """DuckDB's TIMESTAMP is naive: UTC by convention here."""
    return at.astimezone(UTC).replace(tzinfo=None)
