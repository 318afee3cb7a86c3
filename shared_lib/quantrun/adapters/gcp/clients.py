"""Client construction, in one place. An emulator host (from the settings) switches a
client to its emulator: ``BIGQUERY_EMULATOR_HOST`` (an ``http://`` URL) and
``STORAGE_EMULATOR_HOST``; the Pub/Sub client reads ``PUBSUB_EMULATOR_HOST`` itself."""

from __future__ import annotations

from typing import Any

from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials

# A readiness check answers within seconds (Cloud Run's probe, an operator's curl): a
# dependency that does not answer in this long is reported down, not waited for.
PING_SECONDS = 3.0


def bounded_retry(timeout: float) -> Retry:
    """Retry transient errors with backoff, giving up after ``timeout`` seconds in all."""
    return Retry(initial=0.2, maximum=5.0, multiplier=2.0, timeout=timeout)


def bigquery_client(project: str, *, emulator: str | None = None) -> Any:
    from google.cloud import bigquery

    if emulator:
        import google.cloud.bigquery.client as bq_client

        # The emulator rejects multipart uploads; resumable ones work (emulator path only).
        bq_client._MAX_MULTIPART_SIZE = 0
        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": emulator},
        )
    return bigquery.Client(project=project)


def storage_client(project: str, *, emulator: str | None = None) -> Any:
    """With ``emulator`` set the library itself reads ``STORAGE_EMULATOR_HOST`` for the
    endpoint; this only drops the credentials it would otherwise look for."""
    from google.cloud import storage  # type: ignore[attr-defined]

    if emulator:
        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


def publisher_client() -> Any:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    # PubSubPublisher sends its own batches (one Publish RPC per relay hand-over); the
    # library's client still carries the emulator's channel and the admin methods
    return pubsub_v1.PublisherClient()
