"""``AsyncClient``: ``Client`` for asyncio (``await client.submit(...)``, ``await
job.wait()``, ``async for job in client.jobs()``). The routes, retry rules, waiting
rules and tables are the same objects ``Client`` uses (``_calls``, ``_follow``,
``frames``, ``job_view``); only the sending differs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pandas as pd

from quantrun_client import _calls, frames
from quantrun_client._calls import Call, RetryPolicy
from quantrun_client._follow import ProgressBar, Wait
from quantrun_client.errors import (
    AuthenticationError,
    ConnectionFailed,
    NotFound,
    QuantRunError,
)
from quantrun_client.job_view import JobView
from quantrun_client.portfolios import AsyncPortfolioMethods


class AsyncClient(AsyncPortfolioMethods):
    """``Client``'s asyncio twin: the same methods, each a coroutine."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll_interval: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, key = _calls.settings(url, key)
        self.retry = retry or RetryPolicy()
        self.poll_interval = poll_interval
        self._http = httpx.AsyncClient(
            **_calls.http_options(self.url, key, timeout), transport=transport
        )

    async def submit(
        self,
        model: str,
        params: Mapping[str, Any],
        shards: int | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncJob:
        call = _calls.submit(model, params, shards=shards, idempotency_key=idempotency_key)
        return AsyncJob(self, await self.call(call))

    async def submit_strategy(
        self, strategy_id: str, idempotency_key: str | None = None
    ) -> AsyncJob:
        call = _calls.submit(None, None, strategy_id=strategy_id, idempotency_key=idempotency_key)
        return AsyncJob(self, await self.call(call))

    async def job(self, job_id: str) -> AsyncJob:
        return AsyncJob(self, await self.call(_calls.job(job_id)))

    async def jobs(
        self,
        status: str | None = None,
        model: str | None = None,
        *,
        fields: str | Iterable[str] | None = None,
        page_size: int = 200,
    ) -> AsyncIterator[AsyncJob]:
        cursor = None
        while True:
            call = _calls.job_page(
                status=status, model=model, limit=page_size, cursor=cursor, fields=fields
            )
            page = await self.call(call)
            for item in page["items"]:
                yield AsyncJob(self, item)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def run(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return dict(await self.call(_calls.run(model, params)))

    async def models(self) -> list[dict[str, Any]]:
        return list(await self.call(_calls.models()))

    async def prices(
        self,
        symbols: str | Iterable[str],
        start: str | date,
        end: str | date,
        fields: str | Iterable[str] | None = None,
        currency: str | None = None,
        adjustment: str | None = None,
    ) -> pd.DataFrame:
        names = None if fields is None else _calls.listed(fields).split(",")
        call = _calls.prices(symbols, start, end, fields, currency, adjustment)
        return frames.prices(await self.call(call), names)

    async def actions(self, symbol: str) -> pd.DataFrame:
        return frames.records(await self.call(_calls.actions(symbol)), index="date")

    async def instruments(self, active: bool | None = None) -> pd.DataFrame:
        return frames.records(await self.call(_calls.instruments(active)), index="symbol")

    async def me(self) -> dict[str, Any]:
        return dict(await self.call(_calls.collection("me")))

    async def strategies(self) -> list[dict[str, Any]]:
        return list(await self.call(_calls.collection("strategies")))

    async def create_strategy(
        self, name: str, model: str, params: Mapping[str, Any], active: bool = True
    ) -> dict[str, Any]:
        body = {"name": name, "model": model, "params": dict(params), "active": active}
        return dict(await self.call(_calls.create("strategies", body)))

    async def strategy(self, strategy_id: str) -> dict[str, Any]:
        return dict(await self.call(_calls.item("strategies", strategy_id)))

    async def update_strategy(self, strategy_id: str, **changes: Any) -> dict[str, Any]:
        return dict(await self.call(_calls.update("strategies", strategy_id, changes)))

    async def delete_strategy(self, strategy_id: str) -> None:
        await self.call(_calls.delete("strategies", strategy_id))

    async def signals(self, strategy_id: str, day: str | date | None = None) -> dict[str, Any]:
        return dict(await self.call(_calls.signals(strategy_id, day)))

    async def schedules(self) -> list[dict[str, Any]]:
        return list(await self.call(_calls.collection("schedules")))

    async def create_schedule(
        self, strategy_id: str, cron: str, timezone: str = "UTC"
    ) -> dict[str, Any]:
        body = {"strategy_id": strategy_id, "cron": cron, "timezone": timezone}
        return dict(await self.call(_calls.create("schedules", body)))

    async def delete_schedule(self, schedule_id: str) -> None:
        await self.call(_calls.delete("schedules", schedule_id))

    async def webhooks(self) -> list[dict[str, Any]]:
        return list(await self.call(_calls.collection("webhooks")))

    async def create_webhook(self, url: str, events: Iterable[str]) -> dict[str, Any]:
        body = {"url": url, "events": list(events)}
        return dict(await self.call(_calls.create("webhooks", body)))

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.call(_calls.delete("webhooks", webhook_id))

    async def call(self, call: Call) -> Any:
        response = await self.send(call)
        return None if response.status_code == 204 or not response.content else response.json()

    async def send(
        self,
        call: Call,
        *,
        stream: bool = False,
        retry: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
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
                response = await self._http.send(request, stream=stream, follow_redirects=True)
            except httpx.TransportError as failure:
                wait = _calls.resend_wait(call, failure, attempt, self.retry) if retry else None
                if wait is None:
                    raise ConnectionFailed(_calls.unreachable(self.url, failure)) from failure
                await asyncio.sleep(wait)
                continue
            if response.status_code < 400:
                return response
            await response.aread()
            error = _calls.error_of(response)
            await response.aclose()
            wait = _calls.answer_wait(error, attempt, self.retry) if retry else None
            if wait is None:
                raise error
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncJob(JobView):
    """``Job`` for ``AsyncClient``: ``await job.wait()``, ``await job.frame(...)``."""

    def __init__(self, client: AsyncClient, data: Mapping[str, Any]) -> None:
        super().__init__(data, client.url)
        self._client = client

    async def refresh(self) -> AsyncJob:
        self.data = dict(await self._client.call(_calls.job(self.id)))
        return self

    async def cancel(self) -> AsyncJob:
        self.data = dict(await self._client.call(_calls.cancel(self.id)))
        return self

    async def wait(self, progress: bool = True, timeout: float | None = None) -> AsyncJob:
        bar = ProgressBar(f"{self.model} {self.id[:8]}", progress and not self.done)
        follow = Wait(self.data, timeout=timeout, bar=bar)
        try:
            while not follow.ended:
                if follow.polling:
                    await asyncio.sleep(follow.pause(self._client.poll_interval))
                    follow.seen(await self._client.call(_calls.job(self.id)))
                elif not await self._follow_stream(follow):
                    await asyncio.sleep(follow.pause(self._client.poll_interval))
                follow.remaining()
            await self.refresh()
            bar.show(self.data)
        finally:
            bar.close()
        return self

    async def _follow_stream(self, follow: Wait) -> bool:
        call = _calls.events(self.id, follow.last_event_id)
        timeout = httpx.Timeout(10.0, read=follow.read_timeout())
        seen = follow.parser_events
        try:
            response = await self._client.send(call, stream=True, retry=False, timeout=timeout)
            try:
                async for line in response.aiter_lines():
                    if follow.line(line):
                        return True
                    follow.remaining()
            finally:
                await response.aclose()
        except (AuthenticationError, NotFound):
            raise
        except (QuantRunError, httpx.TransportError):
            follow.stream_failed()
            return False
        if follow.parser_events == seen:
            follow.stream_failed()
            return False
        return True

    async def artifact(self, name: str) -> bytes:
        return (await self._client.send(_calls.artifact(self.id, name))).content

    async def download(self, name: str, path: str | Path | None = None) -> Path:
        target = _calls.download_path(name, path)
        response = await self._client.send(_calls.artifact(self.id, name), stream=True)
        try:
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        finally:
            await response.aclose()
        return target

    async def frame(self, name: str | None = None) -> pd.DataFrame:
        kind, which = self._source(name)
        needed = self._download_for(kind, which)
        return self._table(kind, which, None if needed is None else await self.artifact(needed))
