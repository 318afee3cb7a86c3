"""Credentials for the emulators only. Nothing here is used against Google Cloud."""

from __future__ import annotations

from typing import Any


def throwaway_signing_credentials() -> Any:
    """A throwaway service-account key, so V4 URLs can be signed for the storage emulator
    (which does not check signatures)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "client_email": "emulator@quantrun-local.iam.gserviceaccount.com",
            "private_key": pem,
            "private_key_id": "emulator",
            "token_uri": "http://127.0.0.1/token",
            "project_id": "quantrun-local",
        }
    )
