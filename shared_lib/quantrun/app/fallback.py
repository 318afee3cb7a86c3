"""Which provider supplies a symbol: the first, in order, that answers with fresh data.

A provider that fails, returns nothing, or returns data more than ``stale_after_days``
weekdays old is passed over; every attempt is kept as a ``ProviderCall`` (with the
requests it made and the too-many-requests answers it met), and every row keeps the name
of the provider that supplied it (``source``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import numpy as np

from quantrun.clock import utcnow
from quantrun.domain.errors import ProviderError, RateLimited
from quantrun.domain.market_data import Outcome, ProviderCall
from quantrun.domain.prices import PriceRow
from quantrun.ports import PriceProvider


@dataclass(frozen=True)
class Fetched:
    rows: list[PriceRow]
    source: str
    attempts: list[ProviderCall]


class NoProvider(ProviderError):
    """No provider supplied the symbol; ``attempts`` says what each one did."""

    def __init__(self, symbol: str, attempts: list[ProviderCall]) -> None:
        said = "; ".join(f"{a.provider}: {a.outcome} {a.detail}".strip() for a in attempts)
        super().__init__(f"no provider supplied {symbol}: {said}")
        self.attempts = attempts


class FallbackFetcher:
    """Providers in order; the first that answers with fresh data wins."""

    def __init__(
        self,
        providers: Sequence[PriceProvider],
        *,
        stale_after_days: int = 5,
        today: Callable[[], date] = date.today,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self._providers = list(providers)
        self._stale = stale_after_days
        self._today = today
        self._clock = clock

    def fetch(self, symbol: str, start: date, end: date, *, run_id: str = "") -> Fetched:
        attempts: list[ProviderCall] = []
        newest_wanted = min(end, self._today())
        for provider in self._providers:
            call = self._call(provider, symbol, run_id)
            try:
                rows = provider.fetch(symbol, start, end)
            except RateLimited as exc:
                attempts.append(self._done(call, provider, "rate_limited", str(exc)))
                continue
            except Exception as exc:
                attempts.append(self._done(call, provider, "error", str(exc)))
                continue
            if not rows:
                attempts.append(self._done(call, provider, "empty", ""))
                continue
            last = max(r.date for r in rows)
            lag = int(np.busday_count(np.datetime64(last), np.datetime64(newest_wanted)))
            if lag > self._stale:
                detail = f"last {last}, {lag} weekdays behind"
                attempts.append(self._done(call, provider, "stale", detail))
                continue
            attempts.append(self._done(call, provider, "ok", f"{len(rows)} rows"))
            return Fetched(rows, provider.name, attempts)
        raise NoProvider(symbol, attempts)

    def _call(self, provider: PriceProvider, symbol: str, run_id: str) -> ProviderCall:
        """The call as it starts: when, and the provider's counts before it."""
        meter = provider.meter
        return ProviderCall(
            run_id, provider.name, symbol, "ok", "", self._clock(), meter.requests, meter.throttled
        )

    def _done(
        self, call: ProviderCall, provider: PriceProvider, outcome: Outcome, detail: str
    ) -> ProviderCall:
        meter = provider.meter
        throttled = meter.throttled - call.throttled
        return replace(
            call,
            outcome=outcome,
            detail=detail[:1000],
            requests=meter.requests - call.requests,
            throttled=throttled,
            retry_after_seconds=meter.retry_after if throttled else None,
        )


def default_start(last_stored: date | None, fallback_days: int = 365 * 5) -> date:
    """'Since last stored date': the day after the last one stored (else ~5 years)."""
    if last_stored is None:
        return date.today() - timedelta(days=fallback_days)
    return last_stored + timedelta(days=1)
