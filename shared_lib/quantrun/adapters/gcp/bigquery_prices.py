"""``PriceStore`` on BigQuery: the ``prices`` table of CONTRACT section 4.

Queries are parameterised (``UNNEST(@symbols)``, ``BETWEEN @start AND @end``), results
come back as Arrow and go to numpy without per-row Python, and every call has a bounded
retry and timeout (``BigQueryTables``). Writes load the rows into a staging table and
MERGE them on (symbol, date), so a rerun changes nothing. Ingest runs and provider calls
are appended, one load job per write. Corporate actions: ``bigquery_actions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

import numpy as np

from quantrun.adapters.gcp.bigquery_actions import BigQueryActions
from quantrun.adapters.gcp.bigquery_schema import (
    INGEST_RUNS,
    INSTRUMENT_NAMES,
    INSTRUMENTS,
    PRICES,
    PROVIDER_CALLS,
    fields,
)
from quantrun.adapters.gcp.bigquery_tables import DEFAULT_MAX_BYTES_BILLED
from quantrun.adapters.gcp.clients import PING_SECONDS, bounded_retry
from quantrun.adapters.price_matrix import field_columns, pivot_indexed
from quantrun.adapters.provider_calls_sql import summary_from_row, summary_sql
from quantrun.clock import utcnow
from quantrun.domain.market_data import RECENT, STATUS_WINDOW, ProviderCall, ProviderSummary
from quantrun.domain.prices import (
    Instrument,
    InstrumentRecord,
    LatestPrice,
    PriceField,
    PriceMatrix,
    PriceRow,
)


class BigQueryPriceStore(BigQueryActions):
    def __init__(
        self,
        client: Any,
        *,
        dataset: str,
        table: str = "prices",
        timeout: float = 30.0,
        max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED,
    ) -> None:
        super().__init__(
            client, dataset=dataset, timeout=timeout, max_bytes_billed=max_bytes_billed
        )
        self._table = f"{self._dataset}.{table}"
        self._names = f"{self._dataset}.instrument_names"
        self._records = f"{self._dataset}.instruments"
        self._runs = f"{self._dataset}.ingest_runs"
        self._calls = f"{self._dataset}.provider_calls"

    def ensure_schema(self, location: str | None = None) -> None:
        """Create the dataset and the partitioned, clustered tables if they are missing."""
        from google.cloud import bigquery

        retry = bounded_retry(self._timeout)
        dataset = bigquery.Dataset(self._dataset)
        if location:
            dataset.location = location
        self._client.create_dataset(dataset, exists_ok=True, retry=retry, timeout=self._timeout)
        self._create_table(self._table, PRICES, partition="date", cluster=["symbol"])
        self._create_table(self._runs, INGEST_RUNS, partition="run_at")
        self._create_table(self._calls, PROVIDER_CALLS, partition="called_at", cluster=["provider"])
        self._create_table(self._names, INSTRUMENT_NAMES)
        self._create_table(self._records, INSTRUMENTS)
        self.ensure_actions_table()

    # -- PriceStore ----------------------------------------------------------------------
    def ping(self) -> None:
        self._client.get_table(self._table, retry=bounded_retry(PING_SECONDS), timeout=PING_SECONDS)

    def instruments(self) -> list[Instrument]:
        rows = self._query(
            f"""
            SELECT p.symbol, COALESCE(ANY_VALUE(n.name), p.symbol) AS name,
                   MIN(p.date) AS first_date, MAX(p.date) AS last_date, COUNT(*) AS n
            FROM `{self._table}` p LEFT JOIN `{self._names}` n ON n.symbol = p.symbol
            GROUP BY p.symbol ORDER BY p.symbol
            """  # noqa: S608 - table names come from configuration, values are parameters
        )
        return [
            Instrument(r["symbol"], r["name"], r["first_date"], r["last_date"], int(r["n"]))
            for r in rows
        ]

    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        return self.load_fields(symbols, start, end, ("adj_close",))["adj_close"]

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]:
        from google.cloud import bigquery

        result = self._query(
            f"""
            SELECT DATE_DIFF(date, DATE '1970-01-01', DAY) AS day, symbol,
                   {field_columns(fields, "FLOAT64")}
            FROM `{self._table}`
            WHERE symbol IN UNNEST(@symbols) AND date BETWEEN @start AND @end
            """,  # noqa: S608
            [
                bigquery.ArrayQueryParameter("symbols", "STRING", list(symbols)),
                bigquery.ScalarQueryParameter("start", "DATE", start),
                bigquery.ScalarQueryParameter("end", "DATE", end),
            ],
            table="prices",
        )
        table = result.to_arrow(create_bqstorage_client=False)
        order = tuple(symbols)
        if table.num_rows == 0:
            empty = pivot_indexed(np.empty(0, np.int64), np.empty(0, np.intp), np.empty(0), order)
            return {field: empty for field in fields}
        # Map symbols to their column through the Arrow dictionary: no per-row Python.
        encoded = table.column("symbol").combine_chunks().dictionary_encode()
        lookup = {s: i for i, s in enumerate(order)}
        to_col = np.array([lookup[s] for s in encoded.dictionary.to_pylist()], dtype=np.intp)
        cols = to_col[encoded.indices.to_numpy(zero_copy_only=False)]
        days = table.column("day").to_numpy().astype(np.int64)
        return {
            field: pivot_indexed(
                days,
                cols,
                table.column(f"px{i}").to_numpy(zero_copy_only=False).astype(np.float64),
                order,
            )
            for i, field in enumerate(fields)
        }

    def latest(self, symbols: Sequence[str]) -> list[LatestPrice]:
        from google.cloud import bigquery

        result = self._query(
            f"""
            SELECT symbol, date, close, adj_close, source FROM `{self._table}`
            WHERE symbol IN UNNEST(@symbols)
            QUALIFY ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY date DESC) = 1
            """,  # noqa: S608
            [bigquery.ArrayQueryParameter("symbols", "STRING", list(symbols))],
        )
        found = {
            r["symbol"]: LatestPrice(
                r["symbol"], r["date"], float(r["close"]), r["adj_close"], r["source"]
            )
            for r in result
        }
        return [found[s] for s in symbols if s in found]

    def upsert(self, rows: Sequence[PriceRow], *, source: str) -> int:
        if not rows:
            return 0
        now = utcnow().isoformat()
        payload = [
            {
                "date": r.date.isoformat(),
                "symbol": r.symbol,
                "open": r.open,
                "high": r.high,
                "low": r.low,
                "close": r.close,
                "adj_close": r.adj_close,
                "volume": r.volume,
                "source": source,
                "ingested_at": now,
            }
            for r in rows
        ]
        columns = [f.name for f in fields(PRICES)]
        self._merge(payload, fields(PRICES), self._table, keys=("symbol", "date"), columns=columns)
        return len(rows)

    def existing(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[tuple[str, date], PriceRow]:
        from google.cloud import bigquery

        rows = self._query(
            "SELECT date, symbol, close, open, high, low, adj_close, volume "  # noqa: S608
            f"FROM `{self._table}` "
            "WHERE symbol IN UNNEST(@symbols) AND date BETWEEN @start AND @end",
            [
                bigquery.ArrayQueryParameter("symbols", "STRING", list(symbols)),
                bigquery.ScalarQueryParameter("start", "DATE", start),
                bigquery.ScalarQueryParameter("end", "DATE", end),
            ],
        )
        return {(r["symbol"], r["date"]): PriceRow(*r.values()) for r in rows}

    def record_ingest_runs(self, runs: Sequence[dict[str, Any]]) -> None:
        payload = [{**run, "run_at": run["run_at"].isoformat()} for run in runs]
        self._append(payload, self._runs, fields(INGEST_RUNS))

    def record_provider_calls(self, calls: Sequence[ProviderCall]) -> None:
        payload = [{**asdict(c), "called_at": c.called_at.isoformat()} for c in calls]
        self._append(payload, self._calls, fields(PROVIDER_CALLS))

    def provider_summaries(self, now: datetime) -> list[ProviderSummary]:
        from google.cloud import bigquery

        rows = self._query(
            summary_sql(f"`{self._calls}`", "@"),
            [
                bigquery.ScalarQueryParameter("since", "TIMESTAMP", now - STATUS_WINDOW),
                bigquery.ScalarQueryParameter("recent", "TIMESTAMP", now - RECENT),
            ],
        )
        return [summary_from_row(dict(r.items())) for r in rows]

    def ingest_run(self, run_id: str) -> list[dict[str, Any]]:
        from google.cloud import bigquery

        rows = self._query(
            f"SELECT * FROM `{self._runs}` WHERE run_id = @run_id ORDER BY run_at",  # noqa: S608
            [bigquery.ScalarQueryParameter("run_id", "STRING", run_id)],
        )
        out = [dict(r.items()) for r in rows]
        for record in out:
            record["run_at"] = record["run_at"].isoformat()
        return out

    def last_ingest_run(self, symbol: str) -> dict[str, Any] | None:
        from google.cloud import bigquery

        rows = list(
            self._query(
                f"SELECT * FROM `{self._runs}` WHERE symbol = @symbol "  # noqa: S608
                "OR @symbol IN UNNEST(SPLIT(symbol, ',')) ORDER BY run_at DESC LIMIT 1",
                [bigquery.ScalarQueryParameter("symbol", "STRING", symbol)],
            )
        )
        if not rows:
            return None
        out = dict(rows[0].items())
        out["run_at"] = out["run_at"].isoformat()
        return out

    def instrument_records(self) -> list[InstrumentRecord]:
        rows = self._query(
            f"SELECT symbol, name, asset_type, exchange, currency, active "  # noqa: S608
            f"FROM `{self._records}` ORDER BY symbol"
        )
        return [
            InstrumentRecord(r["symbol"], r["name"], r["asset_type"], r["exchange"],
                             r["currency"], bool(r["active"]))
            for r in rows
        ]  # fmt: skip

    def put_instruments(self, records: Sequence[InstrumentRecord]) -> None:
        now = utcnow().isoformat()
        payload = [{**asdict(r), "updated_at": now} for r in records]
        columns = ["symbol", "name", "asset_type", "exchange", "currency", "active", "updated_at"]
        self._merge(payload, fields(INSTRUMENTS), self._records, keys=("symbol",),
                    columns=columns)  # fmt: skip

    def set_names(self, names: dict[str, str]) -> None:
        payload = [{"symbol": s, "name": n} for s, n in names.items()]
        self._merge(
            payload,
            fields(INSTRUMENT_NAMES),
            self._names,
            keys=("symbol",),
            columns=["symbol", "name"],
        )
