"""A job keeps its submitting request's trace: on its row, as the Pub/Sub message's
``traceparent`` attribute (published at once or swept up later), and on the lines the
API and the worker log for it (CONTRACT 6.4). A quick job's message says so."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devtools.emulators import Emulators
from devtools.jobs import HULL_CALL, wait_for_job
from quantrun.adapters.gcp.clients import publisher_client
from quantrun.adapters.gcp.pubsub import PubSubPublisher
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.outbox import OutboxQueue
from quantrun.domain.jobs import Job, JobStatus
from quantrun.logging import TRACE_FIELD, configure_logging
from tests.harness.api import unlimited_api

W3C = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


def _job(user_id: str, trace: str | None) -> Job:
    return Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model="black_scholes",
        params={},
        status=JobStatus.QUEUED,
        created_at=datetime.now(UTC),
        trace=trace,
    )


def test_the_row_keeps_the_trace(engine: Engine) -> None:
    store = SqlJobStore(engine)
    user = store.get_or_create_user("u").id
    traced, plain = store.create_job(_job(user, W3C)), store.create_job(_job(user, None))
    assert store.get_job(traced.id) == replace(traced, trace=W3C)
    got = store.get_job(plain.id)
    assert got is not None and got.trace is None


def test_messages_carry_the_trace_published_or_swept(engine: Engine, gcp_env: Emulators) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    topic = f"trace-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(gcp_env.project, topic)
    publisher.create_topic(name=topic_path)
    subscription = subscriber.subscription_path(gcp_env.project, topic + "-pull")
    subscriber.create_subscription(name=subscription, topic=topic_path)
    store = SqlJobStore(engine, outbox=True)
    user = store.get_or_create_user("u").id
    published, swept, untraced = (
        store.create_job(_job(user, trace)) for trace in (W3C, OTHER, None)
    )
    queue = OutboxQueue(
        engine, PubSubPublisher(publisher_client(), gcp_env.project, topic, timeout=10)
    )
    # as a submit does: handed over with its trace (and, for a quick job, that mark)
    queue.publish(published.id, W3C, quick=True)
    assert queue.flush() == 2  # the other two as a sweep finds them: the trace from the row

    attributes: dict[str, dict[str, str]] = {}
    for _ in range(10):
        received = subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
        for message in received.received_messages:
            attrs = dict(message.message.attributes)
            attributes[attrs["job_id"]] = attrs
        if received.received_messages:
            subscriber.acknowledge(
                subscription=subscription,
                ack_ids=[m.ack_id for m in received.received_messages],
            )
        if len(attributes) == 3:
            break
    assert attributes[published.id]["traceparent"] == W3C
    assert attributes[swept.id]["traceparent"] == OTHER
    assert "traceparent" not in attributes[untraced.id]
    # the row keeps no quick mark: what a sweep publishes runs in the worker's thread pool
    assert attributes[published.id]["quick"] == "true"
    assert "quick" not in attributes[swept.id] and "quick" not in attributes[untraced.id]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("INFO", stream=out, log_format="json")
    yield out
    configure_logging("INFO")


def test_the_api_and_the_worker_log_the_requests_trace(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    """Over HTTP in embedded mode: the submit's line and the run's line share the trace
    the request's traceparent header named; a request without one gets a trace of its own."""
    body = {"model": "black_scholes", "params": HULL_CALL}
    with unlimited_api(tmp_path) as api, api.client("tracer") as client:
        traced = client.post("/v1/jobs", json=body, headers={"traceparent": W3C}).json()
        untraced = client.post("/v1/jobs", json=body).json()
        for job in (traced, untraced):
            wait_for_job(client, job["id"])
    by_job: dict[str, dict[str, dict[str, object]]] = {}
    for raw in log_lines.getvalue().splitlines():
        line = json.loads(raw)
        if "job_id" in line:
            by_job.setdefault(str(line["job_id"]), {})[str(line["message"])] = line
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert by_job[traced["id"]]["job submitted"][TRACE_FIELD] == trace_id
    assert by_job[traced["id"]]["job finished"][TRACE_FIELD] == trace_id
    other = by_job[untraced["id"]]
    assert other["job submitted"][TRACE_FIELD] == other["job finished"][TRACE_FIELD] != trace_id
