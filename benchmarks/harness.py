"""Timing helpers shared by the bench modules: every candidate is interleaved with its
reference, and a row reports the median of paired ratios over REPEATS runs (this 2-core
machine is shared and noisy)."""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))


@dataclass
class Row:
    workload: str
    unit: str
    candidate: float  # units per second
    reference_name: str
    reference: float
    ratios: list[float]
    note: str = ""

    @property
    def seconds(self) -> float:
        """Wall time of one candidate unit (for rows measured in runs/s)."""
        return 1.0 / self.candidate


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(
    workload: str,
    unit: str,
    cand: Callable[[], object],
    cand_units: float,
    ref_name: str,
    ref: Callable[[], object],
    ref_units: float,
    note: str = "",
) -> Row:
    cand(), ref()  # warm up (imports, JIT, caches, page faults)
    c_rates, r_rates, ratios = [], [], []
    for _ in range(REPEATS):
        c = cand_units / timed(cand)
        r = ref_units / timed(ref)
        c_rates.append(c)
        r_rates.append(r)
        ratios.append(c / r)
    return Row(
        workload,
        unit,
        statistics.median(c_rates),
        ref_name,
        statistics.median(r_rates),
        ratios,
        note,
    )


def machine() -> str:
    parts = [f"cores={os.cpu_count()}", f"load1={os.getloadavg()[0]:.2f}"]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            parts.append(
                f"{pool.get('internal_api')}:{pool.get('architecture')}"
                f" threads={pool.get('num_threads')}"
            )
    except ImportError:
        parts.append("threadpoolctl not installed")
    return ", ".join(parts)


def _rate(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "runs/s" and value < 1000:  # a single solve or run: wall time reads better
        return f"{1e3 / value:,.3g} ms/run"
    return f"{value:,.4g} {unit}"


def _ratio(ratios: list[float]) -> str:
    if any(math.isnan(x) for x in ratios):
        return "n/a (the peer failed)"
    return f"{statistics.median(ratios):,.3g}x ({min(ratios):,.3g}-{max(ratios):,.3g})"


def print_table(rows: list[Row]) -> None:
    header = ("workload", "QuantRun", "reference", "reference rate", "ratio (median, min-max)")
    table = [header] + [
        (
            r.workload,
            _rate(r.candidate, r.unit),
            r.reference_name,
            _rate(r.reference, r.unit),
            _ratio(r.ratios),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    notes = [(r.workload, r.note) for r in rows if r.note]
    if notes:
        print()
        for workload, note in notes:
            print(f"- {workload}: {note}")
