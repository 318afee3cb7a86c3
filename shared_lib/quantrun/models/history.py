"""The missing-data policy, applied the same way by every model that reads history.

Given close prices as a dates x symbols matrix (NaN where the store has no price):

1. **Dates used.** Only dates in the requested ``[start, end]`` on which the price
   store has a price for at least one of the requested series.
2. **Before listing / after the last price.** A series has no value before its first
   price or after its last one in the window (not yet listed, delisted, not yet
   ingested). Those dates are never filled.
3. **Gaps inside a series** (a missing price between two observed prices) carry the
   last price forward: the return is 0 on the missing day and the whole move lands on
   the next observed day, so the total return is unchanged. The count of filled prices
   is reported per series (``prices_filled``).
4. **Alignment.** Series that are combined (a series and its benchmark, the assets of
   a portfolio) use only the dates on which all of them have a value after step 3;
   the number of window dates left out is reported (``dates_dropped``).
5. **Too little history.** A series with fewer than ``min_returns`` returns (default
   20) after alignment, or with no price at all in the window, is rejected with the
   error code ``insufficient_history`` and a message naming the symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantrun.domain.errors import ModelInputError

DEFAULT_MIN_RETURNS = 20


def insufficient(symbol: str, detail: str) -> ModelInputError:
    return ModelInputError(f"{symbol}: {detail}", code="insufficient_history")


def fill_interior_gaps(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-fill NaNs that lie between two observed prices, column by column.

    Returns the filled matrix and the number of filled cells per column.
    """
    values = np.asarray(close, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    observed = ~np.isnan(values)
    if observed.all():  # nothing to fill (the common case): skip the scans
        return values.copy(), np.zeros(values.shape[1], dtype=np.int64)
    n = values.shape[0]
    idx = np.where(observed, np.arange(n)[:, None], -1)
    last_seen = np.maximum.accumulate(idx, axis=0)
    has_later = np.flip(np.logical_or.accumulate(np.flip(observed, axis=0), axis=0), axis=0)
    interior = (~observed) & (last_seen >= 0) & has_later
    filled = values.copy()
    rows, cols = np.nonzero(interior)
    filled[rows, cols] = values[last_seen[rows, cols], cols]
    return filled, interior.sum(axis=0)


@dataclass(frozen=True)
class AlignedSeries:
    """Prices of several series on the dates where all of them have a value."""

    dates: np.ndarray  # datetime64[D], the price dates (returns are one shorter)
    prices: np.ndarray  # (n, k)
    returns: np.ndarray  # (n - 1, k) simple returns
    dates_dropped: int  # window dates not used
    prices_filled: np.ndarray  # (k,) interior gaps carried forward per series


def align(
    dates: np.ndarray,
    close: np.ndarray,
    symbols: Sequence[str],
    *,
    min_returns: int = DEFAULT_MIN_RETURNS,
) -> AlignedSeries:
    """Apply the policy to the given columns together (steps 2-5)."""
    close = np.asarray(close, dtype=np.float64)
    if close.ndim == 1:
        close = close[:, None]
    for j, symbol in enumerate(symbols):
        if not np.any(~np.isnan(close[:, j])):
            raise insufficient(symbol, "no prices in the requested date range")
    filled, n_filled = fill_interior_gaps(close)
    common = ~np.isnan(filled).any(axis=1)
    prices = filled[common]
    if prices.shape[0] - 1 < min_returns:
        # Name the series that limits the common range most.
        counts = (~np.isnan(filled)).sum(axis=0)
        worst = symbols[int(np.argmin(counts))] if len(symbols) > 1 else symbols[0]
        raise insufficient(
            worst,
            f"only {max(prices.shape[0] - 1, 0)} daily returns on common dates in the "
            f"requested range; at least {min_returns} are needed",
        )
    if np.any(prices <= 0):
        bad = symbols[int(np.nonzero((prices <= 0).any(axis=0))[0][0])]
        raise ModelInputError(
            f"{bad}: non-positive price in the stored history", code="invalid_prices"
        )
    returns = prices[1:] / prices[:-1] - 1.0
    return AlignedSeries(
        dates=np.asarray(dates)[common],
        prices=prices,
        returns=returns,
        dates_dropped=int(close.shape[0] - prices.shape[0]),
        prices_filled=n_filled.astype(int),
    )
