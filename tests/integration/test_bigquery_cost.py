"""BigQuery's cost is bounded: every query the price store sends sets
``maximum_bytes_billed`` (the setting), and a query over it is ``InputTooLarge`` (413 or
a failed job naming the setting), never a retry or a 500. Against the emulator, with the
real client wrapped to record each query's configuration."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from devtools.emulators import Emulators
from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
from quantrun.adapters.gcp.clients import bigquery_client
from quantrun.domain.errors import InputTooLarge
from quantrun.domain.prices import PriceRow

LIMIT = 123 * 1024**2


class Recording:
    """The real client, with every ``query`` call's job configuration kept."""

    def __init__(self, client: Any) -> None:
        self._client, self.configs = client, []

    def query(self, sql: str, **kwargs: Any) -> Any:
        self.configs.append((sql, kwargs.get("job_config")))
        return self._client.query(sql, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_every_query_sets_the_bytes_it_may_bill(gcp_env: Emulators) -> None:
    client = Recording(bigquery_client(gcp_env.project, emulator=gcp_env.bigquery_url))
    store = BigQueryPriceStore(
        client, dataset=f"cost_{uuid.uuid4().hex[:8]}", timeout=20, max_bytes_billed=LIMIT
    )
    store.ensure_schema()
    rows = [PriceRow(date(2024, 1, d), "ACME", 10.0 + d) for d in range(2, 6)]
    store.upsert(rows, source="test")
    store.instruments()
    store.load_close(["ACME"], date(2024, 1, 1), date(2024, 1, 31))
    store.load_fields(["ACME"], date(2024, 1, 1), date(2024, 1, 31), ("close", "volume"))
    store.latest(["ACME"])
    store.last_ingest_run("ACME")
    assert len(client.configs) >= 6
    for sql, config in client.configs:
        assert config is not None and config.maximum_bytes_billed == LIMIT, sql[:80]


class OverLimit:
    project = "p"

    def query(self, sql: str, **kwargs: Any) -> Any:
        from google.api_core import exceptions

        raise exceptions.BadRequest(
            "Query exceeded limit for bytes billed: 10485760. 20971520 or higher required.",
            errors=[{"reason": "bytesBilledLimitExceeded"}],
        )


def test_a_query_over_the_limit_is_input_too_large_naming_the_setting() -> None:
    store = BigQueryPriceStore(OverLimit(), dataset="d", max_bytes_billed=10 * 1024**2)
    with pytest.raises(InputTooLarge, match="QUANTRUN_BQ_MAX_BYTES_BILLED") as refused:
        store.load_close(["ACME"], date(2024, 1, 1), date(2024, 1, 31))
    assert refused.value.estimate == 20971520 and refused.value.limit == 10 * 1024**2


def test_the_tables_are_made_partitioned_and_clustered(gcp_env: Emulators) -> None:
    """What keeps a query's bytes down: each table partitioned by day and clustered as
    infra/modules/data declares it (tests/infra/test_terraform.py holds the Terraform)."""
    client = bigquery_client(gcp_env.project, emulator=gcp_env.bigquery_url)
    dataset = f"layout_{uuid.uuid4().hex[:8]}"
    BigQueryPriceStore(client, dataset=dataset, timeout=20).ensure_schema()
    made = {}
    for name in ("prices", "ingest_runs", "provider_calls", "corporate_actions", "instruments"):
        table = client.get_table(f"{gcp_env.project}.{dataset}.{name}")
        partition = table.time_partitioning.field if table.time_partitioning else None
        made[name] = (partition, table.clustering_fields)
    assert made == {
        "prices": ("date", ["symbol"]),
        "ingest_runs": ("run_at", None),
        "provider_calls": ("called_at", ["provider"]),
        "corporate_actions": (None, ["symbol"]),
        "instruments": (None, None),
    }
