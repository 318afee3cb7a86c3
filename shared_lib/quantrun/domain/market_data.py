"""What the market-data providers did: one ``ProviderCall`` per provider asked for a
symbol (or per file loaded), kept in the price store's ``provider_calls`` table, and the
status view made from them (CONTRACT 5.5, ``GET /v1/market-data/status``).

Outcomes: ``ok`` (supplied fresh rows), ``empty``, ``stale`` (its newest row too old),
``error``, ``rate_limited`` (refused for too many requests after the client's retries).
``throttled`` counts the too-many-requests answers a call met, also when a retry got
through. ``summarize`` is the reference the stores' SQL is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Outcome = Literal["ok", "empty", "stale", "error", "rate_limited"]
FAILED: tuple[Outcome, ...] = ("error", "rate_limited")

STATUS_WINDOW = timedelta(days=30)  # how far back the status view reads
RECENT = timedelta(hours=24)  # the counts of calls, errors and throttled answers


@dataclass(frozen=True)
class ProviderCall:
    run_id: str
    provider: str
    symbol: str
    outcome: Outcome
    detail: str
    called_at: datetime  # aware, UTC
    requests: int = 0  # HTTP requests the call made (retries included)
    throttled: int = 0  # of them answered "too many requests"
    retry_after_seconds: float | None = None  # the last Retry-After the provider gave


@dataclass
class CallMeter:
    """A provider's running counts, read before and after each call by the fetcher."""

    requests: int = 0
    throttled: int = 0
    retry_after: float | None = None  # of the last too-many-requests answer


@dataclass(frozen=True)
class ProviderSummary:
    """One provider's calls within ``STATUS_WINDOW``: the last call, the last success,
    the last failure (and its detail), the last throttled call (and its Retry-After),
    and counts over the last ``RECENT``."""

    provider: str
    last_call_at: datetime
    last_outcome: Outcome
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    last_throttled_at: datetime | None
    retry_after_seconds: float | None
    calls: int
    errors: int
    throttled: int


@dataclass(frozen=True)
class RateLimitState:
    """``limited``: the provider's last call was refused for its rate (until ``until``
    when it said how long); ``throttled``: calls in the last 24 h met too-many-requests
    answers but got through; ``ok`` otherwise."""

    state: Literal["ok", "throttled", "limited"]
    last_throttled_at: datetime | None
    until: datetime | None
    throttled_24h: int


def rate_limit_state(summary: ProviderSummary, now: datetime) -> RateLimitState:
    until = None
    if summary.last_throttled_at is not None and summary.retry_after_seconds is not None:
        until = summary.last_throttled_at + timedelta(seconds=summary.retry_after_seconds)
    if summary.last_outcome == "rate_limited" and (until is None or until > now):
        state: Literal["ok", "throttled", "limited"] = "limited"
    elif summary.throttled > 0:
        state = "throttled"
    else:
        state = "ok"
    return RateLimitState(
        state,
        summary.last_throttled_at,
        until if state == "limited" else None,
        summary.throttled,
    )


def summarize(calls: Iterable[ProviderCall], now: datetime) -> list[ProviderSummary]:
    """Per provider (by name) what ``ProviderSummary`` says."""
    by_provider: dict[str, list[ProviderCall]] = {}
    for call in calls:
        if call.called_at >= now - STATUS_WINDOW:
            by_provider.setdefault(call.provider, []).append(call)
    out = []
    for name in sorted(by_provider):
        seen = sorted(by_provider[name], key=lambda c: c.called_at)
        last = seen[-1]
        success = [c for c in seen if c.outcome == "ok"]
        failed = [c for c in seen if c.outcome in FAILED]
        limited = [c for c in seen if c.throttled > 0 or c.outcome == "rate_limited"]
        recent = [c for c in seen if c.called_at >= now - RECENT]
        out.append(
            ProviderSummary(
                provider=name,
                last_call_at=last.called_at,
                last_outcome=last.outcome,
                last_success_at=success[-1].called_at if success else None,
                last_error_at=failed[-1].called_at if failed else None,
                last_error=failed[-1].detail if failed else None,
                last_throttled_at=limited[-1].called_at if limited else None,
                retry_after_seconds=limited[-1].retry_after_seconds if limited else None,
                calls=len(recent),
                errors=sum(c.outcome in FAILED for c in recent),
                throttled=sum(c.throttled for c in recent),
            )
        )
    return out
