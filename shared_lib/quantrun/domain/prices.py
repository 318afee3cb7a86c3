"""Daily prices as the stores hold them (CONTRACT section 4) and as models read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class PriceMatrix:
    """Close prices as a dates x symbols matrix; NaN where the store has no price."""

    dates: np.ndarray  # datetime64[D], ascending
    symbols: tuple[str, ...]
    close: np.ndarray  # float64, shape (len(dates), len(symbols))


ASSET_TYPES = ("equity", "etf", "index", "fx")


@dataclass(frozen=True)
class InstrumentRecord:
    """What QuantRun knows of an instrument beyond its prices (CONTRACT 6.2): kept where
    the prices are; ``active`` ones are what scheduled ingest fetches."""

    symbol: str
    name: str
    asset_type: str = "equity"
    exchange: str | None = None
    currency: str = "USD"
    active: bool = True


@dataclass(frozen=True)
class Instrument:
    symbol: str
    name: str
    first_date: date
    last_date: date
    rows: int


@dataclass(frozen=True)
class PriceRow:
    date: date
    symbol: str
    close: float
    open: float | None = None
    high: float | None = None
    low: float | None = None
    adj_close: float | None = None
    volume: int | None = None
    # what a provider reported for the day besides its prices (kept as corporate actions,
    # not in the prices table, so they take no part in a row's comparison)
    dividend: float | None = field(default=None, compare=False)
    split: float | None = field(default=None, compare=False)


PriceField = Literal["open", "high", "low", "close", "adj_close", "volume"]
PRICE_FIELDS: tuple[PriceField, ...] = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass(frozen=True)
class LatestPrice:
    symbol: str
    date: date
    close: float
    adj_close: float | None
    source: str
