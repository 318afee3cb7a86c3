"""``WebhookTransport``: one POST per delivery over a socket of its own, bounded in
every way a receiver could stretch it.

- **Pinned address.** The connection goes to the exact address the caller checked
  (``address``), never to a second DNS answer: a name that resolves to a public address
  for the check and to a private one for the connect (DNS rebinding) reaches nothing.
  The URL's host name stays in the ``Host`` header and in TLS (SNI and the certificate's
  name check).
- **One deadline** for connect, TLS, send and read together (a watchdog shuts the socket
  when it passes: a receiver trickling a byte a second cannot hold a sender longer).
- **A bounded read.** Only the status line matters; at most ``max_response_bytes`` are
  read, so an endless body costs nothing.
- Redirects are not followed (a 3xx is just not a 2xx), and no proxy is used.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")


class HttpWebhookTransport:
    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, max_response_bytes: int = 4096
    ) -> None:
        self._tls = ssl_context or ssl.create_default_context()
        self._max = max_response_bytes

    def addresses(self, host: str) -> list[str]:
        try:
            found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return []
        return sorted({str(info[4][0]) for info in found})

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        address: str | None = None,
    ) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        deadline = time.monotonic() + timeout
        try:
            raw = socket.create_connection((address or host, port), timeout=timeout)
        except OSError as exc:
            raise OSError(f"cannot connect: {exc}") from exc
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _shut, (raw,))
        watchdog.daemon = True
        watchdog.start()
        try:
            sock: socket.socket = raw
            if https:
                sock.settimeout(_left(deadline))
                sock = self._tls.wrap_socket(raw, server_hostname=host)
            sock.settimeout(_left(deadline))
            sock.sendall(_request(parts.path or "/", parts.query, host, port, https, body, headers))
            return self._status(sock, deadline)
        except (OSError, ValueError) as exc:
            if time.monotonic() >= deadline:
                raise OSError(f"no answer within {timeout:g} s") from exc
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            watchdog.cancel()
            with contextlib.suppress(OSError):
                raw.close()

    def _status(self, sock: socket.socket, deadline: float) -> int:
        """The final status code (informational 1xx answers skipped), reading at most
        ``max_response_bytes``."""
        buffer = b""
        while len(buffer) < self._max:
            sock.settimeout(_left(deadline))
            chunk = sock.recv(min(1024, self._max - len(buffer)))
            if not chunk:
                break
            buffer += chunk
            while True:
                found = _STATUS.match(buffer)
                if found is None or b"\r\n" not in buffer:
                    break
                code = int(found.group(1))
                if code >= 200:
                    return code
                end = buffer.find(b"\r\n\r\n")  # a 1xx answer: the final one follows it
                if end < 0:
                    break
                buffer = buffer[end + 4 :]
            if not (buffer.startswith(b"HTTP/1.") or b"HTTP/1.".startswith(buffer)):
                raise ValueError("the answer is not HTTP/1.x")
        raise ValueError(f"no status line in the first {len(buffer)} bytes of the answer")

    def close(self) -> None:
        """Nothing is pooled: each delivery has its own connection."""


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the delivery's deadline passed")
    return left


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _request(
    path: str, query: str, host: str, port: int, https: bool, body: bytes, headers: dict[str, str]
) -> bytes:
    if any("\r" in k + v or "\n" in k + v for k, v in headers.items()):
        raise ValueError("a header holds a line break")
    name = f"[{host}]" if ":" in host else host
    if port != (443 if https else 80):
        name += f":{port}"
    target = path + (f"?{query}" if query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {name}", f"Content-Length: {len(body)}"]
    ours = ("host", "content-length", "connection")
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ours]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
