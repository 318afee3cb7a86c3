"""Long price rows to a dates x symbols matrix, without pandas (shared by price stores)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quantrun.domain.prices import PriceField, PriceMatrix

# each field's column expression, the same in DuckDB and BigQuery SQL
FIELD_SQL: dict[PriceField, str] = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj_close": "COALESCE(adj_close, close)",
    "volume": "volume",
}


def field_columns(fields: Sequence[PriceField], float_type: str) -> str:
    """The select list of ``fields`` as ``px0, px1, ...`` (fixed expressions: never the
    caller's text), cast to the engine's ``float_type``."""
    return ", ".join(f"CAST({FIELD_SQL[f]} AS {float_type}) AS px{i}" for i, f in enumerate(fields))


def pivot_indexed(
    days: np.ndarray, cols: np.ndarray, prices: np.ndarray, symbols: tuple[str, ...]
) -> PriceMatrix:
    """``days``: day numbers since 1970-01-01; ``cols``: each row's index in ``symbols``."""
    if days.size == 0:
        return PriceMatrix(
            dates=np.array([], dtype="datetime64[D]"),
            symbols=symbols,
            close=np.empty((0, len(symbols))),
        )
    lo = int(days.min())
    span = int(days.max()) - lo + 1
    present = np.zeros(span, dtype=bool)
    present[days - lo] = True
    unique_days = np.flatnonzero(present)
    row_of_day = np.cumsum(present) - 1
    close = np.full((unique_days.size, len(symbols)), np.nan)
    close[row_of_day[days - lo], cols] = prices
    dates = (unique_days + lo).astype("datetime64[D]")
    return PriceMatrix(dates=dates, symbols=symbols, close=close)
