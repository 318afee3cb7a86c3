"""API keys: random, shown once, stored only as a SHA-256 hash, known by their prefix.

A key works until it is revoked or expires. Each process remembers a valid key for at
most the auth cache's TTL (5 s at most, a setting), so a revocation or an expiry takes
effect on every process within it; the revoking process forgets the key at once. A
key's ``last_used_at`` is written at most once a minute, however busy the key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quantrun.app.audit import entry
from quantrun.app.cache import SingleFlightCache
from quantrun.clock import utcnow
from quantrun.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from quantrun.domain.quota import QuotaExceeded
from quantrun.domain.users import ApiKey, HashedKey, User
from quantrun.ports import IdentityVerifier, JobStore

KEY_PREFIX = "qr_"
# characters of a key shown and stored in clear: "qr_" and 9 of its 43 random ones
PREFIX_LENGTH = 12
LAST_USED_EVERY = timedelta(minutes=1)
MAX_EXPIRY_DAYS = 3650  # a key an administrator makes (quantrun keys create)
MAX_ISSUED_DAYS = 365  # a key a user makes for themselves (POST /v1/keys)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a plain hash is enough (no salt or slow hash needed).
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


@dataclass(frozen=True)
class NewKey:
    user: User
    key: str  # shown once
    stored: ApiKey  # what can be shown again

    @property
    def prefix(self) -> str:
        return self.stored.prefix


def create_key(
    store: JobStore,
    user_name: str,
    key: str | None = None,
    *,
    expires_at: datetime | None = None,
) -> NewKey:
    """Create the user if needed and register ``key`` (a new random one by default, whose
    prefix no other key has)."""
    made = _register_key(store, user_name, key, expires_at=expires_at, most=None, actor=None)
    assert made is not None  # no cap, no refusal
    return made


def _register_key(
    store: JobStore,
    user_name: str,
    key: str | None,
    *,
    expires_at: datetime | None,
    most: int | None,
    actor: User | None,
) -> NewKey | None:
    """``create_key``; None when the user already holds ``most`` usable keys. A new key
    is audited as ``actor``'s (None: the command line), by its prefix only."""
    user = store.get_or_create_user(user_name)
    if key is None:
        key = generate_key()
        while store.prefix_taken(key_prefix(key)):  # 54 random bits: practically never
            key = generate_key()
    expires = None if expires_at is None else expires_at.isoformat()
    audit = entry(
        actor, "key.create", key_prefix(key), utcnow(), user=user.name, expires_at=expires
    )
    hashed = HashedKey(user.id, hash_key(key), key_prefix(key), expires_at)
    if not store.add_api_key(hashed, most=most, audit=audit):
        return None
    stored = store.api_key(hashed.key_hash)
    assert stored is not None
    return NewKey(user, key, stored)


def issue_key(
    *,
    store: JobStore,
    user: User,
    expires_in_days: int | None,
    now: datetime,
    default_days: int = 90,
    most: int | None = None,
) -> NewKey:
    """One more key for a user who already has one (``POST /v1/keys``): it expires after
    ``expires_in_days`` (1 to 365; ``default_days`` when not given), and the user may hold
    at most ``most`` usable keys (``QuotaExceeded``)."""
    days = default_days if expires_in_days is None else expires_in_days
    if not 1 <= days <= MAX_ISSUED_DAYS:
        raise InvalidInput(
            f"expires in {days} days: give 1 to {MAX_ISSUED_DAYS}", field="expires_in_days"
        )
    made = _register_key(
        store, user.name, None, expires_at=expiry(now, days), most=most, actor=user
    )
    if made is None:
        assert most is not None
        raise QuotaExceeded("api_keys", limit=most, now=now)
    return made


