"""API keys: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from quantrun.jobs.domain import User
from quantrun.ports import JobStore

KEY_PREFIX = "qr_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a plain hash is enough (no salt or slow hash needed).
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: JobStore, user_name: str, key: str | None = None) -> tuple[User, str]:
    """Create the user if needed and register ``key`` (a new random one by default)."""
    user = store.get_or_create_user(user_name)
    key = key or generate_key()
    store.add_api_key(user.id, hash_key(key), key[:8])
    return user, key


def authenticate(store: JobStore, key: str) -> User | None:
    if not key:
        return None
    return store.user_for_key_hash(hash_key(key))
