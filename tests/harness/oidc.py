"""Google-style OIDC for tests: an RSA key whose certificate is served like Google's
certs endpoint on loopback, and ID tokens signed with it (push tokens, users' tokens)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


@contextmanager
def google_signer() -> Iterator[tuple[Any, str]]:
    """(a signer, the URL serving its certificate as ``{kid: PEM}``)."""
    from devtools.push_front import Signer

    keys = Signer("kid-1")
    fetches: list[float] = []

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(keys.certs)

        def log_message(self, *_args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    signer = keys.rsa
    signer.fetches = fetches  # how often the certificates were fetched
    try:
        yield signer, f"http://127.0.0.1:{server.server_address[1]}/certs"
    finally:
        server.shutdown()


def google_id_token(signer: Any, *, aud: str, email: str, **claims: Any) -> str:
    """A token as Google issues them (issuer, audience, email, verified, 10 minutes)."""
    from google.auth import jwt

    from devtools.push_front import google_token_claims

    payload = {**google_token_claims(aud, email, seconds=600), **claims}
    return str(jwt.encode(signer, payload).decode())
