"""A pull runner for environments without push (``quantrun worker --pull SUBSCRIPTION``):
streaming pull with flow control, the same ``Worker.run`` and acknowledgement rule as push."""

from __future__ import annotations

import base64
import signal
import threading
from typing import Any

from quantrun.app.execute import RunOutcome
from quantrun.bootstrap import Container
from quantrun.logging import get_logger
from quantrun_worker.push import MalformedMessage, decode_envelope

log = get_logger(__name__)


def handle_pulled(container: Container, message: Any) -> None:
    envelope = {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": message.message_id,
        },
        "deliveryAttempt": message.delivery_attempt,
    }
    try:
        decoded = decode_envelope(envelope)
    except MalformedMessage as exc:
        log.error("malformed message acknowledged", extra={"fields": {"reason": str(exc)}})
        message.ack()
        return
    try:
        outcome = container.runner.run(
            decoded.job_id,
            log_fields={
                "message_id": decoded.message_id,
                "delivery_attempt": decoded.delivery_attempt,
            },
        )
    except Exception:
        log.exception("job run failed; the message will be redelivered")
        outcome = RunOutcome.RETRY
    if outcome == RunOutcome.RETRY:
        message.nack()
    else:
        message.ack()


def run_pull_worker(container: Container, *, subscription: str) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    subscriber = pubsub_v1.SubscriberClient()
    path = (
        subscription
        if "/" in subscription
        else subscriber.subscription_path(container.settings.gcp.project, subscription)
    )
    # a long job keeps its message leased (the client extends the ack deadline) for up to
    # a day; its job lease, renewed by the worker, is what guards the job itself
    flow = pubsub_v1.types.FlowControl(
        max_messages=container.settings.worker.worker_threads, max_lease_duration=24 * 3600
    )
    future = subscriber.subscribe(path, lambda m: handle_pulled(container, m), flow_control=flow)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("pull worker started", extra={"fields": {"subscription": path}})
    stop.wait()
    container.drain()  # the jobs running here go back on the queue now
    future.cancel()
    subscriber.close()
