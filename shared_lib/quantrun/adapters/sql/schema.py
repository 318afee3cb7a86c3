"""Table definitions (SQLAlchemy Core). Alembic migrations create them; keep both in step.

Long on purpose: every table in one file, as the migrations build them; each is a short
list of columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite keeps no zone), always returned timezone-aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JsonDoc: Any = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("role", String(16), nullable=False, server_default="member"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("prefix", String(16), nullable=False, index=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False),
    Column("model", String(64), nullable=False),
    Column("params", JsonDoc, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("progress", Float, nullable=False, default=0.0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("result", JsonDoc, nullable=True),
    Column("error", JsonDoc, nullable=True),
    Column("artifacts", JsonDoc, nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("params_hash", String(64), nullable=True),
    # sharded jobs (CONTRACT 5.2): a shard names its job (no foreign key: migration
    # 0005 says why); the job counts its shards
    Column("parent_id", String(36), nullable=True, index=True),
    Column("shard_index", Integer, nullable=True),
    Column("shards_total", Integer, nullable=True),
    Column("shards_done", Integer, nullable=False, default=0, server_default="0"),
    Column("shards_failed", Integer, nullable=False, default=0, server_default="0"),
    # a job made from a strategy, by hand or by a schedule (CONTRACT 5.5; no foreign
    # keys, as parent_id: migration 0007)
    Column("strategy_id", String(36), nullable=True),
    Column("schedule_id", String(36), nullable=True),
    # the submitting request's W3C traceparent (migration 0009)
    Column("trace", String(55), nullable=True),
    # a succeeded job's manifest.json, written as it finishes (migration 0012)
    Column("manifest", JsonDoc, nullable=True),
    UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_user_idempotency_key"),
    Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    Index("ix_jobs_strategy_id", "strategy_id"),
)
# a user's jobs newest first (GET /v1/jobs), and those in one state or of one model
# (?status=, ?model=, the console's filters): without the last two a page walks every job
# of the user to find the few that match (migration 0013). Partial, as the list: a
# sharded job's shards are never listed, so they have no entries to walk past or write
# (migration 0014)
for _columns in ((), (jobs.c.status,), (jobs.c.model,)):
    Index(
        "_".join(["ix_jobs_user", *(c.name for c in _columns), "created"]),
        jobs.c.user_id,
        *_columns,
        jobs.c.created_at,
        jobs.c.id,
        postgresql_where=jobs.c.parent_id.is_(None),
        sqlite_where=jobs.c.parent_id.is_(None),
    )

# Per user: jobs queued or running now, and jobs submitted on ``day`` (UTC). Changed by
# the statements that create a job or end it, so the counts are exact (CONTRACT 5.1).
job_quotas = Table(
    "job_quotas",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("active", Integer, nullable=False),
    Column("day", Date, nullable=False),
    Column("submitted", Integer, nullable=False),
)

job_events = Table(
    "job_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(36), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    # the webhook scan reads the events of a recent window (webhook_rows.py)
    Index("ix_job_events_at", "at"),
)

# Webhooks (CONTRACT 5.4): ``events`` as a comma-separated list; the secret is kept,
# sealed (adapters/sealed.py), to sign deliveries (it is shown to its user once).
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("events", String(200), nullable=False),
    Column("secret", String(400), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime(), nullable=True),
)

# One row per webhook, job and event type, made from ``job_events`` by the scan: the
# deliveries' outbox. ``id`` is the delivery id a receiver sees on every retry.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id"), nullable=False),
    Column("job_id", String(36), nullable=False),
    Column("type", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    UniqueConstraint("webhook_id", "job_id", "type", name="uq_webhook_deliveries_once"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

# Strategies: saved, validated job templates (CONTRACT 5.5).
strategies = Table(
    "strategies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("model", String(64), nullable=False),
    Column("params", JsonDoc, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime(), nullable=True),
)

# A strategy's cron schedules; ``last_fire_at`` moves forward only (a guarded update),
# so two ticks never both take a fire time.
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("strategy_id", String(36), ForeignKey("strategies.id"), nullable=False),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_fire_at", UTCDateTime(), nullable=True),
    Column("deleted_at", UTCDateTime(), nullable=True),
)

# How far the webhook scan has read ``job_events`` (one row).
webhook_scans = Table(
    "webhook_scans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scanned_until", UTCDateTime(), nullable=False),
)

# The embedded queue's table (unused in gcp mode, where Pub/Sub holds the messages).
queue_messages = Table(
    "queue_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(36), nullable=False),
    Column("enqueued_at", UTCDateTime(), nullable=False),
    Column("visible_at", UTCDateTime(), nullable=False, index=True),
    Column("deliveries", Integer, nullable=False, default=0),
)

# gcp mode: jobs to publish, written in the same transaction as the job row.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(36), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_unsent", "sent_at", "id"),
)

# Paper portfolios (CONTRACT 6.1; domain/portfolios.py). A day is booked once: the
# primary key (portfolio, day) is the guard two steppers race on.
portfolios = Table(
    "portfolios",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("strategy_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("cash", Float, nullable=False),
    Column("start", Date, nullable=False),
    Column("params", JsonDoc, nullable=False),
    Column("max_drawdown_alert", Float, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime(), nullable=True),
)

portfolio_days = Table(
    "portfolio_days",
    metadata,
    Column("portfolio_id", String(36), ForeignKey("portfolios.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("equity", Float, nullable=False),
    Column("cash", Float, nullable=False),
    Column("drawdown", Float, nullable=False),
    # the book after the day, JSON as text: floats round-trip exactly
    Column("state", Text, nullable=False),
    Column("carried", String(2000), nullable=False),
    UniqueConstraint("portfolio_id", "seq", name="uq_portfolio_days_seq"),
)

portfolio_orders = Table(
    "portfolio_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio_id", String(36), ForeignKey("portfolios.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("price", Float, nullable=False),
    Column("notional", Float, nullable=False),
    Column("cost", Float, nullable=False),
    Column("reason", String(16), nullable=False),
    Index("ix_portfolio_orders_portfolio", "portfolio_id", "id"),
)

portfolio_trades = Table(
    "portfolio_trades",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("portfolio_id", String(36), ForeignKey("portfolios.id"), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("entry_date", Date, nullable=False),
    Column("entry_price", Float, nullable=False),
    Column("exit_date", Date, nullable=False),
    Column("exit_price", Float, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("pnl", Float, nullable=False),
    Column("trade_return", Float, nullable=False),
    Column("days_held", Integer, nullable=False),
    Column("exit_reason", String(16), nullable=False),
    Index("ix_portfolio_trades_portfolio", "portfolio_id", "id"),
)

# Alerts for webhooks beside job events (CONTRACT 6.1); ``key`` makes each once. A
# delivery of one keeps the alert's id in ``webhook_deliveries.job_id``.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("key", String(300), nullable=False, unique=True),
    Column("user_id", String(36), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    Column("body", JsonDoc, nullable=False),
)

# The audit trail (CONTRACT 6.2; domain/audit.py): written in each change's transaction.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("actor_id", String(36), nullable=True),
    Column("actor_name", String(200), nullable=False),
    Column("address", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("details", JsonDoc, nullable=False),
)
