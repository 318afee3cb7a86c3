"""Helpers the integration tests share: a queued job in the store, an index's definition
as the database declares it, and a topic with a pull subscription on the Pub/Sub
emulator to read what was published."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.domain.jobs import Job, JobStatus


def queued_job(store: SqlJobStore, user_id: str, key: str | None = None) -> Job:
    """A new black_scholes job, recorded as queued (with its outbox row in gcp mode)."""
    return store.create_job(
        Job(
            id=str(uuid.uuid4()),
            user_id=user_id,
            model="black_scholes",
            params={},
            status=JobStatus.QUEUED,
            created_at=datetime.now(UTC),
            idempotency_key=key,
        )
    )


def index_sql(engine: Engine, name: str) -> str:
    """The index's CREATE statement as the database keeps it ("None" when there is none)."""
    if engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    with engine.connect() as conn:
        return str(conn.execute(text(query), {"name": name}).scalar())


def pulled_topic(project: str, prefix: str) -> tuple[str, Callable[[int], list[str]]]:
    """A new topic and ``receive(expected)``: the job ids published to it, pulled and
    acknowledged until ``expected`` arrived and a pull comes back empty (so duplicates
    show), or for at most 10 s. Checks each message's data and attribute agree."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    publisher.create_topic(name=topic_path)
    sub_path = subscriber.subscription_path(project, topic + "-pull")
    subscriber.create_subscription(name=sub_path, topic=topic_path)

    def receive(expected: int) -> list[str]:
        ids: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            messages = subscriber.pull(
                subscription=sub_path, max_messages=100, timeout=2
            ).received_messages
            if not messages and len(ids) >= expected:
                break
            for msg in messages:
                ids.append(json.loads(msg.message.data)["job_id"])
                assert msg.message.attributes["job_id"] == ids[-1]
            if messages:
                subscriber.acknowledge(subscription=sub_path, ack_ids=[m.ack_id for m in messages])
        return ids

    return topic, receive
