"""The webhook dispatcher (CONTRACT 5.4): in every API process, it turns ended jobs into
deliveries (``WebhookStore.make_deliveries``) and sends the due ones, signed, with the
same delivery id on every retry; a 2xx ends a delivery, anything else is retried with
backoff until ``give_up_after`` has passed. At most ``senders_per_user`` of one user's
deliveries are sent at once, and a tick never waits for a slow receiver.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from quantrun.app.webhooks import WebhookPolicy, checked_destination, delivery_body
from quantrun.clock import utcnow
from quantrun.domain.errors import QuantRunError, TransientError
from quantrun.domain.jobs import Job
from quantrun.domain.portfolios import ALERT_TYPES, Alert
from quantrun.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    Delivery,
    Webhook,
    retry_at,
    signature,
)
from quantrun.logging import get_logger
from quantrun.ports import JobStore, WebhookStore, WebhookTransport

log = get_logger(__name__)


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
        about: Job | Alert | None = (
            self._webhooks.alert(delivery.job_id)
            if delivery.type in ALERT_TYPES
            else self._jobs.get_job(delivery.job_id)
        )
        if webhook is None or about is None:
            now = self._clock()
            self._webhooks.give_up(
                delivery.id, now=now, error="the webhook, or the job or alert it tells of, is gone"
            )
            return False
        error = self._send(webhook, delivery, about)
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

    def _send(self, webhook: Webhook, delivery: Delivery, about: Job | Alert) -> str | None:
        """None when the receiver took it, else what went wrong."""
        problem, address = checked_destination(webhook.url, self._transport, self._policy)
        if problem:
            return f"url {problem}"
        body = delivery_body(delivery, about, self._clock())
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
