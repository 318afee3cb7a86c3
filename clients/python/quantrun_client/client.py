"""``Client``: QuantRun from a script or a notebook (blocking calls; ``AsyncClient`` in
``aio.py`` mirrors it).

    from quantrun_client import Client
    client = Client()                      # QUANTRUN_URL, QUANTRUN_API_KEY
    job = client.submit("black_scholes", {...}).wait()
    job.frame()                            # the result as a DataFrame
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from types import TracebackType
from typing import Any

import httpx
import pandas as pd

from quantrun_client import _calls, frames
from quantrun_client._calls import Call, RetryPolicy
from quantrun_client.errors import ConnectionFailed
from quantrun_client.job import Job
from quantrun_client.portfolios import PortfolioMethods

Json = Any


class Client(PortfolioMethods):
    """A connection to one QuantRun service with one API key.

    ``url`` and ``key`` default to ``QUANTRUN_URL`` (else ``http://127.0.0.1:8080``) and
    ``QUANTRUN_API_KEY``. 429 and 503 answers are retried after their ``Retry-After``
    (``retry``: a :class:`RetryPolicy`); every error raises a ``QuantRunError`` subclass.
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll_interval: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, key = _calls.settings(url, key)
        self.retry = retry or RetryPolicy()
        self.poll_interval = poll_interval
        self._http = httpx.Client(
            **_calls.http_options(self.url, key, timeout), transport=transport
        )

    # ---- jobs ---------------------------------------------------------------------

    def submit(
        self,
        model: str,
        params: Mapping[str, Any],
        shards: int | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a job (202, or 200 when ``idempotency_key`` was used before)."""
        call = _calls.submit(model, params, shards=shards, idempotency_key=idempotency_key)
        return Job(self, self.call(call))

    def submit_strategy(self, strategy_id: str, idempotency_key: str | None = None) -> Job:
        """Run a saved strategy as a job."""
        call = _calls.submit(None, None, strategy_id=strategy_id, idempotency_key=idempotency_key)
        return Job(self, self.call(call))

    def job(self, job_id: str) -> Job:
        return Job(self, self.call(_calls.job(job_id)))

    def jobs(
        self,
        status: str | None = None,
        model: str | None = None,
        *,
        fields: str | Iterable[str] | None = None,
        page_size: int = 200,
    ) -> Iterator[Job]:
        """Every job of yours, newest first, page after page (``result`` is read when
        asked for: ``job.refresh()``, or ``fields=`` naming it)."""
        cursor = None
        while True:
            page = self.call(
                _calls.job_page(
                    status=status, model=model, limit=page_size, cursor=cursor, fields=fields
                )
            )
            for item in page["items"]:
                yield Job(self, item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def run(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Run a small input synchronously; the result (``InputTooLarge``: submit a job)."""
        return dict(self.call(_calls.run(model, params)))

    # ---- models, market data ------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """Each model's name, description, params JSON Schema and example."""
        return list(self.call(_calls.models()))

    def prices(
        self,
        symbols: str | Iterable[str],
        start: str | date,
        end: str | date,
        fields: str | Iterable[str] | None = None,
        currency: str | None = None,
        adjustment: str | None = None,
    ) -> pd.DataFrame:
        """Stored daily prices: dates x symbols (adjusted close); with ``fields``, a
        column level per field (``open, high, low, close, adj_close, volume``); with
        ``currency``, converted at each day's FX close (``ValidationError`` with code
        ``missing_fx_rate`` naming a missing rate and day); ``adjustment``:
        ``total_return`` (the server's default), ``splits`` or ``none``."""
        names = None if fields is None else _calls.listed(fields).split(",")
        call = _calls.prices(symbols, start, end, fields, currency, adjustment)
        return frames.prices(self.call(call), names)

    def actions(self, symbol: str) -> pd.DataFrame:
        """An instrument's dividends and splits, oldest first (date, kind, value,
        source)."""
        return frames.records(self.call(_calls.actions(symbol)), index="date")

    def instruments(self, active: bool | None = None) -> pd.DataFrame:
        """Registered instruments and symbols with prices (only active ones, or only
        inactive ones, when asked)."""
        return frames.records(self.call(_calls.instruments(active)), index="symbol")

    def me(self) -> dict[str, Any]:
        """You: your role, your quotas and how much of each you use."""
        return dict(self.call(_calls.collection("me")))

    # ---- strategies, schedules, webhooks --------------------------------------------

    def strategies(self) -> list[dict[str, Any]]:
        return list(self.call(_calls.collection("strategies")))

    def strategy(self, strategy_id: str) -> dict[str, Any]:
        return dict(self.call(_calls.item("strategies", strategy_id)))

    def create_strategy(
        self, name: str, model: str, params: Mapping[str, Any], active: bool = True
    ) -> dict[str, Any]:
        body = {"name": name, "model": model, "params": dict(params), "active": active}
        return dict(self.call(_calls.create("strategies", body)))

    def update_strategy(self, strategy_id: str, **changes: Any) -> dict[str, Any]:
        return dict(self.call(_calls.update("strategies", strategy_id, changes)))

    def delete_strategy(self, strategy_id: str) -> None:
        self.call(_calls.delete("strategies", strategy_id))

    def signals(self, strategy_id: str, day: str | date | None = None) -> dict[str, Any]:
        return dict(self.call(_calls.signals(strategy_id, day)))

    def schedules(self) -> list[dict[str, Any]]:
        return list(self.call(_calls.collection("schedules")))

    def create_schedule(self, strategy_id: str, cron: str, timezone: str = "UTC") -> dict[str, Any]:
        body = {"strategy_id": strategy_id, "cron": cron, "timezone": timezone}
        return dict(self.call(_calls.create("schedules", body)))

    def delete_schedule(self, schedule_id: str) -> None:
        self.call(_calls.delete("schedules", schedule_id))

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self.call(_calls.collection("webhooks")))

    def create_webhook(self, url: str, events: Iterable[str]) -> dict[str, Any]:
        """A webhook (its ``secret`` is in this answer only)."""
        body = {"url": url, "events": list(events)}
        return dict(self.call(_calls.create("webhooks", body)))

    def delete_webhook(self, webhook_id: str) -> None:
        self.call(_calls.delete("webhooks", webhook_id))

    # ---- the wire -------------------------------------------------------------------

    def call(self, call: Call) -> Json:
        """Send a call; its JSON (None for 204)."""
        response = self.send(call)
        return None if response.status_code == 204 or not response.content else response.json()

    def send(
        self,
        call: Call,
        *,
        stream: bool = False,
        retry: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send a call, retrying 429/503 and resendable calls whose connection dropped;
        an error answer raises its ``QuantRunError``."""
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                headers=call.headers,
                timeout=timeout if timeout is not None else self._http.timeout,
            )
            try:
                response = self._http.send(request, stream=stream, follow_redirects=True)
            except httpx.TransportError as failure:
                wait = _calls.resend_wait(call, failure, attempt, self.retry) if retry else None
                if wait is None:
                    raise ConnectionFailed(_calls.unreachable(self.url, failure)) from failure
                time.sleep(wait)
                continue
            if response.status_code < 400:
                return response
            response.read()
            error = _calls.error_of(response)
            response.close()
            wait = _calls.answer_wait(error, attempt, self.retry) if retry else None
            if wait is None:
                raise error
            time.sleep(wait)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self.url}>"
