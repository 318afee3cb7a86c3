"""Google-style OIDC for tests: an RSA key whose certificate is served like Google's
certs endpoint on loopback, and ID tokens signed with it (push tokens, users' tokens)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


@contextmanager
def google_signer() -> Iterator[tuple[Any, str]]:
    """(a signer, the URL serving its certificate as ``{kid: PEM}``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    from google.auth import crypt

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now.replace(year=now.year + 1))
        .sign(key, hashes.SHA256())
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = json.dumps({"kid-1": pem_cert}).encode()
    fetches: list[float] = []

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signer = crypt.RSASigner.from_string(pem_key, key_id="kid-1")
    signer.fetches = fetches  # how often the certificates were fetched
    try:
        yield signer, f"http://127.0.0.1:{server.server_address[1]}/certs"
    finally:
        server.shutdown()


def google_id_token(signer: Any, *, aud: str, email: str, **claims: Any) -> str:
    """A token as Google issues them (issuer, audience, email, verified, 10 minutes)."""
    from google.auth import jwt

    now = int(time.time())
    payload = {
        "iss": "https://accounts.google.com",
        "aud": aud,
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return str(jwt.encode(signer, payload).decode())
