"""The audit trail (CONTRACT 6.2): who changed what, when, from which address.

Every create, change and delete of API keys, strategies, schedules, portfolios,
webhooks and roles is one ``AuditEntry``, stored in the same transaction as the change
(a change that rolls back leaves no entry; an entry always has its change). ``action``
is ``<subject>.<verb>`` (``key.create``, ``strategy.update``, ``role.grant`` ...).
``details`` says what changed, never a secret (a key's prefix, not the key; a webhook's
URL and events, not its secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ROLES = ("member", "admin")


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: datetime
    actor_id: str | None  # None: an operator at the command line
    actor_name: str
    address: str | None  # the request's client address (None: not an HTTP request)
    action: str
    subject_id: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def subject_type(self) -> str:
        return self.action.split(".", 1)[0]
