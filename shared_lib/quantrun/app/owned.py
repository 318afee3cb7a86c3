"""Records a user owns (strategies, schedules, portfolios, webhooks, API keys): the checks
every use case on them makes. Another user's record is not found, as a missing one."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from quantrun.domain.errors import NotFound
from quantrun.domain.quota import QuotaExceeded

T = TypeVar("T")


def found(record: T | None, what: str, field: str | None = None) -> T:
    """``record``, or ``NotFound("no <what>")`` (naming ``field`` when a request's field
    named it)."""
    if record is None:
        raise NotFound(f"no {what}", field=field)
    return record


def removed(done: bool, what: str) -> None:
    """A store's delete or update touched no row of the user's: ``NotFound``."""
    if not done:
        raise NotFound(f"no {what}")


def admitted(added: bool, quota: str, most: int | None, now: datetime) -> None:
    """The store refused an add because the user already holds ``most``: ``QuotaExceeded``
    (429) naming ``quota``."""
    if not added:
        assert most is not None
        raise QuotaExceeded(quota, limit=most, now=now)
