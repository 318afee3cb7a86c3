"""Prices in another currency (CONTRACT 6.2): each symbol's series converted at the daily
close of an FX instrument.

An FX instrument ``ABCXYZ`` (asset type ``fx``) quotes one ABC in XYZ. A price p in
currency S becomes, in target T: p / rate(``TS``) when ``TS`` is stored, else
p x rate(``ST``). Each day's price uses that day's close of the rate, never another
day's: a day with a price and no rate is an error naming the rate and the day.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from quantrun.domain.prices import PriceMatrix


class MissingRate(Exception):
    def __init__(self, rate: str, day: str | None, symbol: str) -> None:
        where = f"no {rate} close on {day}" if day else f"no {rate} (or its inverse) rates stored"
        super().__init__(f"currency: {where} to convert {symbol}")
        self.rate, self.day, self.symbol = rate, day, symbol


def pairs(source: str, target: str) -> tuple[str, str]:
    """The FX symbols that convert ``source`` to ``target``: divided by, multiplied by."""
    return f"{target}{source}", f"{source}{target}"


def convert(
    matrix: PriceMatrix,
    currencies: Mapping[str, str],
    target: str,
    rates: Mapping[str, PriceMatrix],
) -> PriceMatrix:
    """``matrix`` in ``target``; ``currencies`` each symbol's (default USD), ``rates`` the
    FX instruments' closes by symbol (one column each) over at least its dates."""
    out = matrix.close.copy()
    days = matrix.dates.astype("datetime64[D]")
    for j, symbol in enumerate(matrix.symbols):
        source = currencies.get(symbol, "USD")
        if source == target:
            continue
        divide, multiply = pairs(source, target)
        name = divide if divide in rates else multiply
        if name not in rates:
            raise MissingRate(divide, None, symbol)
        series = rates[name]
        at = {d: v for d, v in zip(series.dates.astype("datetime64[D]"), series.close[:, 0],
                                   strict=True) if np.isfinite(v)}  # fmt: skip
        rate = np.array([at.get(d, np.nan) for d in days])
        priced = np.isfinite(out[:, j])
        missing = priced & ~np.isfinite(rate)
        if missing.any():
            raise MissingRate(name, str(days[np.argmax(missing)]), symbol)
        out[:, j] = out[:, j] / rate if name == divide else out[:, j] * rate
    return PriceMatrix(matrix.dates, matrix.symbols, out)
