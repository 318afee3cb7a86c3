"""``JobQueue`` for gcp mode: the transactional outbox and its relay.

The job store writes an outbox row in the job's own transaction; ``flush`` publishes the
unsent rows through a ``Publisher`` (Pub/Sub) and marks them sent. A relay thread
publishes the jobs its own process asked for as soon as it is woken, and every
``interval`` seconds sweeps up the rows nobody published within ``orphan_after`` seconds
(a failed publish, a process that died between the commit and the publish). Leaving other
processes' fresh rows alone keeps each job to one publish: a relay that published
another process's row would make that process's own request look like a republish. On
PostgreSQL, concurrent relays skip each other's locked rows (FOR UPDATE SKIP LOCKED); a
duplicate publish is harmless anyway, since claims are guarded.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Engine, and_, insert, or_, select, true, update

from quantrun.adapters.sql.schema import outbox
from quantrun.clock import utcnow
from quantrun.logging import get_logger

log = get_logger(__name__)


class Publisher(Protocol):
    def ping(self) -> None: ...
    def publish_many(self, job_ids: list[str]) -> list[Exception | None]:
        """Publish each id; per id, None when the broker accepted it, else the error."""
        ...


class OutboxQueue:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        batch: int = 200,
        orphan_after: float = 5.0,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch = batch
        self._orphan_after = timedelta(seconds=orphan_after)
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requested: list[str] = []
        self._requested_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ping(self) -> None:
        self._publisher.ping()

    def publish(self, job_id: str) -> None:
        """Have the job published. A new job's outbox row committed with the job; a
        republished one (reclaim) gets a row if it has no unsent one. With the relay thread
        running, the caller only hands over the id (no database work in the request);
        otherwise the row is ensured and flushed right here."""
        with self._requested_lock:
            self._requested.append(job_id)
        if self._thread is not None and self._thread.is_alive():
            self._wake.set()
        else:
            self._flush(orphans_before=utcnow() - self._orphan_after)

    def _ensure_rows(self, job_ids: list[str]) -> None:
        """One query for the ids that already have an unsent row (new jobs all do), one
        insert for the rest (reclaimed jobs)."""
        wanted = list(dict.fromkeys(job_ids))
        now = utcnow()
        with self._engine.begin() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                pending = set(
                    conn.execute(
                        select(outbox.c.job_id).where(
                            outbox.c.job_id.in_(chunk), outbox.c.sent_at.is_(None)
                        )
                    ).scalars()
                )
                missing = [j for j in chunk if j not in pending]
                if missing:
                    conn.execute(
                        insert(outbox),
                        [{"job_id": j, "created_at": now, "attempts": 0} for j in missing],
                    )

    def flush(self) -> int:
        """Publish every unsent row; returns how many were sent. Never raises for a publish
        failure (the row stays unsent and the relay retries)."""
        return self._flush(orphans_before=None)

    def _flush(self, orphans_before: datetime | None) -> int:
        """Publish the requested jobs' rows and, when ``orphans_before`` is given, only
        those of the other unsent rows created before it (None: all of them)."""
        with self._requested_lock:
            requested, self._requested = self._requested, []
        if requested:
            try:
                self._ensure_rows(requested)
            except Exception:
                with self._requested_lock:  # keep them for the next pass
                    self._requested[:0] = requested
                raise
        scope: ColumnElement[bool] = true()
        if orphans_before is not None:
            scope = or_(outbox.c.created_at < orphans_before, outbox.c.job_id.in_(requested))
        sent = 0
        with self._flush_lock:
            while True:
                batch_sent, more = self._flush_batch(scope)
                sent += batch_sent
                if not more:
                    return sent

    def _flush_batch(self, scope: ColumnElement[bool]) -> tuple[int, bool]:
        with self._engine.begin() as conn:
            query = (
                select(outbox.c.id, outbox.c.job_id)
                .where(and_(outbox.c.sent_at.is_(None), scope))
                .order_by(outbox.c.id)
                .limit(self._batch)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return 0, False
            results = self._publisher.publish_many([r.job_id for r in rows])
            now = utcnow()
            ok = [r.id for r, err in zip(rows, results, strict=True) if err is None]
            if ok:
                conn.execute(update(outbox).where(outbox.c.id.in_(ok)).values(sent_at=now))
            for row, err in zip(rows, results, strict=True):
                if err is not None:
                    conn.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(attempts=outbox.c.attempts + 1, last_error=_describe(err)[:2000])
                    )
            failed = len(rows) - len(ok)
            if failed:
                log.warning(
                    "outbox publish failed; will retry",
                    extra={
                        "fields": {
                            "failed": failed,
                            "error": _describe(next(e for e in results if e is not None))[:300],
                        }
                    },
                )
            # stop after a failing batch: the broker is likely down, the relay retries later
            return len(ok), failed == 0 and len(rows) == self._batch

    def pending(self) -> int:
        with self._engine.connect() as conn:
            return len(conn.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None))).all())

    def start_relay(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self._flush(orphans_before=utcnow() - self._orphan_after)
                except Exception:
                    log.exception("outbox relay failed")

        self._thread = threading.Thread(target=loop, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop_relay(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _describe(err: Exception) -> str:
    """Never empty: some client errors (timeouts) carry no message."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
