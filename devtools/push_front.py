"""What stands between Pub/Sub and the Cloud Run workers in production, for the emulator
stack: one push endpoint in front of N worker processes.

- **Load balancing.** A push (or any request) goes to the next worker in turn; a worker
  that refuses the connection (stopped, restarting) is skipped for the next one, as Cloud
  Run routes only to live instances. With none left it answers 503 and Pub/Sub redelivers.
- **Push identity.** Pub/Sub attaches an OIDC token for the subscription's service
  account to every push; the emulator attaches none. The front signs one with its own
  RSA key (audience: the front's URL, as Terraform sets the worker's URL) and serves the
  matching certificates at ``/certs`` — the stand-in for Google's certificates endpoint —
  so the workers run their real token check (``QUANTRUN_VERIFY_PUSH_TOKEN=true``).
- **Faults.** ``POST /control/certs`` with ``{"fail": true}`` makes ``/certs`` answer 503
  (Google's endpoint unreachable); ``PUT /control/targets`` replaces the worker list;
  ``GET /control/stats`` counts the workers' answers by status.

Run: ``python -m devtools.push_front --port P --target URL [--target URL ...]`` (the
stack does, with ``workers`` > 1: ``make stack WORKERS=3``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

PUSH_SERVICE_ACCOUNT = "pubsub-push@quantrun-local.iam.gserviceaccount.com"
# Pub/Sub reuses a push token until close to its expiry; so does the front
TOKEN_SECONDS = 600


class Signer:
    """An RSA key (``rsa``, a google-auth signer), its self-signed certificate as Google's
    endpoint serves them (``certs``: JSON ``{kid: PEM}``), and tokens as Google's."""

    def __init__(self, key_id: str = "front-1") -> None:
        from datetime import UTC, datetime, timedelta

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        from google.auth import crypt

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key_id)])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=7))
            .sign(key, hashes.SHA256())
        )
        pem_key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.certs = json.dumps({key_id: pem_cert}).encode()
        self.rsa = crypt.RSASigner.from_string(pem_key, key_id=key_id)
        self._token: tuple[float, str] = (0.0, "")
        self._lock = threading.Lock()

    def token(self, audience: str, email: str) -> str:
        from google.auth import jwt

        with self._lock:
            made_at, token = self._token
            if time.time() - made_at < TOKEN_SECONDS / 2:
                return token
            token = jwt.encode(self.rsa, google_token_claims(audience, email)).decode()
            self._token = (time.time(), token)
            return token


def google_token_claims(audience: str, email: str, seconds: int = TOKEN_SECONDS) -> dict[str, Any]:
    """The claims of an ID token as Google issues them (issuer, audience, verified email)."""
    now = int(time.time())
    return {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + seconds,
    }


class Front:
    def __init__(self, targets: list[str], audience: str) -> None:
        self.targets = list(targets)
        self.audience = audience
        self.signer = Signer()
        self.certs_failing = False
        self.statuses: Counter[int] = Counter()
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.client = httpx.Client(timeout=httpx.Timeout(900.0, connect=2.0))

    def forward(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> httpx.Response | None:
        token = self.signer.token(self.audience, PUSH_SERVICE_ACCOUNT)
        headers = {**headers, "Authorization": f"Bearer {token}"}
        with self._lock:
            targets = list(self.targets)
            start = next(self._turn)
        for i in range(len(targets)):
            target = targets[(start + i) % len(targets)]
            try:
                response = self.client.request(method, target + path, content=body, headers=headers)
            except httpx.ConnectError:
                continue  # not listening: the next instance
            with self._lock:
                self.statuses[response.status_code] += 1
            return response
        return None


def handler(front: Front) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(
            self, status: int, body: bytes = b"", content_type: str = "application/json"
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path == "/certs":
                if front.certs_failing:
                    self._reply(503, b'{"error": "certificates unavailable"}')
                else:
                    self._reply(200, front.signer.certs)
            elif self.path == "/control/stats":
                with front._lock:
                    stats = {str(k): v for k, v in front.statuses.items()}
                self._reply(200, json.dumps({"statuses": stats, "targets": front.targets}).encode())
            else:
                self._proxy("GET")

        def do_POST(self) -> None:
            if self.path == "/control/certs":
                front.certs_failing = bool(json.loads(self._body())["fail"])
                self._reply(204)
            else:
                self._proxy("POST")

        def do_PUT(self) -> None:
            if self.path == "/control/targets":
                targets = json.loads(self._body())["targets"]
                with front._lock:
                    front.targets = list(targets)
                self._reply(204)
            else:
                self._reply(405)

        def _proxy(self, method: str) -> None:
            body = self._body()
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("content-type", "user-agent", "authorization")
            }
            response = front.forward(method, self.path, body, headers)
            if response is None:
                self._reply(503, b'{"error": "no worker is listening"}')
            else:
                self._reply(
                    response.status_code,
                    response.content,
                    response.headers.get("content-type", "application/json"),
                )

        def log_message(self, *_args: Any) -> None:
            return None

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="one push endpoint in front of N workers")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", action="append", default=[], help="a worker's base URL")
    args = parser.parse_args()
    audience = f"http://127.0.0.1:{args.port}"
    front = Front(args.target, audience)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(front))
    server.daemon_threads = True
    print(f"push front listening on {audience}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
