"""An unauthenticated request is answered 401 before its body is read or parsed: a bad
key with a body that never comes gets its 401 at once (the server does not wait for
the body), and a bad key with broken JSON gets 401, not 422."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.harness.api import RunningApi


def _raw(api: RunningApi, head: str) -> tuple[bytes, float]:
    """Send only the request's head (its declared body never comes); the first answer."""
    parts = urlsplit(api.url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(4096)
    return answer, time.monotonic() - started


@pytest.mark.parametrize("authorization", ["Bearer qr_wrong", "Basic abc", None])
def test_no_body_is_awaited_without_good_credentials(
    api: RunningApi, authorization: str | None
) -> None:
    head = (
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n"
        + (f"Authorization: {authorization}\r\n" if authorization else "")
        + "\r\n"
    )
    answer, seconds = _raw(api, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"unauthenticated" in answer and seconds < 5


def test_a_good_key_is_still_read_and_parsed(api: RunningApi) -> None:
    with api.client("parsed") as client:
        broken = client.post(
            "/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"


def test_broken_json_with_a_bad_key_is_401_not_422(api: RunningApi) -> None:
    r = httpx.post(
        f"{api.url}/v1/jobs",
        content=b"{not json",
        headers={"Authorization": "Bearer qr_" + "x" * 43, "Content-Type": "application/json"},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["WWW-Authenticate"] == "Bearer"
