"""Market-data providers (the ``PriceProvider`` port) over HTTP, with retries and rate limits.

- ``StooqProvider``: Stooq's daily CSV download (no key).
- ``AlphaVantageProvider``: Alpha Vantage TIME_SERIES_DAILY_ADJUSTED (key from Secret
  Manager, ``provider-alphavantage-key``); its dividend and split fields come along on
  the rows (``PriceRow.dividend``/``split``) and are kept as corporate actions.
- ``SyntheticProvider``: deterministic geometric Brownian motion per symbol, for demos.

HTTP calls use httpx with a timeout, retry 429 and 5xx with exponential backoff (honouring
Retry-After), and respect a per-provider request rate. Each provider meters its requests
and too-many-requests answers (``CallMeter``); refused still after the retries, it raises
``RateLimited``. The fallback between providers, in order, is the ingest use case's policy
(``quantrun.app.fallback``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import numpy as np

from quantrun.domain.errors import ProviderError, RateLimited
from quantrun.domain.market_data import CallMeter
from quantrun.domain.prices import PriceRow
from quantrun.logging import get_logger

log = get_logger(__name__)


class RateLimiter:
    """At most ``per_second`` calls a second (a simple spacing limiter, thread-safe)."""

    def __init__(self, per_second: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            self._sleep(delay)


@dataclass
class HttpPolicy:
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    per_second: float = 5.0


class HttpProvider:
    name = "http"

    def __init__(
        self,
        base_url: str,
        policy: HttpPolicy | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self._client = client or httpx.Client(timeout=self.policy.timeout)
        self._limiter = RateLimiter(self.policy.per_second, sleep)
        self._sleep = sleep
        self.meter = CallMeter()

    def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.policy.retries + 1):
            self._limiter.wait()
            self.meter.requests += 1
            try:
                response = self._client.get(f"{self.base_url}{path}", params=params)
            except httpx.HTTPError as exc:
                last = exc
            else:
                if response.status_code == 429 or response.status_code >= 500:
                    retry_after = response.headers.get("retry-after", "")
                    wait = float(retry_after) if retry_after.isdigit() else None
                    if response.status_code == 429:
                        last = self.throttled(f"{self.name} answered 429", wait)
                    else:
                        last = ProviderError(f"{self.name} answered {response.status_code}")
                    if wait is not None:
                        self._sleep(min(wait, self.policy.max_backoff))
                        continue
                elif response.status_code >= 400:
                    raise ProviderError(
                        f"{self.name} answered {response.status_code}: {response.text[:200]}"
                    )
                else:
                    return response
            if attempt < self.policy.retries:
                self._sleep(min(self.policy.backoff * 2**attempt, self.policy.max_backoff))
        message = f"{self.name} failed after {self.policy.retries + 1} tries: {last}"
        if isinstance(last, RateLimited):
            raise RateLimited(message, retry_after=last.retry_after)
        raise ProviderError(message)

    def throttled(self, message: str, retry_after: float | None) -> RateLimited:
        """Count a too-many-requests answer; the error to raise if it is the last."""
        self.meter.throttled += 1
        self.meter.retry_after = retry_after
        return RateLimited(message, retry_after=retry_after)


def _float(raw: str | None) -> float | None:
    if raw is None or raw.strip() in ("", "null", "N/D"):
        return None
    return float(raw)


def _split(raw: str | None) -> float | None:
    """A split coefficient other than 1 (Alpha Vantage says 1.0 on every other day)."""
    value = _float(raw)
    return None if value is None or value == 1.0 else value


class StooqProvider(HttpProvider):
    name = "stooq"

    def __init__(self, base_url: str = "https://stooq.com", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)

    def fetch(self, symbol: str, start: date, end: date) -> list[PriceRow]:
        response = self.get(
            "/q/d/l/",
            {
                "s": f"{symbol.lower()}.us",
                "i": "d",
                "d1": start.strftime("%Y%m%d"),
                "d2": end.strftime("%Y%m%d"),
            },
        )
        text = response.text.strip()
        if not text or text.lower().startswith("no data"):
            return []
        rows = []
        for rec in csv.DictReader(io.StringIO(text)):
            day = date.fromisoformat(rec["Date"])
            close = _float(rec.get("Close"))
            if close is None or not start <= day <= end:
                continue
            volume = _float(rec.get("Volume"))
            rows.append(
                PriceRow(
                    day,
                    symbol,
                    close,
                    open=_float(rec.get("Open")),
                    high=_float(rec.get("High")),
                    low=_float(rec.get("Low")),
                    adj_close=close,  # Stooq's daily series is split-adjusted
                    volume=int(volume) if volume is not None else None,
                )
            )
        return rows


class AlphaVantageProvider(HttpProvider):
    name = "alphavantage"

    def __init__(
        self, api_key: str, base_url: str = "https://www.alphavantage.co", **kwargs: Any
    ) -> None:
        if not api_key:
            raise ProviderError("alphavantage needs an API key")
        kwargs.setdefault("policy", HttpPolicy(per_second=0.2))  # free tier: 5 a minute
        super().__init__(base_url, **kwargs)
        self._key = api_key

    def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        # Errors end up in logs and in the market-data status: never with the key
        try:
            return super().get(path, params)
        except RateLimited as exc:
            raise RateLimited(self._scrub(exc), retry_after=exc.retry_after) from None
        except ProviderError as exc:
            raise ProviderError(self._scrub(exc)) from None

    def _scrub(self, exc: Exception) -> str:
        return str(exc).replace(self._key, "***")

    def fetch(self, symbol: str, start: date, end: date) -> list[PriceRow]:
        response = self.get(
            "/query",
            {
                "function": "TIME_SERIES_DAILY_ADJUSTED",
                "symbol": symbol,
                "outputsize": "full",
                "apikey": self._key,
            },
        )
        body = response.json()
        if "Note" in body or "Information" in body:  # its way of saying "rate limited"
            note = str(body.get("Note") or body.get("Information")).replace(self._key, "***")
            raise self.throttled(f"alphavantage: {note}", None)
        if "Error Message" in body:
            return []
        series = body.get("Time Series (Daily)") or {}
        rows = []
        for raw_day, v in series.items():
            day = date.fromisoformat(raw_day)
            if start <= day <= end:
                rows.append(
                    PriceRow(
                        day,
                        symbol,
                        float(v["4. close"]),
                        open=_float(v.get("1. open")),
                        high=_float(v.get("2. high")),
                        low=_float(v.get("3. low")),
                        adj_close=_float(v.get("5. adjusted close")),
                        volume=int(float(v.get("6. volume", 0))),
                        dividend=_float(v.get("7. dividend amount")) or None,
                        split=_split(v.get("8. split coefficient")),
                    )
                )
        return sorted(rows, key=lambda r: r.date)


class SyntheticProvider:
    """GBM prices seeded by the symbol: the same symbol always gives the same history."""

    name = "synthetic"

    def __init__(self) -> None:
        self.meter = CallMeter()  # no requests: it computes

    def fetch(self, symbol: str, start: date, end: date) -> list[PriceRow]:
        days = np.arange(np.datetime64(start), np.datetime64(end) + 1)
        days = days[np.is_busday(days)]
        seed = int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        base = np.datetime64("2000-01-03")
        offset = int(np.busday_count(base, days[0])) if days.size else 0
        steps = rng.normal(0.0003, 0.015, offset + days.size)
        path = 50.0 * np.exp(np.cumsum(steps))[offset:]
        return [
            PriceRow(d.astype(object), symbol, round(float(p), 4), adj_close=round(float(p), 4))
            for d, p in zip(days, path, strict=True)
        ]
