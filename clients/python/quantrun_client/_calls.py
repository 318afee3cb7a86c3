"""The API's routes as plain request descriptions (no I/O), shared by ``Client`` and
``AsyncClient``; and the rules for retrying them.

A :class:`Call` says whether it may be sent again after the connection dropped with no
answer (``resendable``): reads, deletes, the synchronous run, and a job submit, which
always carries an ``Idempotency-Key`` so that the server makes one job however many
times it arrives. Other writes are resent only when the request never left (the
connection could not be opened).
"""

from __future__ import annotations

import email.utils
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from quantrun_client.errors import QuantRunError, from_response
from quantrun_client.version import USER_AGENT

DEFAULT_URL = "http://127.0.0.1:8080"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# answers worth waiting out (CONTRACT 6.3): rate limits and an overloaded service
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    resendable: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """How long the client waits before giving up: ``attempts`` tries in all, waiting
    ``Retry-After`` when the answer gives one (unless it is longer than ``max_wait``:
    then the error is raised at once, e.g. a daily quota), else ``backoff`` doubling."""

    attempts: int = 5
    max_wait: float = 60.0
    backoff: float = 0.5

    def wait_before(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1), or
        None when it should not be retried."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        return min(self.backoff * 2.0 ** (attempt - 1), self.max_wait)


