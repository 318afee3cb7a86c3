"""``JobQueue`` for embedded mode: a durable table in the job database.

It behaves like a Pub/Sub subscription: at-least-once delivery, a message becomes
invisible while a worker holds it and visible again if the worker dies before
acknowledging it. It survives ``kill -9``, and separate ``quantrun worker`` processes
can share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete, insert, select, text, update

from quantrun.adapters.sql.schema import queue_messages
from quantrun.clock import utcnow


@dataclass(frozen=True)
class Delivery:
    message_id: int
    job_id: str
    attempt: int


class EmbeddedQueue:
    def __init__(self, engine: Engine, *, visibility_seconds: float = 60.0) -> None:
        self._engine = engine
        self._visibility = timedelta(seconds=visibility_seconds)
        self._wake = threading.Condition()

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM queue_messages WHERE 1 = 0"))

    def publish(self, job_id: str, trace: str | None = None, *, quick: bool = False) -> None:
        # the worker reads the trace from the job's row: the table needs no column for it;
        # the embedded worker runs every job on its own thread, quick or not
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(
                insert(queue_messages).values(
                    job_id=job_id, enqueued_at=now, visible_at=now, deliveries=0
                )
            )
        with self._wake:
            self._wake.notify()

    def receive(self, wait_seconds: float) -> Delivery | None:
        """The next visible message, waiting up to ``wait_seconds`` for one."""
        delivery = self._take()
        if delivery is None and wait_seconds > 0:
            with self._wake:
                self._wake.wait(wait_seconds)
            delivery = self._take()
        return delivery

    def _take(self) -> Delivery | None:
        now = utcnow()
        with self._engine.begin() as conn:
            candidate = conn.execute(
                select(queue_messages.c.id)
                .where(queue_messages.c.visible_at <= now)
                .order_by(queue_messages.c.visible_at, queue_messages.c.id)
                .limit(1)
            ).first()
            if candidate is None:
                return None
            row = conn.execute(
                update(queue_messages)
                .where(queue_messages.c.id == candidate.id, queue_messages.c.visible_at <= now)
                .values(
                    visible_at=now + self._visibility,
                    deliveries=queue_messages.c.deliveries + 1,
                )
                .returning(
                    queue_messages.c.id, queue_messages.c.job_id, queue_messages.c.deliveries
                )
            ).first()
        if row is None:  # another consumer took it between the two statements
            return None
        return Delivery(message_id=row.id, job_id=row.job_id, attempt=row.deliveries)

    def ack(self, delivery: Delivery) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(queue_messages).where(queue_messages.c.id == delivery.message_id))

    def nack(self, delivery: Delivery, *, delay_seconds: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(queue_messages)
                .where(queue_messages.c.id == delivery.message_id)
                .values(visible_at=utcnow() + timedelta(seconds=delay_seconds))
            )

    def extend(self, delivery: Delivery) -> None:
        """Keep the message invisible while its job still runs (like modifyAckDeadline)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(queue_messages)
                .where(queue_messages.c.id == delivery.message_id)
                .values(visible_at=utcnow() + self._visibility)
            )

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()
