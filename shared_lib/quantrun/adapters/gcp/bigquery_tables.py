"""Plumbing of the BigQuery adapters: a parameterised query with a bounded retry and
timeout (failures worth retrying become ``TransientError``) and a cap on the bytes it may
bill (``maximum_bytes_billed``: a query over it fails before it costs anything, and is
``InputTooLarge``), an append by load job, and a MERGE through a staging table."""

from __future__ import annotations

import concurrent.futures
import re
import uuid
from collections.abc import Sequence
from typing import Any

from quantrun.adapters.gcp.bigquery_schema import fields
from quantrun.adapters.gcp.clients import bounded_retry
from quantrun.domain.errors import InputTooLarge, TransientError
from quantrun.metering import report_query

DEFAULT_MAX_BYTES_BILLED = 10 * 1024**3
_BILLED = re.compile(r"(\d+) or higher required")


class BigQueryTables:
    def __init__(
        self,
        client: Any,
        *,
        dataset: str,
        timeout: float = 30.0,
        max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED,
    ) -> None:
        self._client = client
        self._dataset = f"{client.project}.{dataset}"
        self._timeout = timeout
        self._max_bytes_billed = max_bytes_billed

    def _create_table(
        self, table_id: str, columns: str, *, partition: str = "", cluster: Sequence[str] = ()
    ) -> None:
        """The table (``columns`` as ``bigquery_schema`` declares them), partitioned by
        day of ``partition`` and clustered by ``cluster``, unless it exists."""
        from google.cloud import bigquery

        table = bigquery.Table(table_id, schema=fields(columns))
        if partition:
            table.time_partitioning = bigquery.TimePartitioning(field=partition)
        if cluster:
            table.clustering_fields = list(cluster)
        self._client.create_table(
            table, exists_ok=True, retry=bounded_retry(self._timeout), timeout=self._timeout
        )

    def query_config(self, params: Sequence[Any] = ()) -> Any:
        """Every query's configuration: its parameters and the bytes it may bill."""
        from google.cloud import bigquery

        return bigquery.QueryJobConfig(
            query_parameters=list(params), maximum_bytes_billed=self._max_bytes_billed
        )

    def _query(self, sql: str, params: Sequence[Any] = (), *, table: str = "") -> Any:
        """The query's rows; what it cost goes to the open meter (``metering``), named by
        ``table`` (what it reads)."""
        from google.api_core import exceptions

        config = self.query_config(params)
        retry = bounded_retry(self._timeout)
        try:
            # job_retry=None: the client's default re-inserts failed query jobs for up to
            # 10 minutes; our bounded request retry is the only retry here.
            job = self._client.query(
                sql, job_config=config, retry=retry, timeout=self._timeout, job_retry=None
            )
            rows = job.result(timeout=self._timeout, retry=retry, job_retry=None)
            report_query(table, job.total_bytes_processed, job.total_bytes_billed, job.cache_hit)
            return rows
        except exceptions.BadRequest as exc:
            if "bytesBilledLimitExceeded" not in str(exc) and "bytes billed" not in str(exc):
                raise
            needed = _BILLED.search(str(exc))
            raise InputTooLarge(
                f"the query would bill more than {self._max_bytes_billed} bytes "
                "(QUANTRUN_BQ_MAX_BYTES_BILLED); ask for fewer symbols or a shorter window",
                estimate=float(needed.group(1)) if needed else float("inf"),
                limit=float(self._max_bytes_billed),
            ) from exc
        except (
            exceptions.ServerError,
            exceptions.TooManyRequests,
            exceptions.RetryError,
            OSError,  # requests' connection errors are IOErrors
            TimeoutError,
            concurrent.futures.TimeoutError,
        ) as exc:
            raise TransientError(f"BigQuery is unavailable: {exc}") from exc

    def _append(self, payload: list[dict[str, Any]], table: str, schema: list[Any]) -> None:
        """One load job appending the rows (load jobs are free; streaming is not)."""
        from google.cloud import bigquery

        job = self._client.load_table_from_json(
            payload,
            table,
            job_config=bigquery.LoadJobConfig(schema=schema),
            timeout=self._timeout,
        )
        job.result(timeout=self._timeout, retry=bounded_retry(self._timeout))

    def _merge(
        self,
        payload: list[dict[str, Any]],
        schema: list[Any],
        target: str,
        *,
        keys: tuple[str, ...],
        columns: list[str],
    ) -> None:
        """Load into a staging table, MERGE on ``keys``, drop the staging table."""
        from google.cloud import bigquery

        staging = f"{self._dataset}._staging_{uuid.uuid4().hex[:12]}"
        retry = bounded_retry(self._timeout)
        job = self._client.load_table_from_json(
            payload,
            staging,
            job_config=bigquery.LoadJobConfig(schema=schema),
            timeout=self._timeout,
        )
        on = " AND ".join(f"T.{k} = S.{k}" for k in keys)
        updates = ", ".join(f"{c} = S.{c}" for c in columns if c not in keys)
        names = ", ".join(columns)
        values = ", ".join(f"S.{c}" for c in columns)
        try:
            job.result(timeout=self._timeout, retry=retry)
            self._query(
                f"MERGE `{target}` T USING `{staging}` S ON {on} "  # noqa: S608
                f"WHEN MATCHED THEN UPDATE SET {updates} "
                f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
            )
        finally:
            self._client.delete_table(
                staging, not_found_ok=True, retry=retry, timeout=self._timeout
            )
