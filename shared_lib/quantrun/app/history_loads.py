"""What a history model reads and what ``GET /v1/prices`` serves: the stored prices
under an ``adjustment`` (``domain/actions.py``), then in a ``currency``
(``app/currency.py``).

With the default ``total_return`` a window whose symbols have no corporate actions after
its start is the store's adjusted close, read as before (one query); otherwise the
stored close is read beside it and adjusted from the actions (one more query, for the
actions with their ex-date closes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

from quantrun.app.currency import in_currency, in_currency_all
from quantrun.domain.actions import Adjustment, PricedAction, adjust, as_traded
from quantrun.domain.prices import PriceField, PriceMatrix
from quantrun.ports import PriceStore

Load = Callable[[Sequence[str], date, date], PriceMatrix]


class HistoryReads(Protocol):
    """Where a run's history comes from: the price store, or its reads through a cache
    (``app/prices.py``: ``CachedReads``)."""

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]: ...

    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix: ...

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]: ...


def loader(prices: PriceStore, params: Any, reads: HistoryReads | None = None) -> Load:
    """The adjusted close under the params' ``adjustment`` and in their ``currency``
    (params without them: as stored, own currencies), read from ``reads`` (the store by
    default); exchange rates from the store."""
    source: HistoryReads = reads or prices
    adjustment: Adjustment = getattr(params, "adjustment", "total_return")
    currency: str | None = getattr(params, "currency", None)

    def history(symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        actions = source.actions(symbols, start)
        if adjustment == "total_return" and not actions:
            matrix = source.load_close(symbols, start, end)
        else:
            found = source.load_fields(symbols, start, end, ("close", "adj_close"))
            matrix = adjust(found["close"], found["adj_close"], actions, adjustment)
        return in_currency(prices, matrix, currency, start, end) if currency else matrix

    return history


def needs_close(adjustment: Adjustment, actions: Sequence[PricedAction]) -> bool:
    """Whether the window's adjusted close must be made from the stored close."""
    return adjustment != "total_return" or bool(actions)


def adjusted_fields(
    found: dict[PriceField, PriceMatrix],
    asked: tuple[PriceField, ...] | None,
    actions: Sequence[PricedAction],
    adjustment: Adjustment,
) -> dict[str, PriceMatrix]:
    """The prices route's fields: ``adj_close`` under ``adjustment`` (served as ``close``
    when no fields were asked for), every other field as stored. ``found`` holds
    ``close`` and ``adj_close`` when ``needs_close``."""
    if needs_close(adjustment, actions):
        found = {
            **found,
            "adj_close": adjust(found["close"], found["adj_close"], actions, adjustment),
        }
    if asked is None:
        return {"close": found["adj_close"]}
    return {str(f): found[f] for f in asked}


def book_loads(
    prices: PriceStore, params: Any, symbols: Sequence[str], start: date, end: date
) -> tuple[PriceMatrix, PriceMatrix, list[PricedAction]]:
    """What a paper book reads: the series its rule's signals come from (as ``loader``
    gives it), the prices it trades and marks at (``as_traded``: its shares follow the
    corporate actions, so it is right whenever an action became known), both in the
    params' currency; and the symbols' actions since ``start``."""
    adjustment: Adjustment = getattr(params, "adjustment", "total_return")
    currency: str | None = getattr(params, "currency", None)
    actions = prices.actions(symbols, start)
    found = prices.load_fields(symbols, start, end, ("close", "adj_close"))
    signals = adjust(found["close"], found["adj_close"], actions, adjustment)
    traded = as_traded(found["close"], found["adj_close"], actions)
    if currency:
        signals, traded = in_currency_all(prices, [signals, traded], currency, start, end)
    return signals, traded, actions
