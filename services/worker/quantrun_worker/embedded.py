"""The embedded worker: threads that consume the embedded queue, a reclaim sweep and a
ticker for schedules and paper portfolios.

Acknowledgement follows the Pub/Sub push rule: a message is acknowledged once its job
is finished (or needs no run), and left for redelivery after a transient failure.
"""

from __future__ import annotations

import functools
import threading
from datetime import timedelta

from quantrun.app.execute import RunOutcome
from quantrun.app.paper_steps import step_all
from quantrun.app.reclaim import reclaim_stale
from quantrun.app.strategies import tick
from quantrun.bootstrap import Container
from quantrun.clock import utcnow
from quantrun.logging import get_logger

log = get_logger(__name__)

MAX_RETRY_DELAY = 60.0


class EmbeddedWorker:
    def __init__(self, container: Container, *, threads: int | None = None) -> None:
        if container.embedded_queue is None:
            raise ValueError("the embedded worker needs the embedded queue")
        self._c = container
        self._queue = container.embedded_queue
        self._n = threads or container.settings.worker.worker_threads
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self._n):
            t = threading.Thread(target=self._consume, name=f"worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        ticker = threading.Thread(target=self._tick, name="schedule-ticker", daemon=True)
        ticker.start()
        self._threads.append(ticker)
        sweeper = threading.Thread(target=self._sweep, name="reclaim-sweep", daemon=True)
        sweeper.start()
        self._threads.append(sweeper)
        log.info(
            "embedded worker started",
            extra={"fields": {"threads": self._n, "worker_id": self._c.worker.worker_id}},
        )

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.wake()
        for t in self._threads:
            t.join(timeout=timeout)

    def _consume(self) -> None:
        while not self._stop.is_set():
            try:
                delivery = self._queue.receive(wait_seconds=1.0)
            except Exception:
                log.exception("queue receive failed")
                self._stop.wait(1.0)
                continue
            if delivery is None:
                continue
            try:
                outcome = self._c.runner.run(
                    delivery.job_id, keepalive=functools.partial(self._queue.extend, delivery)
                )
            except Exception:
                log.exception(
                    "job run failed; the message will be redelivered",
                    extra={"fields": {"job_id": delivery.job_id}},
                )
                outcome = RunOutcome.RETRY
            if outcome == RunOutcome.RETRY:
                self._queue.nack(
                    delivery, delay_seconds=min(2.0**delivery.attempt, MAX_RETRY_DELAY)
                )
            else:
                self._queue.ack(delivery)

    def _sweep(self) -> None:
        interval = self._c.settings.worker.reclaim_interval_seconds
        grace = timedelta(seconds=self._c.worker.queued_grace_seconds)
        while not self._stop.wait(interval):
            try:
                reclaim_stale(
                    store=self._c.store,
                    queue=self._c.queue,
                    now=utcnow(),
                    queued_grace=grace,
                )
            except Exception:
                log.exception("reclaim sweep failed")

    def _tick(self) -> None:
        """The strategies' schedules and the paper portfolios' steps (what Cloud
        Scheduler's calls do in gcp mode)."""
        interval = self._c.settings.worker.schedule_tick_seconds
        while not self._stop.wait(interval):
            try:
                tick(
                    strategies=self._c.strategies,
                    users=self._c.store,
                    rules=self._c.job_rules,
                    now=utcnow(),
                )
            except Exception:
                log.exception("schedule tick failed")
            try:
                now = utcnow()
                step_all(
                    store=self._c.portfolios,
                    prices=self._c.prices,
                    today=now.date(),
                    now=now,
                    stale_after_days=self._c.settings.worker.stale_after_days,
                )
            except Exception:
                log.exception("portfolio step failed")
