"""Verify the OIDC token Pub/Sub push attaches (``Authorization: Bearer <JWT>``):
signed by Google, for our audience (the worker URL), issued to the push service account."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from quantrun.domain.errors import TransientError, Unauthenticated

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class InvalidPushToken(Unauthenticated):
    pass


GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


class GoogleCerts:
    """Google's token-signing certificates, fetched at most once per ``cache_seconds``
    (they rotate over days), so verifying a token costs no network call. When a refresh
    fails the certificates already held are used; with none held the failure is
    transient (503, which Pub/Sub and clients retry), never a refused token (401)."""

    def __init__(
        self, url: str = GOOGLE_CERTS_URL, *, cache_seconds: float = 3600.0, timeout: float = 10.0
    ) -> None:
        self._url, self._ttl, self._timeout = url, cache_seconds, timeout
        self._certs: dict[str, str] = {}
        self._fetched_at = -1e18
        self._lock = threading.Lock()

    # after a failed refresh, the certificates held serve this long before the next try
    # (else every request would wait for the failing fetch)
    RETRY_SECONDS = 60.0

    def fresh(self) -> bool:
        """Held and not due for a refresh: ``current`` would make no network call."""
        return time.monotonic() - self._fetched_at < self._ttl

    def current(self) -> dict[str, str]:
        with self._lock:
            if self.fresh():
                return self._certs
            try:
                self._certs = self._fetch()
                self._fetched_at = time.monotonic()
            except Exception as exc:
                if not self._certs:
                    raise TransientError(f"cannot fetch Google's certificates: {exc}") from exc
                self._fetched_at = time.monotonic() - self._ttl + self.RETRY_SECONDS
            return self._certs

    def _fetch(self) -> dict[str, str]:
        from google.auth.transport import requests as google_requests

        response = google_requests.Request()(url=self._url, method="GET", timeout=self._timeout)
        if response.status != 200:
            raise ValueError(f"{self._url} answered {response.status}")
        certs: dict[str, str] = json.loads(response.data)
        return certs


def google_claims(token: str, certs: GoogleCerts, audience: str) -> dict[str, Any]:
    """The claims of a Google-signed token for ``audience`` (``ValueError`` if its
    signature, audience, expiry or issuer is wrong; ``TransientError`` without certs)."""
    from google.auth import jwt

    keys = certs.current()
    try:
        claims: dict[str, Any] = dict(jwt.decode(token, certs=keys, audience=audience))
    except Exception as exc:  # google-auth raises ValueError and its own errors
        raise ValueError(str(exc)) from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise ValueError(f"issuer {claims.get('iss')!r} is not Google")
    return claims


def verify_push_token(
    authorization: str | None, *, audience: str, email: str, certs: GoogleCerts
) -> dict[str, Any]:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise InvalidPushToken("missing bearer token")
    token = authorization.split(" ", 1)[1].strip()
    try:
        claims = google_claims(token, certs, audience)
    except ValueError as exc:
        raise InvalidPushToken(f"token rejected: {exc}") from None
    if claims.get("email") != email or not claims.get("email_verified", False):
        raise InvalidPushToken(f"token is for {claims.get('email')!r}, not the push identity")
    return claims


class OidcPushVerifier:
    """``PushVerifier``: Google's OIDC token, for ``audience``, issued to ``email``."""

    def __init__(self, *, audience: str, email: str, certs: GoogleCerts) -> None:
        self._audience, self._email, self._certs = audience, email, certs

    def verify(self, authorization: str | None) -> None:
        verify_push_token(
            authorization, audience=self._audience, email=self._email, certs=self._certs
        )

    def offline(self) -> bool:
        return self._certs.fresh()


class AcceptAll:
    """``PushVerifier`` for emulators and embedded mode, which attach no token."""

    def verify(self, authorization: str | None) -> None:
        return None

    def offline(self) -> bool:
        return True


class GoogleIdTokens:
    """``IdentityVerifier``: the verified email of a Google ID token (``gcloud auth
    print-identity-token --audiences=<API URL>``) for our audience, checked against
    Google's certificates held by ``GoogleCerts``."""

    def __init__(self, *, audience: str, certs: GoogleCerts) -> None:
        self._audience, self._certs = audience, certs

    def verify(self, token: str) -> tuple[str, float]:
        try:
            claims = google_claims(token, self._certs, self._audience)
        except ValueError as exc:
            raise Unauthenticated(f"Google ID token rejected: {exc}") from None
        email = claims.get("email")
        if not isinstance(email, str) or not claims.get("email_verified", False):
            raise Unauthenticated("the token carries no verified email")
        return email.lower(), float(claims["exp"])
