"""``JobQueue`` for gcp mode: the transactional outbox and its relay.

The job store writes a job's outbox row in the transaction that makes it queued (created,
or requeued by the reclaim sweep), so a crash between the commit and the publish never
loses a job. ``publish(job_id)`` hands such a committed job to the relay, which publishes
it through a ``Publisher`` (Pub/Sub) at once, with no read of the outbox; it marks the
published rows sent in one statement per ``mark_delay`` seconds (0.1: one UPDATE for
every few dozen jobs under load, not one per publish), far inside the ``orphan_after``
that a sweep waits for. Every ``interval`` seconds the relay also sweeps up the
rows nobody published within ``orphan_after`` seconds (a failed publish, a process that
died between the commit and the publish). Leaving other processes' fresh rows to them
keeps each job to one publish; a duplicate (a process dying between the publish and the
mark, a sweep racing a slow relay) is harmless anyway, since claims are guarded. On
PostgreSQL, concurrent sweeps skip each other's rows (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Engine,
    String,
    and_,
    any_,
    bindparam,
    func,
    select,
    true,
    update,
)

from quantrun.adapters.sql.schema import jobs, outbox
from quantrun.clock import utcnow
from quantrun.domain.messages import JobMessage
from quantrun.logging import get_logger

log = get_logger(__name__)

MARK_RETRY_SECONDS = 1.0  # after a failed mark (database unreachable)


class Publisher(Protocol):
    def ping(self) -> None: ...
    def publish_many(self, messages: Sequence[JobMessage]) -> list[Exception | None]:
        """Publish each message; per message, None when the broker accepted it, else the
        error."""
        ...


class OutboxQueue:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        batch: int = 200,
        orphan_after: float = 5.0,
        mark_delay: float = 0.1,
    ) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._publisher = publisher
        self._batch = batch
        self._orphan_after = timedelta(seconds=orphan_after)
        self._mark_delay = mark_delay
        self._published: list[str] = []  # published by the relay, not yet marked sent
        self._mark_due = 0.0
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requested: list[JobMessage] = []
        self._requested_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ping(self) -> None:
        self._publisher.ping()

    def publish(self, job_id: str, trace: str | None = None, *, quick: bool = False) -> None:
        """Publish a job whose outbox row is committed. With the relay thread running, the
        caller only hands over the id (no database work in the request); otherwise it is
        published right here. A row the sweep publishes again goes without its quick mark
        (the row does not keep it): its worker runs it in the thread pool."""
        with self._requested_lock:
            self._requested.append(JobMessage(job_id, trace, quick))
        if self._thread is not None and self._thread.is_alive():
            self._wake.set()
        else:
            self._flush(orphans_before=utcnow() - self._orphan_after)

    def flush(self) -> int:
        """Publish every unsent row; returns how many jobs were sent. Never raises for a
        publish failure (the row stays unsent and the relay retries)."""
        return self._flush(orphans_before=None)

    def _flush(
        self, orphans_before: datetime | None, *, sweep: bool = True, defer_marks: bool = False
    ) -> int:
        """Publish the requested jobs, then (``sweep``) the unsent rows created before
        ``orphans_before`` (None: all of them). ``defer_marks`` (the relay) marks the
        requested jobs sent only once ``mark_delay`` has passed (or before a sweep)."""
        with self._requested_lock:
            requested, self._requested = self._requested, []
        scope: ColumnElement[bool] = true()
        if orphans_before is not None:
            scope = outbox.c.created_at < orphans_before
        sent = 0
        with self._flush_lock:
            for start in range(0, len(requested), self._batch):
                chunk = _one_per_job(requested[start : start + self._batch])
                sent += self._publish_and_mark(chunk, defer=defer_marks)
            self._mark_published(force=sweep or not defer_marks)
            while sweep:
                batch_sent, more = self._sweep_batch(scope)
                sent += batch_sent
                if not more:
                    break
        return sent

    def _sweep_batch(self, scope: ColumnElement[bool]) -> tuple[int, bool]:
        with self._engine.begin() as conn:
            query = (
                select(outbox.c.job_id, jobs.c.trace)
                .outerjoin(jobs, jobs.c.id == outbox.c.job_id)
                .where(and_(outbox.c.sent_at.is_(None), scope))
                .order_by(outbox.c.id)
                .limit(self._batch)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=outbox)
            rows = conn.execute(query).all()
            messages = _one_per_job(JobMessage(row.job_id, row.trace) for row in rows)
            if not messages:
                return 0, False
            sent = self._publish_and_mark(messages, locked=conn)
            # stop after a failing batch: the broker is likely down, the relay retries later
            return sent, sent == len(messages) and len(messages) == self._batch

    def _publish_and_mark(
        self,
        messages: Sequence[JobMessage],
        locked: Connection | None = None,
        *,
        defer: bool = False,
    ) -> int:
        """Publish, then mark the published jobs' unsent rows sent (``defer``: later, in
        ``_mark_published``) and count an attempt on the others (on ``locked``, the sweep's
        transaction, else in autocommit: no connection is held while publishing); returns
        how many were published."""
        results = self._publisher.publish_many(messages)
        job_ids = [m.job_id for m in messages]
        ok = [j for j, err in zip(job_ids, results, strict=True) if err is None]
        failed = [(j, err) for j, err in zip(job_ids, results, strict=True) if err is not None]
        published = len(ok)
        if defer and ok:
            if not self._published:
                self._mark_due = time.monotonic() + self._mark_delay
            self._published.extend(ok)
            ok = []
        if locked is not None:
            self._mark(locked, ok, failed)
        elif ok or failed:
            with self._autocommit.connect() as conn:
                self._mark(conn, ok, failed)
        if failed:
            log.warning(
                "outbox publish failed; will retry",
                extra={"fields": {"failed": len(failed), "error": _describe(failed[0][1])[:300]}},
            )
        return published

    def _mark_published(self, *, force: bool = False) -> None:
        """Mark the relay's published jobs sent, once ``mark_delay`` has passed (or
        ``force``). Called with the flush lock held."""
        if not self._published or not (force or time.monotonic() >= self._mark_due):
            return
        published, self._published = self._published, []
        try:
            with self._autocommit.connect() as conn:
                for start in range(0, len(published), self._batch):
                    self._mark(conn, published[start : start + self._batch], [])
        except Exception:
            self._published[:0] = published
            self._mark_due = time.monotonic() + MARK_RETRY_SECONDS  # not a busy loop
            raise

    def _wait_seconds(self, interval: float) -> float:
        if not self._published:
            return interval
        return min(interval, max(self._mark_due - time.monotonic(), 0.0))

    @staticmethod
    def _mark(conn: Connection, ok: list[str], failed: list[tuple[str, Exception]]) -> None:
        if ok:
            conn.execute(update(outbox).where(_unsent_rows_of(conn, ok)).values(sent_at=utcnow()))
        for job_id, err in failed:
            conn.execute(
                update(outbox)
                .where(_unsent_rows_of(conn, [job_id]))
                .values(attempts=outbox.c.attempts + 1, last_error=_describe(err)[:2000])
            )

    def pending(self) -> int:
        with self._autocommit.connect() as conn:
            query = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            return int(conn.execute(query).scalar_one())

    def start_relay(self, interval: float) -> None:
        """Publish requested jobs as soon as they come; sweep for orphans every
        ``interval`` seconds (not on every wake: under load that is a query per batch)."""

        def loop() -> None:
            last_sweep = -interval
            while not self._stop.is_set():
                self._wake.wait(self._wait_seconds(interval))
                self._wake.clear()
                sweep = time.monotonic() - last_sweep >= interval
                try:
                    if self._stop.is_set():
                        with self._flush_lock:
                            self._mark_published(force=True)
                        return
                    self._flush(
                        orphans_before=utcnow() - self._orphan_after, sweep=sweep, defer_marks=True
                    )
                except Exception:
                    log.exception("outbox relay failed")
                if sweep:
                    last_sweep = time.monotonic()

        self._thread = threading.Thread(target=loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop_relay(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _unsent_rows_of(conn: Connection, job_ids: list[str]) -> ColumnElement[bool]:
    # PostgreSQL: one array parameter, so the statement text (and its prepared statement)
    # is the same for any number of ids
    if conn.dialect.name == "postgresql":
        ids = bindparam("job_ids", value=job_ids, type_=ARRAY(String))
        return and_(outbox.c.sent_at.is_(None), outbox.c.job_id == any_(ids))
    return and_(outbox.c.sent_at.is_(None), outbox.c.job_id.in_(job_ids))


def _describe(err: Exception) -> str:
    """Never empty: some client errors (timeouts) carry no message."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _one_per_job(messages: Iterable[JobMessage]) -> list[JobMessage]:
    """A job asked for twice in a batch (a requeue racing its publish) is published once."""
    return list({m.job_id: m for m in messages}.values())
