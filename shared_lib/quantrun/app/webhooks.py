"""Webhooks (CONTRACT 5.4): registering them, and the dispatcher that delivers.

A user registers a URL for some of ``job.succeeded``, ``job.failed``, ``job.cancelled``
and gets a secret once. Only ``https`` URLs whose host resolves to public addresses are
accepted, unless ``allow_private`` (QUANTRUN_WEBHOOK_ALLOW_PRIVATE: local development,
tests), which also allows ``http``; the address is checked again at every delivery (a
name may come to resolve elsewhere), and redirects are not followed.

The dispatcher, in every API process, turns ended jobs into deliveries (from the job
store's events: ``WebhookStore.make_deliveries``) and sends the due ones: a POST of
``{"id", "type", "created_at", "job"}`` (the job as ``GET /v1/jobs/{id}`` shows it,
without ``params`` and ``result``: read the job for those), signed, with the same
delivery id on every retry; a 2xx ends it, anything else is retried with backoff until
``give_up_after`` has passed.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from quantrun.clock import utcnow
from quantrun.domain.errors import InvalidInput, NotFound, QuantRunError, TransientError
from quantrun.domain.jobs import Job
from quantrun.domain.quota import QuotaExceeded
from quantrun.domain.users import User
from quantrun.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_TYPES,
    SIGNATURE_HEADER,
    Delivery,
    Webhook,
    private_address,
    retry_at,
    signature,
)
from quantrun.logging import get_logger
from quantrun.ports import JobStore, WebhookStore, WebhookTransport

log = get_logger(__name__)

MAX_URL = 2048


@dataclass(frozen=True)
class WebhookPolicy:
    allow_private: bool = False
    first_retry: timedelta = timedelta(seconds=10)
    give_up_after: timedelta = timedelta(hours=24)
    # one deadline for a delivery's connect, TLS, send and read together
    timeout_seconds: float = 10.0
    # the scan reads job events again from this long before where it stopped
    overlap_seconds: float = 10.0
    batch: int = 100
    senders: int = 8
    # at most this many of one user's deliveries are sent at once: a user's slow
    # receivers hold that many senders at most, never everyone's
    senders_per_user: int = 2


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook  # its secret is shown this once


def destination_problem(url: str, transport: WebhookTransport, policy: WebhookPolicy) -> str | None:
    """Why a delivery may not go to ``url`` (None: it may)."""
    return checked_destination(url, transport, policy)[0]


def checked_destination(
    url: str, transport: WebhookTransport, policy: WebhookPolicy
) -> tuple[str | None, str | None]:
    """(why a delivery may not go to ``url``, the checked address to connect to). The
    address is the one the check resolved: the delivery connects there and nowhere else,
    so a second DNS answer cannot move it (rebinding). With ``allow_private`` nothing is
    resolved here (None: connect to the name)."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # each raises on a malformed netloc
    except ValueError as exc:
        return f"is not a URL ({exc})", None
    schemes = ("https", "http") if policy.allow_private else ("https",)
    if parts.scheme not in schemes:
        return f"must be an {' or '.join(schemes)} URL", None
    if not host:
        return "must name a host", None
    if parts.username or parts.password:
        return "must not carry credentials", None
    if not url.isascii():
        return "must be ASCII (percent-encode the rest)", None
    if policy.allow_private:
        return None, None
    addresses = transport.addresses(host)
    if not addresses:
        return f"host {host} does not resolve", None
    private = [a for a in addresses if private_address(a)]
    if private:
        return (
            f"host {host} resolves to a private address ({private[0]}); only public "
            "addresses are allowed (QUANTRUN_WEBHOOK_ALLOW_PRIVATE)"
        ), None
    return None, addresses[0]


def register(
    *,
    store: WebhookStore,
    transport: WebhookTransport,
    user: User,
    url: str,
    events: list[str],
    policy: WebhookPolicy,
    now: datetime,
    most: int | None = None,
) -> NewWebhook:
    if len(url) > MAX_URL:
        raise InvalidInput(f"url: at most {MAX_URL} characters", field="url")
    problem = destination_problem(url, transport, policy)
    if problem:
        raise InvalidInput(f"url: {problem}", field="url")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidInput(
            f"events: choose one or more of {', '.join(EVENT_TYPES)}", field="events"
        )
    webhook = Webhook(
        id=str(uuid.uuid4()),
        user_id=user.id,
        url=url,
        events=tuple(e for e in EVENT_TYPES if e in events),
        secret="whsec_" + secrets.token_urlsafe(32),
        created_at=now,
    )
    if not store.add(webhook, most=most):
        assert most is not None
        raise QuotaExceeded("webhooks", limit=most, now=now)
    return NewWebhook(webhook)


def delete(*, store: WebhookStore, user: User, webhook_id: str, now: datetime) -> None:
    if not store.delete(webhook_id, user.id, now=now):
        raise NotFound(f"no webhook {webhook_id}")


