"""The ``corporate_actions`` table of the embedded price store (DuckDB), with the
BigQuery table's schema and semantics: MERGE on (symbol, date, kind), read with each
action's ex-date close from ``prices``."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

import duckdb

from quantrun.clock import utcnow
from quantrun.domain.actions import CorporateAction, PricedAction

ACTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS corporate_actions (
    symbol VARCHAR NOT NULL, date DATE NOT NULL, kind VARCHAR NOT NULL,
    value DOUBLE NOT NULL, source VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
    PRIMARY KEY (symbol, date, kind)
);
"""


class DuckDBActions:
    """What ``DuckDBPriceStore`` does with corporate actions (it holds the connection)."""

    _write_lock: threading.Lock

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        raise NotImplementedError

    def put_actions(self, actions: Sequence[CorporateAction]) -> int:
        if not actions:
            return 0
        now = utcnow().replace(tzinfo=None)
        with self._write_lock:
            self._cursor().executemany(
                "INSERT OR REPLACE INTO corporate_actions VALUES (?, ?, ?, ?, ?, ?)",
                [(a.symbol, a.date, a.kind, a.value, a.source, now) for a in actions],
            )
        return len(actions)

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]:
        rows = (
            self._cursor()
            .execute(
                """
                SELECT a.symbol, a.date, a.kind, a.value, a.source, p.close
                FROM corporate_actions a
                LEFT JOIN prices p ON p.symbol = a.symbol AND p.date = a.date
                WHERE a.symbol IN (SELECT unnest($symbols)) AND a.date > $after
                ORDER BY a.symbol, a.date, a.kind
                """,
                {"symbols": list(symbols), "after": after or date.min},
            )
            .fetchall()
        )
        return [PricedAction(CorporateAction(*r[:5]), r[5]) for r in rows]
