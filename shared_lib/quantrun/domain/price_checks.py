"""Validation of price rows before they reach the ``prices`` table.

Rejected (with the reason kept per row): non-positive or non-finite prices (the parser
already refuses those), high below max(open, close) or low above min(open, close) where
present, duplicate (symbol, date) rows. Reported but kept: weekdays missing between a
symbol's first and last date (the check uses a weekday calendar, so exchange holidays
show up too) and suspicious jumps, a daily move beyond 35% whose size is near a common
split ratio (2:1, 3:1, 3:2, 4:1, 5:1, 10:1 or their inverses), likely an unadjusted split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from quantrun.domain.prices import PriceRow

SPLIT_RATIOS = (2.0, 3.0, 1.5, 4.0, 5.0, 10.0)
JUMP = 0.35


@dataclass
class ValidationReport:
    accepted: list[PriceRow] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    missing_weekdays: dict[str, int] = field(default_factory=dict)
    suspicious_jumps: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "rejections": self.rejected[:100],
            "missing_weekdays": self.missing_weekdays,
            "suspicious_jumps": self.suspicious_jumps[:100],
        }


def _row_problem(r: PriceRow) -> str | None:
    values = [v for v in (r.open, r.high, r.low, r.close, r.adj_close) if v is not None]
    if any(not np.isfinite(v) or v <= 0 for v in values):
        return "prices must be positive finite numbers"
    known = [v for v in (r.open, r.close) if v is not None]
    if r.high is not None and r.high < max(known) - 1e-12:
        return f"high {r.high} is below max(open, close) {max(known)}"
    if r.low is not None and r.low > min(known) + 1e-12:
        return f"low {r.low} is above min(open, close) {min(known)}"
    if r.high is not None and r.low is not None and r.low > r.high:
        return f"low {r.low} is above high {r.high}"
    if r.volume is not None and r.volume < 0:
        return "volume must not be negative"
    return None


def validate(rows: Sequence[PriceRow]) -> ValidationReport:
    report = ValidationReport()
    seen: dict[tuple[str, date], int] = defaultdict(int)
    for r in rows:
        seen[(r.symbol, r.date)] += 1
    by_symbol: dict[str, list[PriceRow]] = defaultdict(list)
    for r in rows:
        problem = _row_problem(r)
        if problem is None and seen[(r.symbol, r.date)] > 1:
            problem = f"duplicate rows for {r.symbol} on {r.date}"
        if problem:
            report.rejected.append(
                {"symbol": r.symbol, "date": r.date.isoformat(), "reason": problem}
            )
        else:
            report.accepted.append(r)
            by_symbol[r.symbol].append(r)
    for symbol, items in by_symbol.items():
        items.sort(key=lambda r: r.date)
        days = np.array([r.date for r in items], dtype="datetime64[D]")
        expected = int(np.busday_count(days[0], days[-1] + 1))
        if expected > len(days):
            report.missing_weekdays[symbol] = expected - len(days)
        px = np.array([r.adj_close or r.close for r in items])
        if px.size > 1:
            ratio = px[1:] / px[:-1]
            for i in np.flatnonzero(np.abs(ratio - 1) > JUMP):
                move = float(ratio[i])
                near = min(SPLIT_RATIOS, key=lambda s: min(abs(move * s - 1), abs(move / s - 1)))
                if min(abs(move * near - 1), abs(move / near - 1)) < 0.08:
                    report.suspicious_jumps.append(
                        {
                            "symbol": symbol,
                            "date": items[i + 1].date.isoformat(),
                            "move": round(move - 1, 4),
                            "near_split": near,
                        }
                    )
    return report
