"""``ArtifactStore`` on Cloud Storage: objects ``artifact_key(job id, name, attempt)``
(``jobs/<job id>/<name>``; a retried attempt's under ``attempt-<n>/``).

Writes are create-only (``if_generation_match=0``): a retried job that produces the same
bytes succeeds, one that would overwrite different bytes fails. Downloads go through
short-lived V4 signed URLs: signed with a key when the credentials hold one (tests,
service-account keys), or through IAM signBlob on Cloud Run (``service_account_email`` +
an access token), where the runtime identity holds no key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quantrun.adapters.gcp.clients import PING_SECONDS, bounded_retry
from quantrun.domain.artifacts import ArtifactRef, StoredArtifact, artifact_key
from quantrun.domain.errors import Conflict, TransientError


class GcsArtifactStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        url_seconds: int = 900,
        signing_credentials: Any = None,
        signing_email: str | None = None,
        api_endpoint: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._client = client
        self._bucket = client.bucket(bucket)
        self._url_seconds = url_seconds
        self._signing_credentials = signing_credentials
        self._signing_email = signing_email
        self._api_endpoint = api_endpoint
        self._timeout = timeout

    def _blob(self, job_id: str, name: str, attempt: int) -> Any:
        return self._bucket.blob(artifact_key(job_id, name, attempt))

    def ping(self) -> None:
        self._client.get_bucket(
            self._bucket.name, timeout=PING_SECONDS, retry=bounded_retry(PING_SECONDS)
        )

    def put(
        self, job_id: str, name: str, data: bytes, content_type: str, *, attempt: int = 1
    ) -> ArtifactRef:
        from google.api_core import exceptions

        blob = self._blob(job_id, name, attempt)
        try:
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=0,
                timeout=self._timeout,
                retry=bounded_retry(self._timeout),
            )
        except exceptions.PreconditionFailed:
            if blob.download_as_bytes(timeout=self._timeout) != data:
                raise Conflict(
                    f"artifact {name} of job {job_id} exists with other content"
                ) from None
        except (exceptions.ServerError, exceptions.TooManyRequests, ConnectionError) as exc:
            raise TransientError(f"Cloud Storage is unavailable: {exc}") from exc
        return ArtifactRef(name, content_type, len(data), attempt)

    def get(self, job_id: str, name: str, *, attempt: int = 1) -> StoredArtifact | None:
        from google.api_core import exceptions

        blob = self._blob(job_id, name, attempt)
        try:
            data = blob.download_as_bytes(timeout=self._timeout)
        except exceptions.NotFound:
            return None
        return StoredArtifact(
            content_type=blob.content_type or "application/octet-stream", data=data
        )

    def signed_url(
        self, job_id: str, name: str, *, attempt: int = 1, content_type: str | None = None
    ) -> str | None:
        blob = self._blob(job_id, name, attempt)
        options: dict[str, Any] = {
            "version": "v4",
            "method": "GET",
            "expiration": timedelta(seconds=self._url_seconds),
        }
        # the signature covers these: the bucket answers with them, whatever the object says
        if not (content_type or "").startswith("text/html"):
            options["response_disposition"] = f'attachment; filename="{name}"'
        if content_type:
            options["response_type"] = content_type
        if self._api_endpoint:
            options["api_access_endpoint"] = self._api_endpoint
        if self._signing_credentials is not None:
            options["credentials"] = self._signing_credentials
        elif self._signing_email:
            import google.auth
            import google.auth.transport.requests

            credentials, _ = google.auth.default()
            credentials.refresh(google.auth.transport.requests.Request())
            options["service_account_email"] = self._signing_email
            options["access_token"] = credentials.token
        return str(blob.generate_signed_url(**options))
