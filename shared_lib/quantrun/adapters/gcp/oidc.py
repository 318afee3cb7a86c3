"""Verify the OIDC token Pub/Sub push attaches (``Authorization: Bearer <JWT>``):
signed by Google, for our audience (the worker URL), issued to the push service account."""

from __future__ import annotations

from typing import Any

from quantrun.domain.errors import Unauthenticated

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class InvalidPushToken(Unauthenticated):
    pass


def verify_push_token(
    authorization: str | None,
    *,
    audience: str,
    email: str,
    certs_url: str | None = None,
    request: Any = None,
) -> dict[str, Any]:
    from google.auth.transport import requests as google_requests
    from google.oauth2 import id_token

    if not authorization or not authorization.lower().startswith("bearer "):
        raise InvalidPushToken("missing bearer token")
    token = authorization.split(" ", 1)[1].strip()
    try:
        kwargs: dict[str, Any] = {"audience": audience}
        if certs_url:
            kwargs["certs_url"] = certs_url
        verified = id_token.verify_token(token, request or google_requests.Request(), **kwargs)
        claims: dict[str, Any] = dict(verified)
    except Exception as exc:  # google-auth raises ValueError and transport errors
        raise InvalidPushToken(f"token rejected: {exc}") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise InvalidPushToken(f"issuer {claims.get('iss')!r} is not Google")
    if claims.get("email") != email or not claims.get("email_verified", False):
        raise InvalidPushToken(f"token is for {claims.get('email')!r}, not the push identity")
    return claims


class OidcPushVerifier:
    """``PushVerifier``: Google's OIDC token, for ``audience``, issued to ``email``."""

    def __init__(self, *, audience: str, email: str) -> None:
        self._audience, self._email = audience, email

    def verify(self, authorization: str | None) -> None:
        verify_push_token(authorization, audience=self._audience, email=self._email)


class AcceptAll:
    """``PushVerifier`` for emulators and embedded mode, which attach no token."""

    def verify(self, authorization: str | None) -> None:
        return None
