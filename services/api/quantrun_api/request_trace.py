"""Every log line of a request carries its trace (CONTRACT 6.4).

The trace comes from the request's ``traceparent`` or ``X-Cloud-Trace-Context`` header
(``quantrun.tracing`` reads both with OpenTelemetry's propagators); a request without
either starts a new one. It is set for the request's whole run, route and dependencies
included (a sync route's thread inherits it), and a job submitted by the request keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import quantrun.tracing as tracing

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRACE_HEADERS = (b"traceparent", b"x-cloud-trace-context")


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
        with tracing.using(context):
            await self.app(scope, receive, send)
