"""The universe scheduled ingest and the alerts look at (CONTRACT 6.2): the registered
instruments that are active. Terraform's ``ingest_symbols`` seeds it once; after that
the API manages it (``app/instruments.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from quantrun.domain.prices import InstrumentRecord
from quantrun.ports import PriceStore


def active_symbols(prices: PriceStore, seed: Sequence[str] = ()) -> list[str]:
    """The symbols scheduled ingest fetches: every active record, after adding a record
    for each ``seed`` symbol that has none (Terraform's list seeds the universe once;
    after that the API manages it)."""
    records = {r.symbol: r for r in prices.instrument_records()}
    new = [InstrumentRecord(s, s) for s in dict.fromkeys(seed) if s not in records]
    if new:
        prices.put_instruments(new)
        records.update({r.symbol: r for r in new})
    return sorted(s for s, r in records.items() if r.active)


def inactive(prices: PriceStore) -> set[str]:
    return {r.symbol for r in prices.instrument_records() if not r.active}