def http_options(url: str, key: str, timeout: float) -> dict[str, Any]:
    """What ``httpx.Client`` and ``httpx.AsyncClient`` are opened with."""
    return {
        "base_url": url,
        "headers": {"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT},
        "timeout": timeout,
    }


def error_of(response: httpx.Response) -> QuantRunError:
    """The exception for an error answer whose body has been read."""
    return from_response(
        response.status_code,
        response.content,
        retry_after=retry_after(response.headers.get("retry-after")),
        reason=response.reason_phrase,
    )


def answer_wait(error: QuantRunError, attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before sending again after an error answer, or None to raise it."""
    if error.status not in RETRY_STATUSES:
        return None
    return policy.wait_before(attempt, error.retry_after)


def resend_wait(
    call: Call, failure: httpx.TransportError, attempt: int, policy: RetryPolicy
) -> float | None:
    """Seconds to wait before sending again after the connection failed, or None to
    give up: a call that is not resendable goes again only if it never left."""
    never_sent = isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout)
    if not (call.resendable or never_sent):
        return None
    return policy.wait_before(attempt, None)


def unreachable(url: str, failure: httpx.TransportError) -> str:
    kind = type(failure).__name__
    return f"no answer from {url} ({kind}: {failure or 'connection lost'}); is the service up?"


def download_path(name: str, path: str | Path | None) -> Path:
    """Where ``download(name, path)`` writes: ``path`` itself, or ``name`` inside it
    when it is a folder (the working folder by default)."""
    target = Path.cwd() if path is None else Path(path)
    if target.is_dir():
        target = target / Path(name).name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def settings(url: str | None, key: str | None) -> tuple[str, str]:
    """The service's URL and the API key: as given, else ``QUANTRUN_URL`` (default
    ``http://127.0.0.1:8080``, what ``make run`` serves) and ``QUANTRUN_API_KEY``."""
    url = url or os.environ.get("QUANTRUN_URL") or DEFAULT_URL
    key = key or os.environ.get("QUANTRUN_API_KEY")
    if not key:
        raise QuantRunError(
            "no API key: pass Client(key=...) or set QUANTRUN_API_KEY "
            "(`make run` prints the dev key; `quantrun keys create --user NAME` makes one)",
            code="no_api_key",
        )
    return url.rstrip("/"), key


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def listed(values: str | Iterable[str]) -> str:
    """A list parameter as the API reads it: comma-separated."""
    return values if isinstance(values, str) else ",".join(values)


def iso_day(value: str | date) -> str:
    return value.isoformat() if isinstance(value, date) else value


def path_part(value: str) -> str:
    return quote(str(value), safe="")


# ---- routes -------------------------------------------------------------------------


def models() -> Call:
    return Call("GET", "/v1/models", resendable=True)


def submit(
    model: str | None,
    params: Mapping[str, Any] | None,
    *,
    shards: int | None = None,
    idempotency_key: str | None = None,
    strategy_id: str | None = None,
) -> Call:
    if strategy_id is not None:
        body: dict[str, Any] = {"strategy_id": strategy_id}
    else:
        body = {"model": model, "params": dict(params or {})}
    if shards is not None:
        body["options"] = {"shards": shards}
    # always a key: a submit resent after a dropped answer makes one job, not two
    key = idempotency_key or f"quantrun-client-{uuid.uuid4()}"
    return Call("POST", "/v1/jobs", json=body, headers={"Idempotency-Key": key}, resendable=True)


def job(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{path_part(job_id)}", resendable=True)


def cancel(job_id: str) -> Call:
    return Call("POST", f"/v1/jobs/{path_part(job_id)}/cancel")


def job_page(
    *,
    status: str | None,
    model: str | None,
    limit: int,
    cursor: str | None,
    fields: str | Iterable[str] | None,
) -> Call:
    params = {"limit": str(limit)}
    for name, value in (("status", status), ("model", model), ("cursor", cursor)):
        if value is not None:
            params[name] = value
    if fields is not None:
        params["fields"] = listed(fields)
    return Call("GET", "/v1/jobs", params=params, resendable=True)


def artifact(job_id: str, name: str) -> Call:
    return Call("GET", f"/v1/jobs/{path_part(job_id)}/artifacts/{path_part(name)}", resendable=True)


def events(job_id: str, last_event_id: str | None) -> Call:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return Call("GET", f"/v1/jobs/{path_part(job_id)}/events", headers=headers, resendable=True)


def run(model: str, params: Mapping[str, Any]) -> Call:
    # a pure computation: resending it changes nothing stored
    return Call(
        "POST", f"/v1/models/{path_part(model)}/run", json={"params": dict(params)}, resendable=True
    )


def prices(
    symbols: str | Iterable[str],
    start: str | date,
    end: str | date,
    fields: str | Iterable[str] | None,
    currency: str | None = None,
    adjustment: str | None = None,
) -> Call:
    params = {"symbols": listed(symbols), "start": iso_day(start), "end": iso_day(end)}
    if adjustment is not None:
        params["adjustment"] = adjustment
    if fields is not None:
        params["fields"] = listed(fields)
    if currency is not None:
        params["currency"] = currency
    return Call("GET", "/v1/prices", params=params, resendable=True)


def actions(symbol: str) -> Call:
    return Call("GET", f"/v1/instruments/{symbol}/actions", resendable=True)


def instruments(active: bool | None = None) -> Call:
    params = {} if active is None else {"active": "true" if active else "false"}
    return Call("GET", "/v1/instruments", params=params, resendable=True)


def collection(kind: str) -> Call:
    return Call("GET", f"/v1/{kind}", resendable=True)


def item(kind: str, item_id: str) -> Call:
    return Call("GET", f"/v1/{kind}/{path_part(item_id)}", resendable=True)


def create(kind: str, body: Mapping[str, Any]) -> Call:
    return Call("POST", f"/v1/{kind}", json=dict(body))


def update(kind: str, item_id: str, changes: Mapping[str, Any]) -> Call:
    return Call("PATCH", f"/v1/{kind}/{path_part(item_id)}", json=dict(changes), resendable=True)


def delete(kind: str, item_id: str) -> Call:
    return Call("DELETE", f"/v1/{kind}/{path_part(item_id)}", resendable=True)


def signals(strategy_id: str, day: str | date | None) -> Call:
    params = {} if day is None else {"date": iso_day(day)}
    return Call(
        "GET", f"/v1/strategies/{path_part(strategy_id)}/signals", params=params, resendable=True
    )
