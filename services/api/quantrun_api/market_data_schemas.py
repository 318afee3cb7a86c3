"""The body of GET /v1/market-data/status (CONTRACT 5.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from quantrun.app.market_data import MarketDataStatus, ProviderStatus
from quantrun.settings import ApiSettings


class ProviderErrorOut(BaseModel):
    at: datetime
    message: str = Field(description="what the provider answered, or why the call failed")


class RateLimitOut(BaseModel):
    state: Literal["ok", "throttled", "limited"] = Field(
        description="limited: its last call was refused for too many requests (until "
        "`until` when it said); throttled: calls in the last 24 h met too-many-requests "
        "answers but got through; ok: none"
    )
    last_throttled_at: datetime | None
    until: datetime | None = Field(description="when a limit ends, from its Retry-After")
    throttled_24h: int = Field(description="too-many-requests answers in the last 24 h")


class ProviderStatusOut(BaseModel):
    provider: str = Field(
        description="stooq, alphavantage, synthetic; upload and load-prices for files"
    )
    last_call_at: datetime
    last_outcome: Literal["ok", "empty", "stale", "error", "rate_limited"]
    last_success_at: datetime | None
    last_error: ProviderErrorOut | None = Field(description="its last error or rate limit")
    rate_limit: RateLimitOut
    calls_24h: int
    errors_24h: int

    @classmethod
    def of(cls, status: ProviderStatus) -> ProviderStatusOut:
        s, limit = status.summary, status.rate_limit
        error = None
        if s.last_error_at is not None:
            error = ProviderErrorOut(at=s.last_error_at, message=s.last_error or "")
        return cls(
            provider=s.provider,
            last_call_at=s.last_call_at,
            last_outcome=s.last_outcome,
            last_success_at=s.last_success_at,
            last_error=error,
            rate_limit=RateLimitOut.model_validate(limit, from_attributes=True),
            calls_24h=s.calls,
            errors_24h=s.errors,
        )


class CacheTtlsOut(BaseModel):
    instruments: float = Field(description="instruments and coverage")
    history: float = Field(description="price windows (/v1/prices)")
    latest: float = Field(description="latest prices (/v1/prices/latest)")
    stale: float = Field(description="served past its TTL this long while one refresh runs")


class ReadCacheOut(BaseModel):
    entries: int
    bytes: int = Field(description="an estimate of what the entries hold")
    max_entries: int
    max_bytes: int
    hits: int = Field(description="fresh hits since this API process started")
    stale_hits: int = Field(description="served stale while a refresh ran")
    misses: int
    hit_rate: float | None = Field(description="(hits + stale hits) / reads; null before any")
    ttl_seconds: CacheTtlsOut


class MarketDataStatusOut(BaseModel):
    checked_at: datetime
    window_days: int = Field(description="provider calls are read this far back")
    providers: list[ProviderStatusOut] = Field(
        description="every provider called within the window, by name"
    )
    cache: ReadCacheOut = Field(description="the read cache of the API instance answering")

    @classmethod
    def of(cls, found: MarketDataStatus, api: ApiSettings) -> MarketDataStatusOut:
        c = found.cache
        return cls(
            checked_at=found.checked_at,
            window_days=found.window_days,
            providers=[ProviderStatusOut.of(p) for p in found.providers],
            cache=ReadCacheOut(
                entries=c.entries,
                bytes=c.bytes,
                max_entries=c.max_entries,
                max_bytes=c.max_bytes,
                hits=c.hits,
                stale_hits=c.stale_hits,
                misses=c.misses,
                hit_rate=c.hit_rate,
                ttl_seconds=CacheTtlsOut(
                    instruments=api.read_cache_seconds,
                    history=api.history_cache_seconds,
                    latest=api.latest_cache_seconds,
                    stale=api.cache_stale_seconds,
                ),
            ),
        )
