"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

import quantrun
from quantrun.bootstrap import Container
from quantrun_api.errors import error_response, install_error_handlers
from quantrun_api.routes import health, jobs, models, prices

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Answers 413 for a request body over ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"request body exceeds {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


DESCRIPTION = """
Run quantitative finance models as jobs. Authenticate every `/v1` call with
`Authorization: Bearer <api key>`. Errors are `{"error": {"code", "message", "details"}}`.
"""


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="QuantRun API",
        version=quantrun.__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.container = container
    install_error_handlers(app)
    for router in (health.router, models.router, jobs.router, prices.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=container.settings.api.max_request_bytes)
    return app
