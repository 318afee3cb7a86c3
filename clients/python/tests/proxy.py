"""A real HTTP proxy in front of the live server that misbehaves on cue: it drops an
answer after the server made it, answers 429/503 itself, or cuts an event stream. The
client under test talks to it over TCP exactly as to the server (no mocked transport).

One request per connection: the proxy forwards each request with ``Connection: close``
and relays the server's answer (streamed as it comes, so event streams pass live).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Action:
    kind: str  # relay | drop | answer | cut
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: int = 1  # cut: close after this many events


RELAY = Action("relay")
DROP = Action("drop")


def answer(status: int, body: bytes = b"", **headers: str) -> Action:
    return Action("answer", status=status, headers=headers, body=body)


def cut_after(events: int) -> Action:
    return Action("cut", events=events)


Rule = Callable[[Seen, list[Seen]], Action]


class Proxy:
    def __init__(self, upstream: str, rule: Rule) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rule = rule
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def requests(self, method: str, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(path_prefix)]

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head, body = _read_request(conn)
            if head is None:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            seen = Seen(method, path, headers, body)
            with self._lock:
                before = list(self.seen)
                self.seen.append(seen)
                action = self.rule(seen, before)
            if action.kind == "answer":
                conn.sendall(_response(action))
                return
            forward = [lines[0]] + [
                f"{k}: {v}" for k, v in headers.items() if k not in ("connection", "host")
            ]
            forward += [f"Host: {self.upstream[0]}:{self.upstream[1]}", "Connection: close"]
            with socket.create_connection(self.upstream, timeout=60) as up:
                up.sendall(("\r\n".join(forward) + "\r\n\r\n").encode("latin-1") + body)
                self._relay(up, conn, action)

    @staticmethod
    def _relay(up: socket.socket, conn: socket.socket, action: Action) -> None:
        relayed = b""
        while True:
            chunk = up.recv(65536)
            if not chunk:
                return
            if action.kind == "drop":
                continue  # the server answered; the client never hears it
            conn.sendall(chunk)
            relayed += chunk
            if action.kind == "cut" and relayed.count(b"\n\n") >= action.events:
                return


def _read_request(conn: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def _response(action: Action) -> bytes:
    reason = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable"}
    lines = [f"HTTP/1.1 {action.status} {reason.get(action.status, 'Error')}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in action.headers.items()]
    lines += [f"Content-Length: {len(action.body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + action.body
