"""The BigQuery tables of CONTRACT section 4 (``prices``, ``ingest_runs``), the
instruments' names, records and corporate actions (CONTRACT 6.2), and the ``provider_calls`` the
market-data status reads, as the client library's schema fields (built on call: the
library is imported lazily).
``infra/modules/data`` declares the same (a test holds them together).

Each table is declared as ``name TYPE`` columns; ``!`` marks a REQUIRED one."""

from __future__ import annotations

from typing import Any

PRICES = (
    "date DATE!, symbol STRING!, open FLOAT64, high FLOAT64, low FLOAT64, close FLOAT64!, "
    "adj_close FLOAT64, volume INT64, source STRING, ingested_at TIMESTAMP"
)
INSTRUMENT_NAMES = "symbol STRING!, name STRING!"
INSTRUMENTS = (
    "symbol STRING!, name STRING!, asset_type STRING!, exchange STRING, currency STRING!, "
    "active BOOL!, updated_at TIMESTAMP!"
)
INGEST_RUNS = (
    "run_id STRING!, symbol STRING, source STRING, status STRING, detail STRING, "
    "run_at TIMESTAMP!, fetched INT64, inserted INT64, updated INT64, unchanged INT64, "
    "rejected INT64"
)
PROVIDER_CALLS = (
    "run_id STRING!, provider STRING!, symbol STRING, outcome STRING!, detail STRING, "
    "called_at TIMESTAMP!, requests INT64, throttled INT64, retry_after_seconds FLOAT64"
)
CORPORATE_ACTIONS = (
    "symbol STRING!, date DATE!, kind STRING!, value FLOAT64!, source STRING!, "
    "ingested_at TIMESTAMP!"
)


def fields(columns: str) -> list[Any]:
    """``"name TYPE!, ..."`` as ``bigquery.SchemaField``s, in order."""
    from google.cloud import bigquery

    out = []
    for column in columns.split(","):
        name, kind = column.split()
        required = kind.endswith("!")
        mode = "REQUIRED" if required else "NULLABLE"
        out.append(bigquery.SchemaField(name, kind.rstrip("!"), mode=mode))
    return out
