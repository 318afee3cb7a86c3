"""``WebhookTransport`` over HTTP(S) with httpx: the system resolver for the address
check, one pooled client for the deliveries, redirects never followed (a redirect could
lead to an address the check refused)."""

from __future__ import annotations

import socket
import threading

import httpx


class HttpWebhookTransport:
    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(follow_redirects=False, trust_env=False)
            return self._client

    def addresses(self, host: str) -> list[str]:
        try:
            found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return []
        return sorted({str(info[4][0]) for info in found})

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        try:
            response = self._http().post(url, content=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:  # no response: refused, reset, timed out, bad TLS
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        return response.status_code

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
