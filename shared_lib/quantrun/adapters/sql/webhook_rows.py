"""``WebhookStore`` on SQLAlchemy Core (PostgreSQL / SQLite).

Deliveries are made by scanning ``job_events`` (written in the transaction of every
transition) for jobs that ended, and ``alerts`` (written with the portfolio day that
made them), from where the last scan stopped less an overlap: an
event whose transaction committed after a later one was scanned is still seen, and the
unique (webhook, job, type) key makes a delivery once however many scans or instances
see it. A delivery is taken for an attempt by moving its next attempt forward only if
it is still what the taker read (an optimistic claim): one dispatcher sends it.

Secrets are stored sealed (``adapters/sealed.py``) with a key the database never holds;
the key is taken on first need, so a process that never touches a webhook's secret
needs none.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from quantrun.adapters.sealed import SealError, SecretBox
from quantrun.adapters.sql import owned
from quantrun.adapters.sql.rows import from_row, owned_rows, values_of
from quantrun.adapters.sql.schema import (
    alerts,
    job_events,
    jobs,
    webhook_deliveries,
    webhook_scans,
    webhooks,
)
from quantrun.domain.audit import AuditEntry
from quantrun.domain.jobs import JobStatus
from quantrun.domain.portfolios import Alert
from quantrun.domain.webhooks import Delivery, DeliveryStatus, Webhook

ENDED = [s.value for s in JobStatus if s.terminal]
SCAN_ROW = 1


def _webhook(row: Row[Any], secret: str) -> Webhook:
    return from_row(Webhook, row, events=tuple(row.events.split(",")), secret=secret)


def _delivery(row: Row[Any]) -> Delivery:
    status = DeliveryStatus(row.status)
    return from_row(Delivery, row, status=status, user_id=row._mapping.get("owner_id"))


class SqlWebhookStore:
    def __init__(self, engine: Engine, box: Callable[[], SecretBox]) -> None:
        self._engine = engine
        self._make_box = box
        self._box: SecretBox | None = None
        self._box_lock = threading.Lock()
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._new_delivery = dialect.insert(webhook_deliveries).on_conflict_do_nothing(
            index_elements=["webhook_id", "job_id", "type"]
        )

    def add(
        self, webhook: Webhook, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        values = {
            **values_of(webhook, webhooks),
            "events": ",".join(webhook.events),
            "secret": self.box().seal(webhook.secret, row_id=webhook.id),
        }
        return owned.add(self._engine, webhooks, values, most=most, audit=audit)

    def for_user(self, user_id: str) -> list[Webhook]:
        with self._engine.connect() as conn:
            # a listing never shows a secret: it is not opened here
            return [_webhook(r, "") for r in conn.execute(owned_rows(webhooks, user_id))]

    def get(self, webhook_id: str) -> Webhook | None:
        row = owned.live(self._engine, webhooks, webhook_id)
        return _webhook(row, self.box().open(row.secret, row_id=row.id)) if row else None

    def reseal(self) -> tuple[int, list[str]]:
        """Every stored secret sealed again with the current key (after a rotation, and
        those stored plain before sealing): how many, and the ids that did not open."""
        box, done, unreadable = self.box(), 0, []
        with self._engine.begin() as conn:
            for row in conn.execute(select(webhooks.c.id, webhooks.c.secret)).all():
                try:
                    secret = box.open(row.secret, row_id=row.id)
                except SealError:
                    unreadable.append(row.id)
                    continue
                conn.execute(
                    update(webhooks)
                    .where(webhooks.c.id == row.id)
                    .values(secret=box.seal(secret, row_id=row.id))
                )
                done += 1
        return done, unreadable

    def box(self) -> SecretBox:
        with self._box_lock:
            if self._box is None:
                self._box = self._make_box()
            return self._box

    def delete(
        self, webhook_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        return owned.delete(self._engine, webhooks, webhook_id, user_id, now=now, audit=audit)

    def make_deliveries(self, *, now: datetime, overlap: float) -> int:
        made = 0
        with self._engine.begin() as conn:
            scanned = conn.execute(
                select(webhook_scans.c.scanned_until).where(webhook_scans.c.id == SCAN_ROW)
            ).scalar()
            if scanned is None:
                # never scanned: from the first webhook's creation (nothing before it
                # can have a delivery)
                since = conn.execute(
                    select(func.min(webhooks.c.created_at)).where(webhooks.c.deleted_at.is_(None))
                ).scalar()
                if since is None:
                    return 0
            else:
                since = scanned - timedelta(seconds=overlap)
            ended = conn.execute(
                select(
                    webhooks.c.id.label("webhook_id"),
                    webhooks.c.events,
                    job_events.c.job_id,
                    job_events.c.to_status,
                )
                .select_from(
                    job_events.join(jobs, jobs.c.id == job_events.c.job_id).join(
                        webhooks, webhooks.c.user_id == jobs.c.user_id
                    )
                )
                .where(
                    job_events.c.at >= since,
                    job_events.c.at <= now,
                    job_events.c.to_status.in_(ENDED),
                    jobs.c.parent_id.is_(None),  # a shard is not a job its user sees
                    webhooks.c.deleted_at.is_(None),
                    webhooks.c.created_at <= job_events.c.at,
                )
            ).all()
            told = [(r.webhook_id, r.events, r.job_id, f"job.{r.to_status}") for r in ended]
            told += [(r.webhook_id, r.events, r.id, r.type) for r in self._alerts(conn, since, now)]
            for webhook_id, events, about, kind in told:
                if kind not in events.split(","):
                    continue
                made += conn.execute(
                    self._new_delivery.values(
                        id=str(uuid.uuid4()),
                        webhook_id=webhook_id,
                        job_id=about,
                        type=kind,
                        created_at=now,
                        next_attempt_at=now,
                        attempts=0,
                        status=DeliveryStatus.PENDING.value,
                    )
                ).rowcount
            self._scanned(conn, now, first=scanned is None)
        return made

    @staticmethod
    def _alerts(conn: Any, since: datetime, now: datetime) -> list[Row[Any]]:
        """The alerts made in the window, with each live webhook they go to: the
        owner's, or everyone's for an alert of no user (``data.stale``)."""
        query = (
            select(webhooks.c.id.label("webhook_id"), webhooks.c.events, alerts.c.id, alerts.c.type)
            .select_from(
                alerts.join(
                    webhooks,
                    or_(alerts.c.user_id.is_(None), alerts.c.user_id == webhooks.c.user_id),
                )
            )
            .where(
                alerts.c.created_at >= since,
                alerts.c.created_at <= now,
                webhooks.c.deleted_at.is_(None),
                webhooks.c.created_at <= alerts.c.created_at,
            )
        )
        return list(conn.execute(query).all())

    def alert(self, alert_id: str) -> Alert | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            return None
        return Alert(row.id, row.type, row.key, row.created_at, row.body, row.user_id)

    @staticmethod
    def _scanned(conn: Any, now: datetime, *, first: bool) -> None:
        if first:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(webhook_scans)
                .values(id=SCAN_ROW, scanned_until=now)
                .on_conflict_do_nothing(index_elements=["id"])
            )
        conn.execute(
            update(webhook_scans)
            .where(webhook_scans.c.id == SCAN_ROW, webhook_scans.c.scanned_until < now)
            .values(scanned_until=now)
        )

    def due(self, *, now: datetime, limit: int) -> list[Delivery]:
        query = (
            select(webhook_deliveries, webhooks.c.user_id.label("owner_id"))
            .outerjoin(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .where(
                webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query)]

    def claim(self, delivery: Delivery, *, until: datetime) -> bool:
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(webhook_deliveries)
                .where(
                    and_(
                        webhook_deliveries.c.id == delivery.id,
                        webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                        webhook_deliveries.c.next_attempt_at == delivery.next_attempt_at,
                        webhook_deliveries.c.attempts == delivery.attempts,
                    )
                )
                .values(next_attempt_at=until, attempts=delivery.attempts + 1)
            )
        return moved.rowcount == 1

    def _set(self, delivery_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(**values)
            )

    def delivered(self, delivery_id: str, *, now: datetime) -> None:
        self._set(
            delivery_id, status=DeliveryStatus.DELIVERED.value, delivered_at=now, last_error=None
        )

    def retry(self, delivery_id: str, *, at: datetime, error: str) -> None:
        self._set(delivery_id, next_attempt_at=at, last_error=error[:2000])

    def give_up(self, delivery_id: str, *, now: datetime, error: str) -> None:
        self._set(
            delivery_id,
            status=DeliveryStatus.FAILED.value,
            next_attempt_at=now,
            last_error=error[:2000],
        )
