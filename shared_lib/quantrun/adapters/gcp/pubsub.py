"""Publishing job ids to the ``quantrun-jobs`` topic (the outbox relay's ``Publisher``).

The relay hands over every job it has at once, so each hand-over goes out as one
``Publish`` RPC (up to 1,000 messages): the client library's batching publisher would
add a future per message, a thread per batch and a wait for the batch to fill, and
batch nothing the relay has not batched already. The RPC has a bounded retry and
timeout; a retried RPC may publish twice, which the guarded claim makes harmless.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from quantrun.adapters.gcp.clients import PING_SECONDS, bounded_retry
from quantrun.domain.messages import JobMessage

MAX_MESSAGES_PER_REQUEST = 1000  # Pub/Sub's limit for one Publish request


def encode_job_message(message: JobMessage) -> tuple[bytes, dict[str, str]]:
    """The message's data and attributes: ``job_id``, ``traceparent`` when the job
    has a trace (the worker's log lines for the job carry it), and ``quick`` when the API
    found the job quick: a push worker runs it on the request's own thread."""
    attributes = {"job_id": message.job_id}
    if message.trace:
        attributes["traceparent"] = message.trace
    if message.quick:
        attributes["quick"] = "true"
    return json.dumps({"job_id": message.job_id}).encode(), attributes


def encode_step_message(portfolio_id: str) -> tuple[bytes, dict[str, str]]:
    """A request to step a paper portfolio (CONTRACT 6.1), on the jobs topic: the worker
    tells it from a job's message by its ``portfolio_id`` attribute."""
    return json.dumps({"portfolio_id": portfolio_id}).encode(), {"portfolio_id": portfolio_id}


class PubSubPublisher:
    def __init__(self, client: Any, project: str, topic: str, *, timeout: float = 30.0) -> None:
        self._client = client
        self._topic = client.topic_path(project, topic)
        self._timeout = timeout

    def ping(self) -> None:
        self._client.get_topic(
            request={"topic": self._topic},
            timeout=PING_SECONDS,
            retry=bounded_retry(PING_SECONDS),
        )

    def publish_step(self, portfolio_id: str) -> None:
        """Ask a worker to step the portfolio; ``TransientError`` when it cannot be sent."""
        data, attributes = encode_step_message(portfolio_id)
        self.publish_one(data, attributes, what="ask a worker to step the portfolio")

    def publish_one(self, data: bytes, attributes: dict[str, str], *, what: str) -> None:
        """One message; ``TransientError`` (saying it could not ``what``) on failure."""
        from google.pubsub_v1 import PubsubMessage
        from google.pubsub_v1.services.publisher.client import PublisherClient as Gapic

        from quantrun.domain.errors import TransientError

        try:
            Gapic.publish(
                self._client,
                topic=self._topic,
                messages=[PubsubMessage(data=data, attributes=attributes)],
                retry=bounded_retry(self._timeout),
                timeout=self._timeout,
            )
        except Exception as exc:
            raise TransientError(f"cannot {what}: {exc}") from exc

    def publish_many(self, messages: Sequence[JobMessage]) -> list[Exception | None]:
        from google.pubsub_v1 import PubsubMessage
        from google.pubsub_v1.services.publisher.client import PublisherClient as Gapic

        results: list[Exception | None] = []
        for start in range(0, len(messages), MAX_MESSAGES_PER_REQUEST):
            chunk = messages[start : start + MAX_MESSAGES_PER_REQUEST]
            encoded = [
                PubsubMessage(data=data, attributes=attributes)
                for data, attributes in map(encode_job_message, chunk)
            ]
            try:
                # the generated client's Publish, not the batching override on the
                # library's client (which also carries the emulator's channel)
                Gapic.publish(
                    self._client,
                    topic=self._topic,
                    messages=encoded,
                    retry=bounded_retry(self._timeout),
                    timeout=self._timeout,
                )
                results += [None] * len(chunk)
            except Exception as exc:
                results += [exc] * len(chunk)
        return results
