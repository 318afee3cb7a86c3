"""The ``corporate_actions`` table (CONTRACT 6.2) on BigQuery: MERGE on (symbol, date,
kind) through a staging table, read with each action's ex-date close from ``prices``.
``infra/modules/data`` declares the same table (a test holds them together)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from quantrun.adapters.gcp.bigquery_schema import CORPORATE_ACTIONS, fields
from quantrun.adapters.gcp.bigquery_tables import BigQueryTables
from quantrun.clock import utcnow
from quantrun.domain.actions import CorporateAction, PricedAction

TABLE = "corporate_actions"


class BigQueryActions(BigQueryTables):
    """What ``BigQueryPriceStore`` does with corporate actions."""

    _table: str  # the prices table

    def ensure_actions_table(self) -> None:
        self._create_table(f"{self._dataset}.{TABLE}", CORPORATE_ACTIONS, cluster=["symbol"])

    def put_actions(self, actions: Sequence[CorporateAction]) -> int:
        if not actions:
            return 0
        now = utcnow().isoformat()
        payload = [
            {"symbol": a.symbol, "date": a.date.isoformat(), "kind": a.kind, "value": a.value,
             "source": a.source, "ingested_at": now}
            for a in actions
        ]  # fmt: skip
        columns = [f.name for f in fields(CORPORATE_ACTIONS)]
        self._merge(payload, fields(CORPORATE_ACTIONS), f"{self._dataset}.{TABLE}",
                    keys=("symbol", "date", "kind"), columns=columns)  # fmt: skip
        return len(actions)

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]:
        from google.cloud import bigquery

        rows = self._query(
            f"""
            SELECT a.symbol, a.date, a.kind, a.value, a.source, p.close
            FROM `{self._dataset}.{TABLE}` a
            LEFT JOIN (SELECT symbol, date, close FROM `{self._table}`
                       WHERE symbol IN UNNEST(@symbols) AND date > @after) p
              ON p.symbol = a.symbol AND p.date = a.date
            WHERE a.symbol IN UNNEST(@symbols) AND a.date > @after
            ORDER BY a.symbol, a.date, a.kind
            """,  # noqa: S608 - table names come from configuration, values are parameters
            [
                bigquery.ArrayQueryParameter("symbols", "STRING", list(symbols)),
                bigquery.ScalarQueryParameter("after", "DATE", after or date.min),
            ],
            table=TABLE,
        )
        return [
            PricedAction(
                CorporateAction(r["symbol"], r["date"], r["kind"], float(r["value"]), r["source"]),
                None if r["close"] is None else float(r["close"]),
            )
            for r in rows
        ]
