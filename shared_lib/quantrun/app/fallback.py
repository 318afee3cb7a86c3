"""Which provider supplies a symbol: the first, in order, that answers with fresh data.

A provider that fails, returns nothing, or returns data more than ``stale_after_days``
weekdays old is passed over; every attempt is recorded, and every row keeps the name of
the provider that supplied it (``source``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from quantrun.domain.errors import ProviderError
from quantrun.domain.prices import PriceRow
from quantrun.ports import PriceProvider


@dataclass(frozen=True)
class Fetched:
    rows: list[PriceRow]
    source: str
    attempts: list[dict[str, str]]


class FallbackFetcher:
    """Providers in order; the first that answers with fresh data wins."""

    def __init__(
        self,
        providers: Sequence[PriceProvider],
        *,
        stale_after_days: int = 5,
        today: Callable[[], date] = date.today,
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = list(providers)
        self._stale = stale_after_days
        self._today = today

    def fetch(self, symbol: str, start: date, end: date) -> Fetched:
        attempts: list[dict[str, str]] = []
        newest_wanted = min(end, self._today())
        for provider in self._providers:
            try:
                rows = provider.fetch(symbol, start, end)
            except Exception as exc:
                attempts.append({"provider": provider.name, "outcome": f"error: {exc}"})
                continue
            if not rows:
                attempts.append({"provider": provider.name, "outcome": "empty"})
                continue
            last = max(r.date for r in rows)
            lag = int(np.busday_count(np.datetime64(last), np.datetime64(newest_wanted)))
            if lag > self._stale:
                attempts.append(
                    {
                        "provider": provider.name,
                        "outcome": f"stale: last {last}, {lag} weekdays behind",
                    }
                )
                continue
            attempts.append({"provider": provider.name, "outcome": "ok"})
            return Fetched(rows, provider.name, attempts)
        raise ProviderError(f"no provider supplied {symbol}: {attempts}")


def default_start(last_stored: date | None, fallback_days: int = 365 * 5) -> date:
    """'Since last stored date': the day after the last one stored (else ~5 years)."""
    if last_stored is None:
        return date.today() - timedelta(days=fallback_days)
    return last_stored + timedelta(days=1)
