"""Prices in a currency (``domain/currency.py``): what the prices route and every
history model (their ``currency`` param, through ``app/history_loads.py``) convert with.
A missing rate is a ``ModelInputError`` (``missing_fx_rate``): a 422 naming the rate and
the day, or a job failed with that reason."""

from __future__ import annotations

from datetime import date

import numpy as np

from quantrun.domain.currency import MissingRate, convert, pairs
from quantrun.domain.errors import ModelInputError
from quantrun.domain.prices import PriceMatrix
from quantrun.ports import PriceStore


def fields_in(
    prices: PriceStore,
    found: dict[str, PriceMatrix],
    currency: str | None,
    start: date,
    end: date,
) -> dict[str, PriceMatrix]:
    """``GET /v1/prices``' fields in ``currency`` (volume stays a count), all converted
    with one read of the records and the rates."""
    if not currency:
        return found
    names = [name for name in found if name != "volume"]
    converted = in_currency_all(prices, [found[n] for n in names], currency, start, end)
    return {**found, **dict(zip(names, converted, strict=True))}


def in_currency(
    prices: PriceStore, matrix: PriceMatrix, target: str, start: date, end: date
) -> PriceMatrix:
    return in_currency_all(prices, [matrix], target, start, end)[0]


def in_currency_all(
    prices: PriceStore, matrices: list[PriceMatrix], target: str, start: date, end: date
) -> list[PriceMatrix]:
    """Each matrix in ``target`` (the same symbols' series, e.g. several fields): the
    instrument records and every candidate rate read once for them all."""
    currencies = {r.symbol: r.currency for r in prices.instrument_records()}
    symbols = {s for m in matrices for s in m.symbols}
    sources = {currencies.get(s, "USD") for s in symbols} - {target}
    wanted = [name for source in sorted(sources) for name in pairs(source, target)]
    rates = {}
    if wanted:  # every candidate rate in one read; one with no close is not stored
        loaded = prices.load_close(wanted, start, end)
        rates = {
            name: PriceMatrix(loaded.dates, (name,), loaded.close[:, [k]])
            for k, name in enumerate(wanted)
            if np.isfinite(loaded.close[:, k]).any()
        }
    try:
        return [convert(m, currencies, target, rates) for m in matrices]
    except MissingRate as exc:
        raise ModelInputError(str(exc), code="missing_fx_rate") from None