def expiry(now: datetime, days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires in {days} days: give 1 to {MAX_EXPIRY_DAYS}")
    return now + timedelta(days=days)


@dataclass(frozen=True)
class _Valid:
    user: User
    expires_at: datetime | None

    def user_at(self, now: datetime) -> User | None:
        return self.user if self.expires_at is None or now < self.expires_at else None


class _Refused(Exception):
    pass


def _cache_key(key: str) -> tuple[str, str]:
    return ("api-key", hash_key(key))


def cached_user(key: str, cache: SingleFlightCache, now: datetime) -> User | None:
    """The key's user if the cache remembers it as valid (no database call; None: ask
    ``authenticate``)."""
    hit = cache.peek(_cache_key(key)) if key else None
    return hit.user_at(now) if isinstance(hit, _Valid) else None


def _remembered(
    token: str, load: Callable[[], _Valid], now: datetime, cache: SingleFlightCache | None
) -> User | None:
    """Who ``load`` says the token is, through the cache (refusals are never kept)."""
    try:
        valid = cache.get(_cache_key(token), load) if cache is not None else load()
    except _Refused:
        return None
    return valid.user_at(now)


@dataclass(frozen=True)
class GoogleSignIn:
    """Google ID tokens accepted beside API keys, for these emails or domains."""

    verifier: IdentityVerifier
    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, verifier: IdentityVerifier, emails: Iterable[str], domains: Iterable[str]
    ) -> GoogleSignIn:
        return cls(
            verifier,
            frozenset(e.lower() for e in emails),
            frozenset(d.lower().lstrip("@") for d in domains),
        )

    def allows(self, email: str) -> bool:
        return email in self.emails or email.rsplit("@", 1)[-1] in self.domains


def authenticate_bearer(
    *,
    store: JobStore,
    token: str,
    now: datetime,
    cache: SingleFlightCache | None = None,
    google: GoogleSignIn | None = None,
) -> User | None:
    """The user a bearer token names: an API key, or (when configured) a Google ID token
    of an allowed email, whose user is the email. None when neither accepts it."""
    if token.startswith(KEY_PREFIX) or google is None:
        return authenticate(store, token, now, cache, google)
    signin = google  # narrowed for the closure

    def load() -> _Valid:
        try:
            email, expires = signin.verifier.verify(token)
        except Unauthenticated:
            raise _Refused from None
        if not signin.allows(email):
            raise _Refused
        return _Valid(store.get_or_create_user(email), datetime.fromtimestamp(expires, UTC))

    return _remembered(token, load, now, cache)


def authenticate(
    store: JobStore,
    key: str,
    now: datetime,
    cache: SingleFlightCache | None = None,
    google: GoogleSignIn | None = None,
) -> User | None:
    """The key's user, or None when it is unknown, revoked or expired. With a cache a
    valid key is remembered for its TTL; refused keys never are, so a new key works at
    once. With Google sign-in configured, a key of a user named by an email (one who
    signed in with Google and made keys) works only while the email is on the
    allow-lists: taking someone off them ends their keys too."""
    if not key:
        return None
    key_hash = hash_key(key)

    def load() -> _Valid:
        found = store.api_key(key_hash)
        if found is None or not found.usable(now):
            raise _Refused
        named_by_email = "@" in found.user_name
        if google is not None and named_by_email and not google.allows(found.user_name.lower()):
            raise _Refused
        if found.last_used_at is None or found.last_used_at < now - LAST_USED_EVERY:
            store.touch_api_key(key_hash, now=now, unless_since=now - LAST_USED_EVERY)
        return _Valid(User(found.user_id, found.user_name, found.user_role), found.expires_at)

    return _remembered(key, load, now, cache)


def list_keys(*, store: JobStore, user: User | str | None) -> list[ApiKey]:
    """A user's keys (the user, or their name), or everyone's (the CLI's admin view)."""
    if isinstance(user, str):
        found = store.find_user(user)
        if found is None:
            raise NotFound(f"no user {user!r}")
        user = found
    return store.list_api_keys(user.id if user is not None else None)


def revoke_key(
    *,
    store: JobStore,
    prefix: str,
    now: datetime,
    user: User | None = None,
    cache: SingleFlightCache | None = None,
) -> list[ApiKey]:
    """Revoke the key with this prefix (the user's own, or any with None); the keys as
    they now are. Unknown (or another user's): ``NotFound``; a prefix several users'
    keys share (keys made before prefixes were 12 characters): ``Conflict``."""
    mine = [k for k in store.list_api_keys(user.id if user else None) if k.prefix == prefix]
    if not mine:
        raise NotFound(f"no API key with prefix {prefix!r}")
    owners = {k.user_id for k in mine}
    if len(owners) > 1:
        raise Conflict(f"keys of {len(owners)} users share prefix {prefix!r}; revoke per user")
    audit = entry(user, "key.revoke", prefix, now, user=mine[0].user_name)
    store.revoke_api_keys(prefix, now=now, user_id=mine[0].user_id, audit=audit)
    if cache is not None:
        cache.clear()  # this process forgets at once; the others within the TTL
    return [k for k in store.list_api_keys(mine[0].user_id) if k.prefix == prefix]