def _time(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def job_document(job: Job) -> dict[str, Any]:
    """The job as a delivery carries it (its params and result left out)."""
    return {
        "id": job.id,
        "model": job.model,
        "status": job.status.value,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "progress": job.progress,
        "attempts": job.attempts,
        "error": None if job.error is None else job.error.document(),
        "artifacts": [
            {
                "name": a.name,
                "content_type": a.content_type,
                "size_bytes": a.size_bytes,
                "url": f"/v1/jobs/{job.id}/artifacts/{a.name}",
            }
            for a in job.artifacts
        ],
        "shards": job.shards,
    }


def delivery_body(delivery: Delivery, job: Job, sent_at: datetime) -> bytes:
    """The signed body. ``sent_at`` is this attempt's time (``created_at`` is the same on
    every retry): a receiver refuses a body whose ``sent_at`` is older than a few minutes
    and remembers the ``id``s it took within that window, so a captured delivery cannot
    be replayed (README, Webhooks)."""
    document = {
        "id": delivery.id,
        "type": delivery.type,
        "created_at": _time(delivery.created_at),
        "sent_at": _time(sent_at),
        "job": job_document(job),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class Dispatcher:
    """Makes and sends deliveries; ``tick`` once, or ``start`` a thread that ticks."""

    def __init__(
        self,
        *,
        webhooks: WebhookStore,
        jobs: JobStore,
        transport: WebhookTransport,
        policy: WebhookPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._webhooks, self._jobs, self._transport = webhooks, jobs, transport
        self._policy, self._clock = policy, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(policy.senders, thread_name_prefix="webhook")
        self._busy_lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # deliveries being sent, by user
        self._sending: set[str] = set()  # their ids

    def tick(self, *, wait: bool = True) -> int:
        """Make the deliveries of newly ended jobs and start sending the due ones, at
        most ``senders_per_user`` of a user's at once (the rest wait for a later tick);
        with ``wait``, until they are sent. How many were started (whatever the answer)."""
        now = self._clock()
        self._webhooks.make_deliveries(now=now, overlap=self._policy.overlap_seconds)
        due = self._webhooks.due(now=now, limit=self._policy.batch)
        until = now + timedelta(seconds=self._policy.timeout_seconds + 30)
        started: list[Future[bool]] = []
        for delivery in due:
            owner = delivery.user_id or delivery.webhook_id
            with self._busy_lock:
                if delivery.id in self._sending:
                    continue
                if self._in_flight.get(owner, 0) >= self._policy.senders_per_user:
                    continue
                if not self._webhooks.claim(delivery, until=until):
                    continue
                self._in_flight[owner] = self._in_flight.get(owner, 0) + 1
                self._sending.add(delivery.id)
            started.append(self._pool.submit(self._attempt_as, owner, delivery))
        if wait:
            for future in started:
                future.result()
        return len(started)

    def _attempt_as(self, owner: str, delivery: Delivery) -> bool:
        try:
            return self._attempt(delivery)
        finally:
            with self._busy_lock:
                self._in_flight[owner] -= 1
                if not self._in_flight[owner]:
                    del self._in_flight[owner]
                self._sending.discard(delivery.id)

    def _attempt(self, delivery: Delivery) -> bool:
        try:
            webhook = self._webhooks.get(delivery.webhook_id)
        except TransientError:
            raise
        except QuantRunError as exc:  # its secret does not open: the sealing key changed
            return self._failed(delivery, exc.message)  # retried: the key may be put back
        job = self._jobs.get_job(delivery.job_id)
        if webhook is None or job is None:
            now = self._clock()
            self._webhooks.give_up(delivery.id, now=now, error="the webhook or job is gone")
            return False
        error = self._send(webhook, delivery, job)
        if error is None:
            self._webhooks.delivered(delivery.id, now=self._clock())
            return True
        return self._failed(delivery, error)

    def _failed(self, delivery: Delivery, error: str) -> bool:
        """A retry with backoff, or, past the retry period, given up."""
        now = self._clock()
        fields = {"delivery": delivery.id, "attempt": delivery.attempts + 1, "reason": error}
        if now - delivery.created_at >= self._policy.give_up_after:
            self._webhooks.give_up(delivery.id, now=now, error=error)
            log.warning("webhook delivery given up", extra={"fields": fields})
        else:
            at = retry_at(delivery.attempts + 1, now, self._policy.first_retry)
            self._webhooks.retry(delivery.id, at=at, error=error)
            log.info("webhook delivery failed; retrying", extra={"fields": fields})
        return True

    def _send(self, webhook: Webhook, delivery: Delivery, job: Job) -> str | None:
        """None when the receiver took it, else what went wrong."""
        problem, address = checked_destination(webhook.url, self._transport, self._policy)
        if problem:
            return f"url {problem}"
        body = delivery_body(delivery, job, self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "QuantRun-Webhooks/1",
            EVENT_HEADER: delivery.type,
            DELIVERY_HEADER: delivery.id,
            SIGNATURE_HEADER: signature(webhook.secret, body),
        }
        try:
            status = self._transport.post(
                webhook.url, body, headers, self._policy.timeout_seconds, address
            )
        except OSError as exc:
            return f"no response: {exc}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    def start(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick(wait=False)  # a slow receiver never holds up the next tick
                except Exception:  # a database blip: the next tick tries again
                    log.exception("webhook dispatch failed")

        self._thread = threading.Thread(target=loop, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._pool.shutdown(wait=False, cancel_futures=True)
