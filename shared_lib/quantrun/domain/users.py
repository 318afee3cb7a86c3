"""Users, and the API keys that identify them.

A key is random (shown once, stored only as a hash) and known afterwards by its prefix.
It works until it is revoked or its expiry passes; ``ApiKey.usable`` is that rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str = "member"  # ``domain.audit.ROLES``: admins may use the admin routes

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class ApiKey:
    prefix: str
    user_id: str
    user_name: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    user_role: str = "member"

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class HashedKey:
    """A new key as the store keeps it: the hash of the secret, never the secret."""

    user_id: str
    key_hash: str
    prefix: str
    expires_at: datetime | None = None
