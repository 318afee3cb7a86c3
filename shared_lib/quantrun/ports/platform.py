"""The platform's ports: artifact storage, secrets, and the verifiers of push requests
and Google identities."""

from __future__ import annotations

from typing import Protocol

from quantrun.domain.artifacts import ArtifactRef, StoredArtifact


class ArtifactStore(Protocol):
    """Job outputs at ``artifact_key(job id, name, attempt)`` (Cloud Storage / a folder):
    ``jobs/<job id>/<name>``, a retried attempt's under ``attempt-<n>/``."""

    def ping(self) -> None: ...
    def put(
        self, job_id: str, name: str, data: bytes, content_type: str, *, attempt: int = 1
    ) -> ArtifactRef:
        """Create-only: an existing object with other bytes is never overwritten."""
        ...

    def get(self, job_id: str, name: str, *, attempt: int = 1) -> StoredArtifact | None: ...
    def signed_url(
        self, job_id: str, name: str, *, attempt: int = 1, content_type: str | None = None
    ) -> str | None:
        """A short-lived download URL, or None when the API should serve the bytes. Any
        type but HTML is served as an attachment (a browser saves it, never renders it)."""
        ...


class Secrets(Protocol):
    """Named secrets (database password, provider API keys): env first, then Secret Manager."""

    def get(self, name: str) -> str | None: ...


class PushVerifier(Protocol):
    """Checks that a push request comes from our Pub/Sub subscription."""

    def verify(self, authorization: str | None) -> None:
        """Raises ``Unauthenticated`` when the ``Authorization`` header is not accepted."""
        ...

    def offline(self) -> bool:
        """True when ``verify`` would make no network call now (what it needs is held)."""
        ...


class IdentityVerifier(Protocol):
    """Verifies a third party's identity token (Google ID tokens)."""

    def verify(self, token: str) -> tuple[str, float]:
        """(the verified email, the token's expiry as a Unix time); ``Unauthenticated``
        when the token is not accepted, ``TransientError`` when it cannot be checked."""
        ...
