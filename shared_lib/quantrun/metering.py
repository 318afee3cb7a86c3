"""What the queries of a piece of work cost, as the warehouse reports it.

A job's price loads run inside ``metered()``; the BigQuery adapter reports each query's
``total_bytes_processed`` and ``total_bytes_billed`` (and whether the cache answered)
to the innermost open meter of its context, and ``manifest.json`` lists them. Outside a
meter a report goes nowhere. The DuckDB store reports nothing: it bills nothing.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_meter: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "quantrun_query_meter", default=None
)


@contextmanager
def metered() -> Iterator[list[dict[str, Any]]]:
    """The queries reported while the block runs (in this context), in order."""
    queries: list[dict[str, Any]] = []
    token = _meter.set(queries)
    try:
        yield queries
    finally:
        _meter.reset(token)


def report_query(
    table: str, bytes_processed: int | None, bytes_billed: int | None, cache_hit: bool | None
) -> None:
    queries = _meter.get()
    if queries is not None:
        queries.append(
            {
                "table": table,
                "total_bytes_processed": bytes_processed,
                "total_bytes_billed": bytes_billed,
                "cache_hit": cache_hit,
            }
        )
