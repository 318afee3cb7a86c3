"""Publishing job ids to the ``quantrun-jobs`` topic (the outbox relay's ``Publisher``)."""

from __future__ import annotations

import json
from typing import Any

from quantrun.adapters.gcp.clients import bounded_retry


def encode_job_message(job_id: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"job_id": job_id}).encode(), {"job_id": job_id}


class PubSubPublisher:
    def __init__(self, client: Any, project: str, topic: str, *, timeout: float = 30.0) -> None:
        self._client = client
        self._topic = client.topic_path(project, topic)
        self._timeout = timeout

    def ping(self) -> None:
        self._client.get_topic(
            request={"topic": self._topic},
            timeout=self._timeout,
            retry=bounded_retry(self._timeout),
        )

    def publish_many(self, job_ids: list[str]) -> list[Exception | None]:
        futures = []
        for job_id in job_ids:
            data, attrs = encode_job_message(job_id)
            futures.append(
                self._client.publish(
                    self._topic,
                    data,
                    retry=bounded_retry(self._timeout),
                    timeout=self._timeout,
                    **attrs,
                )
            )
        results: list[Exception | None] = []
        for future in futures:
            try:
                future.result(timeout=self._timeout)
                results.append(None)
            except Exception as exc:
                results.append(exc)
        return results
