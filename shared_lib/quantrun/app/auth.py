"""API keys: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from quantrun.app.cache import SingleFlightCache
from quantrun.domain.users import User
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


class _UnknownKey(Exception):
    pass


def cached_user(key: str, cache: SingleFlightCache) -> User | None:
    """The key's user if the cache remembers it (no database call; None: ask
    ``authenticate``)."""
    user = cache.peek(("api-key", hash_key(key))) if key else None
    return user if isinstance(user, User) else None


def authenticate(store: JobStore, key: str, cache: SingleFlightCache | None = None) -> User | None:
    """The key's user, or None. With a cache, known keys are remembered for its TTL (one
    database round trip saved per request); unknown keys are never cached, so a key works
    as soon as it is created."""
    if not key:
        return None
    key_hash = hash_key(key)
    if cache is None:
        return store.user_for_key_hash(key_hash)

    def load() -> User:
        user = store.user_for_key_hash(key_hash)
        if user is None:
            raise _UnknownKey
        return user

    try:
        return cache.get(("api-key", key_hash), load)
    except _UnknownKey:
        return None
