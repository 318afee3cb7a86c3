"""What the routes document beside their success: the error responses (each an
``ErrorResponse``, CONTRACT 2) and a delete's empty 204."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from quantrun_api.schemas import ErrorResponse

Responses = dict[int | str, dict[str, Any]]

# A delete answers 204 with no body: the handler returns None.
NO_CONTENT: dict[str, Any] = {"status_code": 204, "response_class": Response}


def errors(*codes: int | tuple[int, str]) -> Responses:
    """The error responses of a route: a status code, or (code, what it means there)."""
    documented: Responses = {}
    for code in codes:
        status, description = code if isinstance(code, tuple) else (code, "")
        documented[status] = {"model": ErrorResponse}
        if description:
            documented[status]["description"] = description
    return documented


def over_quota(quota: str) -> tuple[int, str]:
    """The 429 of a route that adds to something a user may hold only so many of."""
    return 429, f"`quota_exceeded`: {quota}"
