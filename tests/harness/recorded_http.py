"""A local HTTP server that plays recorded provider responses, with scripted failures."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


@dataclass
class Recorded:
    """``routes[(path, key)]`` -> (status, content type, body); ``key`` picks by a query
    parameter (``s`` for Stooq, ``symbol`` for Alpha Vantage). ``script`` queues statuses
    to answer first (e.g. [500] then the recording); a scripted 429 carries
    ``Retry-After: retry_after`` when that is set."""

    routes: dict[tuple[str, str], tuple[int, str, bytes]] = field(default_factory=dict)
    script: dict[tuple[str, str], deque[int]] = field(default_factory=lambda: defaultdict(deque))
    hits: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    url: str = ""
    retry_after: str | None = None


def _key(path: str, query: dict[str, list[str]]) -> tuple[str, str]:
    for name in ("s", "symbol"):
        if name in query:
            return path, query[name][0]
    return path, ""


@contextmanager
def recorded_server() -> Iterator[Recorded]:
    state = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            key = _key(parsed.path, parse_qs(parsed.query))
            state.hits[key] += 1
            if state.script[key]:
                status = state.script[key].popleft()
                self.send_response(status)
                if status == 429 and state.retry_after is not None:
                    self.send_header("Retry-After", state.retry_after)
                self.end_headers()
                self.wfile.write(b"scripted failure")
                return
            status, ctype, body = state.routes.get(key, (404, "text/plain", b"not recorded"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # a short poll: shutdown() waits for it (0.5 s by default, at every teardown)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
