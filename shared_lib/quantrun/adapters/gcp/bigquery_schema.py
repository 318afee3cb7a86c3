"""The BigQuery tables of CONTRACT section 4 (``prices``, ``ingest_runs``), the
instruments' names, records and corporate actions (CONTRACT 6.2), and the ``provider_calls`` the
market-data status reads, as the client library's schema fields (built on call: the
library is imported lazily).
``infra/modules/data`` declares the same (a test holds them together)."""

from __future__ import annotations

from typing import Any


def prices_schema() -> list[Any]:
    from google.cloud import bigquery

    f = bigquery.SchemaField
    return [
        f("date", "DATE", mode="REQUIRED"),
        f("symbol", "STRING", mode="REQUIRED"),
        f("open", "FLOAT64"),
        f("high", "FLOAT64"),
        f("low", "FLOAT64"),
        f("close", "FLOAT64", mode="REQUIRED"),
        f("adj_close", "FLOAT64"),
        f("volume", "INT64"),
        f("source", "STRING"),
        f("ingested_at", "TIMESTAMP"),
    ]


def instrument_names_schema() -> list[Any]:
    from google.cloud import bigquery

    f = bigquery.SchemaField
    return [f("symbol", "STRING", mode="REQUIRED"), f("name", "STRING", mode="REQUIRED")]


def instruments_schema() -> list[Any]:
    from google.cloud import bigquery

    f = bigquery.SchemaField
    return [
        f("symbol", "STRING", mode="REQUIRED"),
        f("name", "STRING", mode="REQUIRED"),
        f("asset_type", "STRING", mode="REQUIRED"),
        f("exchange", "STRING"),
        f("currency", "STRING", mode="REQUIRED"),
        f("active", "BOOL", mode="REQUIRED"),
        f("updated_at", "TIMESTAMP", mode="REQUIRED"),
    ]


def ingest_runs_schema() -> list[Any]:
    from google.cloud import bigquery

    f = bigquery.SchemaField
    return [
        f("run_id", "STRING", mode="REQUIRED"),
        f("symbol", "STRING"),
        f("source", "STRING"),
        f("status", "STRING"),
        f("detail", "STRING"),
        f("run_at", "TIMESTAMP", mode="REQUIRED"),
        f("fetched", "INT64"),
        f("inserted", "INT64"),
        f("updated", "INT64"),
        f("unchanged", "INT64"),
        f("rejected", "INT64"),
    ]


def provider_calls_schema() -> list[Any]:
    from google.cloud import bigquery

    f = bigquery.SchemaField
    return [
        f("run_id", "STRING", mode="REQUIRED"),
        f("provider", "STRING", mode="REQUIRED"),
        f("symbol", "STRING"),
        f("outcome", "STRING", mode="REQUIRED"),
        f("detail", "STRING"),
        f("called_at", "TIMESTAMP", mode="REQUIRED"),
        f("requests", "INT64"),
        f("throttled", "INT64"),
        f("retry_after_seconds", "FLOAT64"),
    ]


def corporate_actions_schema() -> list[Any]:
    from google.cloud import bigquery

    f = bigquery.SchemaField
    return [
        f("symbol", "STRING", mode="REQUIRED"),
        f("date", "DATE", mode="REQUIRED"),
        f("kind", "STRING", mode="REQUIRED"),
        f("value", "FLOAT64", mode="REQUIRED"),
        f("source", "STRING", mode="REQUIRED"),
        f("ingested_at", "TIMESTAMP", mode="REQUIRED"),
    ]
