"""The market-data status (CONTRACT 5.5): per provider its last success, last error and
rate-limit state, from the ``provider_calls`` the ingest records; and the read cache of
this API process (its size, hit rate and TTLs).

The provider summary is one price-store query, itself cached for ``ttl`` seconds (a
dashboard polling it costs one query a TTL); the rate-limit state is worked out at each
read, so a Retry-After window that has passed shows as passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quantrun.app.cache import CacheStats, SingleFlightCache
from quantrun.domain.market_data import (
    STATUS_WINDOW,
    ProviderSummary,
    RateLimitState,
    rate_limit_state,
)
from quantrun.ports import PriceStore


@dataclass(frozen=True)
class ProviderStatus:
    summary: ProviderSummary
    rate_limit: RateLimitState


@dataclass(frozen=True)
class MarketDataStatus:
    checked_at: datetime
    window_days: int
    providers: list[ProviderStatus]
    cache: CacheStats


def market_data_status(
    *, prices: PriceStore, cache: SingleFlightCache, ttl: float, now: datetime
) -> MarketDataStatus:
    summaries = cache.get(("provider_summaries",), lambda: prices.provider_summaries(now), ttl=ttl)
    return MarketDataStatus(
        checked_at=now,
        window_days=STATUS_WINDOW.days,
        providers=[ProviderStatus(s, rate_limit_state(s, now)) for s in summaries],
        cache=cache.stats(),
    )
