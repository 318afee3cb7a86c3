"""Secrets kept in the database, sealed: AES-256-GCM under a key the database never holds.

A webhook's signing secret must be stored to sign deliveries; sealed, a database dump or
a read replica leaks nothing without the key (in gcp mode the Secret Manager secret
``webhook-secrets-key``, in embedded mode a file beside the data). A sealed value is
``v1:`` and the base64url of a 96-bit nonce and the ciphertext with its tag; the row's
id is the associated data, so a sealed value moved to another row does not open. A
value without the prefix (stored before sealing existed) is read as it is.

Rotation: the secret may hold several keys, comma-separated, the current one first. New
values are sealed with the first; a value opens with whichever key sealed it (the tag
tells). ``quantrun webhooks reseal`` then seals every stored value with the first, after
which the old keys can go.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from quantrun.domain.errors import QuantRunError

PREFIX = "v1:"
KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(QuantRunError):
    """A sealed value does not open under this key (another key, or altered)."""

    code = "sealed_value_unreadable"


def parse_key(text: str) -> bytes:
    """The key as configured: 32 bytes in base64 (standard or url-safe)."""
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(
            "webhook-secrets-key must be 32 random bytes in base64 "
            "(for example: openssl rand -base64 32)"
        )
    return key


def parse_keys(text: str) -> list[bytes]:
    """``KEY[,OLDER_KEY...]``: the current key first."""
    parts = [part for part in text.split(",") if part.strip()]
    return [parse_key(part) for part in parts] if parts else [parse_key(text)]  # says why


def key_file(path: Path) -> bytes:
    """The key kept in ``path`` (embedded mode), made on first use, readable by the
    owner only."""
    try:
        return parse_key(path.read_text())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return parse_key(path.read_text())
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    return parse_key(text)


class SecretBox:
    """Seals with ``key``; opens what ``key`` or any of ``older`` sealed."""

    def __init__(self, key: bytes, *older: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if any(len(k) != KEY_BYTES for k in (key, *older)):
            raise ValueError(f"a sealing key must be {KEY_BYTES} bytes")
        self._aeads = [AESGCM(k) for k in (key, *older)]

    def seal(self, value: str, *, row_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[0].encrypt(nonce, value.encode(), row_id.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, stored: str, *, row_id: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before sealing existed
        from cryptography.exceptions import InvalidTag

        raw = stored[len(PREFIX) :]
        try:
            blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            blob = b""
        for aead in self._aeads:
            try:
                plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], row_id.encode())
            except (InvalidTag, ValueError):
                continue
            return plain.decode()
        raise SealError(
            f"the secret of {row_id} does not open with this webhook-secrets-key "
            "(the key changed, or the row was altered)"
        )
