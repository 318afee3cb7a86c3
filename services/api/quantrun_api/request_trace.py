"""Every log line of a request carries its trace (CONTRACT 6.4), and every audit entry
it writes the address it came from (CONTRACT 6.2).

The trace comes from the request's ``traceparent`` or ``X-Cloud-Trace-Context`` header
(``quantrun.tracing`` reads both with OpenTelemetry's propagators); a request without
either starts a new one. It is set for the request's whole run, route and dependencies
included (a sync route's thread inherits it), and a job submitted by the request keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import quantrun.tracing as tracing
from quantrun.app.audit import using_address

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRACE_HEADERS = (b"traceparent", b"x-cloud-trace-context")
_FORWARDED = b"x-forwarded-for"


def client_address(scope: Scope) -> str | None:
    """The last address in ``X-Forwarded-For`` (the one the proxy in front, Cloud Run's,
    added: a caller can put anything before it, not after), else the connection's peer."""
    for name, value in scope.get("headers") or ():
        if name == _FORWARDED:
            last: str = value.decode("latin-1").rsplit(",", 1)[-1].strip()
            if last:
                return last[:64]
    client = scope.get("client")
    return str(client[0])[:64] if client else None


class RequestTrace:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers") or ()
            if name in _TRACE_HEADERS
        }
        context = tracing.from_headers(headers) or tracing.new_trace()
        with tracing.using(context), using_address(client_address(scope)):
            await self.app(scope, receive, send)
