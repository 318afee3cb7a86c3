"""``JobQueue`` for gcp mode: the transactional outbox and its relay.

The job store writes an outbox row in the job's own transaction; ``flush`` publishes the
unsent rows through a ``Publisher`` (Pub/Sub) and marks them sent. A relay thread flushes
every ``interval`` seconds, so a publish that failed (or a process that died between the
commit and the publish) is retried until it goes through. On PostgreSQL, concurrent
relays skip each other's rows (FOR UPDATE SKIP LOCKED); a duplicate publish is harmless
anyway, since claims are guarded.
"""

from __future__ import annotations

import threading
from typing import Protocol

from sqlalchemy import Engine, insert, select, update

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
    def __init__(self, engine: Engine, publisher: Publisher, *, batch: int = 200) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch = batch
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
        if self._thread is not None and self._thread.is_alive():
            with self._requested_lock:
                self._requested.append(job_id)
            self._wake.set()
        else:
            self._ensure_rows([job_id])
            self.flush()

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
        """Publish unsent rows; returns how many were sent. Never raises for a publish
        failure (the row stays unsent and the relay retries)."""
        with self._requested_lock:
            requested, self._requested = self._requested, []
        if requested:
            try:
                self._ensure_rows(requested)
            except Exception:
                with self._requested_lock:  # keep them for the next pass
                    self._requested[:0] = requested
                raise
        sent = 0
        with self._flush_lock:
            while True:
                batch_sent, more = self._flush_batch()
                sent += batch_sent
                if not more:
                    return sent

    def _flush_batch(self) -> tuple[int, bool]:
        with self._engine.begin() as conn:
            query = (
                select(outbox.c.id, outbox.c.job_id)
                .where(outbox.c.sent_at.is_(None))
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
                    self.flush()
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
