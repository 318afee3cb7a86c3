"""Long (date, symbol, price) columns to a dates x symbols matrix, without pandas."""

from __future__ import annotations

import numpy as np

from quantrun.ports import PriceMatrix


def pivot_long(
    dates: np.ndarray, symbols: np.ndarray, prices: np.ndarray, order: tuple[str, ...]
) -> PriceMatrix:
    unique_dates, row = np.unique(dates, return_inverse=True)
    lookup = {s: i for i, s in enumerate(order)}
    uniq_syms, sym_inverse = np.unique(symbols, return_inverse=True)
    col = np.array([lookup[s] for s in uniq_syms.tolist()], dtype=np.intp)[sym_inverse]
    close = np.full((unique_dates.size, len(order)), np.nan)
    close[row, col] = prices
    return PriceMatrix(dates=unique_dates.astype("datetime64[D]"), symbols=order, close=close)
