"""The documented price file layout: a header row with ``date,symbol,close`` and optional
``open,high,low,adj_close,volume`` columns, one row per symbol and date.

Parsing is all-or-nothing: any bad row rejects the file with every problem listed
(line numbers count the header as line 1), so a file is never half loaded.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date

from quantrun.domain.prices import PriceRow
from quantrun.domain.symbols import parse_symbol

REQUIRED = ("date", "symbol", "close")
OPTIONAL = ("open", "high", "low", "adj_close", "volume")
MAX_PROBLEMS = 50


class PriceFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.problems = problems


def _price(raw: str, name: str) -> float | None:
    if raw.strip() == "":
        return None
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {raw!r}")
    return value


def parse_price_csv(text: str) -> list[PriceRow]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise PriceFileError(
            [f"header lacks column(s) {', '.join(missing)} (need {','.join(REQUIRED)})"]
        )
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        raise PriceFileError([f"unknown column(s) {', '.join(unknown)}"])
    reader.fieldnames = header
    rows: list[PriceRow] = []
    problems: list[str] = []
    seen: set[tuple[str, date]] = set()
    for line, rec in enumerate(reader, start=2):
        try:
            symbol = parse_symbol(rec["symbol"] or "")
            day = date.fromisoformat((rec["date"] or "").strip())
            close = _price(rec["close"] or "", "close")
            if close is None:
                raise ValueError("close is empty")
            volume_raw = (rec.get("volume") or "").strip()
            volume = int(float(volume_raw)) if volume_raw else None
            if volume is not None and volume < 0:
                raise ValueError("volume must not be negative")
            row = PriceRow(
                date=day,
                symbol=symbol,
                close=close,
                open=_price(rec.get("open") or "", "open"),
                high=_price(rec.get("high") or "", "high"),
                low=_price(rec.get("low") or "", "low"),
                adj_close=_price(rec.get("adj_close") or "", "adj_close"),
                volume=volume,
            )
            if (symbol, day) in seen:
                raise ValueError(f"duplicate row for {symbol} on {day}")
            seen.add((symbol, day))
            rows.append(row)
        except (ValueError, TypeError) as exc:
            problems.append(f"line {line}: {exc}")
            if len(problems) >= MAX_PROBLEMS:
                break
    if problems:
        raise PriceFileError(problems)
    if not rows:
        raise PriceFileError(["the file has no data rows"])
    return rows
