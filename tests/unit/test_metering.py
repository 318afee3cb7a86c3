"""The warehouse's cost of a job's loads (``quantrun.metering``): what the BigQuery
adapter reports inside a recorded load reaches the manifest, per query and summed; a
report outside a meter goes nowhere; meters nest and each keeps its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from quantrun.app.provenance import RecordedLoads, Timings, manifest
from quantrun.domain.prices import PriceMatrix
from quantrun.metering import metered, report_query


def _load(symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
    # what the BigQuery store does on a load with actions: two queries
    report_query("corporate_actions", 10_485_760, 10_485_760, False)
    report_query("prices", 52_428_800, 52_428_800, False)
    days = np.array(["2024-01-02"], dtype="datetime64[D]")
    return PriceMatrix(days, tuple(symbols), np.ones((1, len(symbols))))


def test_a_jobs_queries_and_their_bytes_reach_the_manifest() -> None:
    loads = RecordedLoads(_load)
    loads(["AAA"], date(2024, 1, 1), date(2024, 1, 31))
    loads(["AAA"], date(2024, 1, 1), date(2024, 1, 31))  # the same data: one fingerprint
    document: dict[str, Any] = manifest(
        job_id="j", model="m", params={}, result={}, loads=loads,
        timings=Timings(0.0, 0.0), code_version="c", seeding=None, shards=None,
    )  # fmt: skip
    assert len(document["data"]) == 1
    assert [q["table"] for q in document["bigquery"]["queries"]] == [
        "corporate_actions", "prices", "corporate_actions", "prices"
    ]  # fmt: skip
    assert document["bigquery"]["total_bytes_processed"] == 2 * (10_485_760 + 52_428_800)


def test_reports_outside_a_meter_go_nowhere_and_meters_nest() -> None:
    report_query("prices", 1, 1, None)  # no meter open: nothing to keep, no error
    with metered() as outer:
        report_query("prices", 5, 10, False)
        with metered() as inner:
            report_query("corporate_actions", 7, 10, True)
        report_query("prices", 3, 10, False)
    assert [q["total_bytes_processed"] for q in outer] == [5, 3]
    assert inner == [{"table": "corporate_actions", "total_bytes_processed": 7,
                      "total_bytes_billed": 10, "cache_hit": True}]  # fmt: skip
