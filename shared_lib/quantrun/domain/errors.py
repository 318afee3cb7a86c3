"""Errors that cross layers, each with a stable snake_case ``code`` users can rely on."""

from __future__ import annotations


class QuantRunError(Exception):
    """Base class: ``code`` is machine readable, ``str(self)`` is for humans."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class ModelInputError(QuantRunError):
    """A model rejected its input (infeasible problem, too little history, ...).

    Terminal for a job (it fails with this code and message); 422 for a synchronous run.
    """

    code = "invalid_input"


class InvalidInput(QuantRunError):
    """A request's value the use case refuses (a cursor, a query, an expiry): 422."""

    code = "validation_error"


class NotFound(QuantRunError):
    code = "not_found"


class Conflict(QuantRunError):
    code = "conflict"


class InputTooLarge(QuantRunError):
    """An input whose estimated cost is over a limit: refused before any work."""

    code = "input_too_large"

    def __init__(self, message: str, *, estimate: float, limit: float) -> None:
        super().__init__(message)
        self.estimate, self.limit = estimate, limit


class JobCancelled(QuantRunError):
    """Raised at a progress checkpoint when the job was cancelled or its lease was lost."""

    code = "cancelled"


class TransientError(QuantRunError):
    """A dependency failed in a way worth retrying (the queue redelivers the job)."""

    code = "unavailable"


class ProviderError(QuantRunError):
    """No market-data provider supplied a symbol (each one's outcome in the message)."""

    code = "provider_error"


class RateLimited(ProviderError):
    """A provider refused for too many requests, still after the client's retries;
    ``retry_after`` is how long it asked to wait (seconds), when it said."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthenticated(QuantRunError):
    """A request's credentials (API key, push token) are missing or not accepted."""

    code = "unauthenticated"
