"""What can go wrong, as exceptions carrying the API's own words.

Every error answer of the API is ``{"error": {"code", "message", "details"}}``; it is
raised as the subclass of :class:`QuantRunError` for its status, with ``code``,
``message``, ``details`` (for 422, one entry per field) and ``status``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class QuantRunError(Exception):
    """An error the API answered (or the client met on the way)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: int | None = None,
        details: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details: list[dict[str, Any]] = details or []
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status else ""
        return f"{self.code}: {self.message}{where}"


class BadRequest(QuantRunError):
    """400: the request could not be read."""


class AuthenticationError(QuantRunError):
    """401: no key, or the key is wrong, revoked or expired."""


class PermissionDenied(QuantRunError):
    """403: the key's user may not do this."""


class NotFound(QuantRunError):
    """404: no such job, strategy, artifact, ... (or it is another user's)."""


class Conflict(QuantRunError):
    """409: the job already finished, or an Idempotency-Key was reused with other params."""


class InputTooLarge(QuantRunError):
    """413: the input's cost or size is over the route's limit (``details`` says both)."""


class ValidationError(QuantRunError):
    """422: the input was refused; ``fields`` maps each named field to its message."""

    @property
    def fields(self) -> dict[str, str]:
        return {
            str(d["field"]): str(d.get("message", ""))
            for d in self.details
            if isinstance(d, Mapping) and "field" in d
        }


class RateLimited(QuantRunError):
    """429: over a rate or a quota; ``retry_after`` seconds until it may pass."""


class ServerError(QuantRunError):
    """5xx: the service failed; 503 is retried before this is raised."""


class ConnectionFailed(QuantRunError):
    """The service could not be reached (after the retries)."""


class JobFailed(QuantRunError):
    """The job ended ``failed``: ``code`` and ``message`` are the job's error."""


class JobCancelled(QuantRunError):
    """The job was cancelled: it has no result."""


class JobNotFinished(QuantRunError):
    """The job has not ended yet: call ``job.wait()`` first."""


class WaitTimeout(QuantRunError, TimeoutError):
    """``job.wait(timeout=...)`` ran out before the job ended."""


_BY_STATUS: dict[int, type[QuantRunError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: InputTooLarge,
    422: ValidationError,
    429: RateLimited,
}


def from_response(
    status: int, body: bytes, *, retry_after: float | None = None, reason: str = ""
) -> QuantRunError:
    """The exception for an error answer: the API's error object when the body is one,
    else the HTTP status and the start of the body (a proxy's page, say)."""
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else QuantRunError)
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") or []
    except (ValueError, KeyError, TypeError):
        text = body[:200].decode("utf-8", "replace").strip()
        code, message, details = f"http_{status}", text or reason or f"HTTP {status}", []
    return kind(
        message,
        code=code,
        status=status,
        details=list(details) if isinstance(details, list) else [],
        retry_after=retry_after,
    )
