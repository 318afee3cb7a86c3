"""Audit entries (``domain/audit.py``) as the use cases make them: the actor is the user
the request authenticated (None: an operator at the command line), the address the one
the API process saw for the request (``using_address``: the API's request middleware sets
it for the request's run; Cloud Run's front end puts the caller first in
``X-Forwarded-For``)."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from quantrun.domain.audit import AuditEntry
from quantrun.domain.users import User

_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "quantrun_request_address", default=None
)


@contextmanager
def using_address(address: str | None) -> Iterator[None]:
    token = _address.set(address)
    try:
        yield
    finally:
        _address.reset(token)


def entry(
    actor: User | None, action: str, subject_id: str, now: datetime, **details: Any
) -> AuditEntry:
    return AuditEntry(
        id=str(uuid.uuid4()),
        at=now,
        actor_id=None if actor is None else actor.id,
        actor_name="command line" if actor is None else actor.name,
        address=_address.get(),
        action=action,
        subject_id=subject_id,
        details=details,
    )


def document(e: AuditEntry) -> dict[str, Any]:
    """An entry as ``GET /v1/audit`` shows it."""
    return {
        "id": e.id,
        "at": e.at.isoformat().replace("+00:00", "Z"),
        "actor": {"id": e.actor_id, "name": e.actor_name},
        "address": e.address,
        "action": e.action,
        "subject": {"type": e.subject_type, "id": e.subject_id},
        "details": e.details,
    }
