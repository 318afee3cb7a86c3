"""The ``provider_calls`` table's summary query, the same SQL in DuckDB and BigQuery
(shared by price stores); ``quantrun.domain.market_data.summarize`` is its reference."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from quantrun.domain.market_data import ProviderSummary

_FAILED = "outcome IN ('error', 'rate_limited')"
_LIMITED = "(COALESCE(throttled, 0) > 0 OR outcome = 'rate_limited')"


def summary_sql(table: str, param: str) -> str:
    """``table`` quoted as its engine wants; ``param`` the engine's parameter sigil
    (``$`` or ``@``) for ``since`` (the status window) and ``recent`` (the counts')."""
    return f"""
    WITH ranked AS (
        SELECT provider, outcome, detail, called_at, retry_after_seconds,
               COALESCE(throttled, 0) AS throttled,
               ROW_NUMBER() OVER (PARTITION BY provider ORDER BY called_at DESC) AS nth_call,
               ROW_NUMBER() OVER (PARTITION BY provider, {_FAILED} ORDER BY called_at DESC)
                   AS nth_kind,
               ROW_NUMBER() OVER (PARTITION BY provider, {_LIMITED} ORDER BY called_at DESC)
                   AS nth_limited
        FROM {table} WHERE called_at >= {param}since
    )
    SELECT provider,
        MAX(CASE WHEN nth_call = 1 THEN called_at END) AS last_call_at,
        MAX(CASE WHEN nth_call = 1 THEN outcome END) AS last_outcome,
        MAX(CASE WHEN outcome = 'ok' THEN called_at END) AS last_success_at,
        MAX(CASE WHEN {_FAILED} THEN called_at END) AS last_error_at,
        MAX(CASE WHEN {_FAILED} AND nth_kind = 1 THEN detail END) AS last_error,
        MAX(CASE WHEN {_LIMITED} THEN called_at END) AS last_throttled_at,
        MAX(CASE WHEN {_LIMITED} AND nth_limited = 1 THEN retry_after_seconds END)
            AS retry_after_seconds,
        SUM(CASE WHEN called_at >= {param}recent THEN 1 ELSE 0 END) AS calls,
        SUM(CASE WHEN called_at >= {param}recent AND {_FAILED} THEN 1 ELSE 0 END) AS errors,
        SUM(CASE WHEN called_at >= {param}recent THEN throttled ELSE 0 END) AS throttled
    FROM ranked GROUP BY provider ORDER BY provider
    """  # noqa: S608 - the table name comes from configuration, values are parameters


def summary_from_row(row: Mapping[str, Any]) -> ProviderSummary:
    def at(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    last_call = at(row["last_call_at"])
    assert last_call is not None  # every group has a call
    retry_after = row["retry_after_seconds"]
    return ProviderSummary(
        provider=row["provider"],
        last_call_at=last_call,
        last_outcome=row["last_outcome"],
        last_success_at=at(row["last_success_at"]),
        last_error_at=at(row["last_error_at"]),
        last_error=row["last_error"],
        last_throttled_at=at(row["last_throttled_at"]),
        retry_after_seconds=None if retry_after is None else float(retry_after),
        calls=int(row["calls"] or 0),
        errors=int(row["errors"] or 0),
        throttled=int(row["throttled"] or 0),
    )
