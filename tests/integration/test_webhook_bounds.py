"""A webhook receiver cannot hurt the API or other users (issue: hostile receivers).

With the real transport against receivers on loopback: a body that never ends costs a
few KB (the status line is all that is read; RSS stays flat over many deliveries); a
receiver trickling one byte at a time is cut off at the delivery's one deadline; the
connection goes to the address given (the one the check resolved), with the URL's name
in Host and in TLS (SNI, certificate); with the dispatcher, the address checked is the
one connected to (a second DNS answer is never asked for), and one user's slow receivers
hold at most ``senders_per_user`` senders, so another user's delivery arrives on time.
"""

from __future__ import annotations

import resource
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quantrun.adapters.sealed import SecretBox
from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.webhook_rows import SqlWebhookStore
from quantrun.adapters.webhook_http import HttpWebhookTransport
from quantrun.app.webhook_dispatch import Dispatcher
from quantrun.app.webhooks import WebhookPolicy
from quantrun.domain.jobs import Job, JobEnd, JobStatus
from quantrun.domain.webhooks import Webhook

Behaviour = Callable[[socket.socket, bytes], None]


class RawServer:
    """A TCP server on loopback whose every connection gets ``behave(conn, request)``."""

    def __init__(self, behave: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        self.behave, self.tls = behave, tls
        self.requests: list[bytes] = []
        self.server_names: list[str | None] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                names: list[str | None] = []
                self.tls.sni_callback = lambda _s, name, _c: names.append(name)  # type: ignore[assignment,misc,return-value]
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.server_names += names
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            self.requests.append(request)
            self.behave(conn, request)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


def endless(conn: socket.socket, _request: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    chunk = b"x" * 65536
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the client hangs up (bounded, as tests are)
        conn.sendall(chunk)


def trickle(conn: socket.socket, _request: bytes) -> None:
    for byte in b"HTTP/1.1 200 OK\r\n\r\n":
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def ok(conn: socket.socket, _request: bytes) -> None:
    conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def informational_then_ok(conn: socket.socket, _request: bytes) -> None:
    conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n")


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    started: list[RawServer] = []

    def start(behave: Behaviour, tls: ssl.SSLContext | None = None) -> RawServer:
        started.append(RawServer(behave, tls))
        return started[-1]

    yield start
    for server in started:
        server.close()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_an_endless_body_is_not_read(serve: Callable[..., RawServer]) -> None:
    server = serve(endless)
    transport = HttpWebhookTransport()
    url = f"http://127.0.0.1:{server.port}/hook"
    assert transport.post(url, b"{}", {}, timeout=5) == 200  # warm up
    before = _rss_mb()
    started = time.monotonic()
    for _ in range(20):
        assert transport.post(url, b"{}", {}, timeout=5) == 200
    assert time.monotonic() - started < 5  # each ends at the status line, not the body's end
    assert _rss_mb() - before < 20, f"RSS grew from {before:.0f} MB to {_rss_mb():.0f} MB"


def test_a_trickling_receiver_is_cut_off_at_the_deadline(serve: Callable[..., RawServer]) -> None:
    server = serve(trickle)
    started = time.monotonic()
    with pytest.raises(OSError, match=r"within 1\.5 s"):
        HttpWebhookTransport().post(f"http://127.0.0.1:{server.port}/", b"{}", {}, timeout=1.5)
    assert 1.4 < time.monotonic() - started < 2.5


def test_an_informational_answer_is_skipped(serve: Callable[..., RawServer]) -> None:
    server = serve(informational_then_ok)
    assert HttpWebhookTransport().post(f"http://127.0.0.1:{server.port}/", b"{}", {}, 5) == 202


def test_the_connection_goes_to_the_given_address_with_the_name_in_host(
    serve: Callable[..., RawServer],
) -> None:
    """hooks.invalid cannot resolve: the request arrives only because the address given
    is the one connected to."""
    server = serve(ok)
    url = f"http://hooks.invalid:{server.port}/in?x=1"
    status = HttpWebhookTransport().post(url, b"{}", {"X-A": "b"}, 5, address="127.0.0.1")
    assert status == 204
    (request,) = server.requests
    assert request.startswith(b"POST /in?x=1 HTTP/1.1\r\n")
    assert f"Host: hooks.invalid:{server.port}\r\n".encode() in request
    assert b"X-A: b\r\n" in request and b"Connection: close\r\n" in request


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_to_a_pinned_address_checks_the_names_certificate(
    serve: Callable[..., RawServer], tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path, "hooks.example")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server = serve(ok, tls=server_tls)
    trusting = ssl.create_default_context(cafile=str(cert))
    transport = HttpWebhookTransport(ssl_context=trusting)
    url = f"https://hooks.example:{server.port}/hook"
    assert transport.post(url, b"{}", {}, 5, address="127.0.0.1") == 204
    assert server.server_names == ["hooks.example"]  # SNI is the name, not the address
    other = f"https://other.example:{server.port}/hook"  # same address, a name it is not
    with pytest.raises(OSError, match=r"CERTIFICATE_VERIFY_FAILED|hostname|match"):
        transport.post(other, b"{}", {}, 5, address="127.0.0.1")


# -- the dispatcher --------------------------------------------------------------------

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class Rebinding(HttpWebhookTransport):
    """hooks.example resolves to a public address the first time and to loopback after
    (DNS rebinding); posts are recorded, never sent."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.posted_to: list[str | None] = []

    def addresses(self, host: str) -> list[str]:
        self.lookups += 1
        return ["93.184.216.34"] if self.lookups == 1 else ["127.0.0.1"]

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        address: str | None = None,
    ) -> int:
        self.posted_to.append(address)
        return 200


def _world(engine: Engine) -> tuple[SqlJobStore, SqlWebhookStore]:
    return SqlJobStore(engine), SqlWebhookStore(engine, lambda: SecretBox(b"k" * 32))


def _ended_job(jobs: SqlJobStore, user_id: str, at: datetime) -> Job:
    job = jobs.create_job(
        Job(str(uuid.uuid4()), user_id, "black_scholes", {}, JobStatus.QUEUED, at)
    )
    jobs.claim(job.id, worker="w", now=at, lease_until=at + timedelta(minutes=1), max_attempts=3)
    jobs.finish(job.id, JobEnd.succeeded({}), worker="w", now=at)
    return job


def test_the_checked_address_is_the_one_connected_to(engine: Engine) -> None:
    jobs, hooks = _world(engine)
    erin = jobs.get_or_create_user("erin").id
    hooks.add(
        Webhook(str(uuid.uuid4()), erin, "https://hooks.example/x", ("job.succeeded",), "s", T0)
    )
    _ended_job(jobs, erin, T0 + timedelta(seconds=1))
    transport = Rebinding()
    now = T0 + timedelta(seconds=2)
    dispatcher = Dispatcher(
        webhooks=hooks, jobs=jobs, transport=transport, policy=WebhookPolicy(), clock=lambda: now
    )
    assert dispatcher.tick() == 1
    assert transport.posted_to == ["93.184.216.34"] and transport.lookups == 1


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """The dispatcher's scheduling is under test here, not the store: one engine."""
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def test_one_users_slow_receivers_do_not_delay_anothers(
    sqlite_engine: Engine, serve: Callable[..., RawServer]
) -> None:
    """Six deliveries of one user to a receiver that trickles (each cut off at 3 s) and
    one of another user to a quick receiver, with 4 senders and 2 per user: the quick one
    arrives well before a sender frees up."""
    slow, quick = serve(trickle), serve(ok)
    jobs, hooks = _world(sqlite_engine)
    mallory, frank = jobs.get_or_create_user("mallory").id, jobs.get_or_create_user("frank").id
    start = datetime.now(UTC)
    for i in range(6):
        hooks.add(
            Webhook(
                str(uuid.uuid4()),
                mallory,
                f"http://127.0.0.1:{slow.port}/{i}",
                ("job.succeeded",),
                "s",
                start,
            )
        )
    hooks.add(
        Webhook(
            str(uuid.uuid4()),
            frank,
            f"http://127.0.0.1:{quick.port}/f",
            ("job.succeeded",),
            "s",
            start,
        )
    )
    _ended_job(jobs, mallory, start + timedelta(milliseconds=10))
    policy = WebhookPolicy(
        allow_private=True,
        timeout_seconds=3.0,
        senders=4,
        senders_per_user=2,
        first_retry=timedelta(seconds=30),
    )
    dispatcher = Dispatcher(
        webhooks=hooks, jobs=jobs, transport=HttpWebhookTransport(), policy=policy
    )
    dispatcher.start(0.05)
    try:
        time.sleep(0.5)  # mallory's six are due and being sent, two at a time
        ended = time.monotonic()
        _ended_job(jobs, frank, datetime.now(UTC))
        deadline = time.monotonic() + 5
        while not quick.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        arrived = time.monotonic() - ended
    finally:
        dispatcher.stop()
    assert quick.requests, "frank's delivery never arrived"
    assert arrived < 1.5, f"frank's delivery took {arrived:.2f} s"
    assert 1 <= len(slow.requests) <= 4  # never more than two of mallory's at once
