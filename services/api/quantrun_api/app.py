"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import quantrun
from quantrun.bootstrap import Container
from quantrun.domain.errors import TransientError
from quantrun_api.deps import resolve_user
from quantrun_api.errors import (
    BEARER_CHALLENGE,
    MISSING_CREDENTIALS,
    ApiError,
    error_response,
    install_error_handlers,
)
from quantrun_api.openapi import install_openapi
from quantrun_api.request_trace import RequestTrace
from quantrun_api.routes import (
    console,
    docs,
    events,
    health,
    instruments,
    jobs,
    keys,
    models,
    portfolios,
    prices,
    strategies,
    users,
    webhooks,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Answers 413 for a request body over ``max_bytes``, declared or streamed.

    A declared ``Content-Length`` over the limit is refused before anything is read. A
    body without one (chunked) is read up to the limit first and then handed to the app,
    so its size is known before any route parses it (the framework would otherwise turn
    an error raised mid-read into a 400)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "payload_too_large", f"request body exceeds {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class Authenticate:
    """Authenticates a ``/v1`` request before its body is read: a request without good
    credentials (or over its user's rate limit) is answered 401 (429) at once, so an
    anonymous client cannot make the API read, buffer or parse a body. The user found
    goes in the request's state, where the ``CurrentUser`` dependency takes it."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app, self.container = app, container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/v1/")
            and scope["method"] != "OPTIONS"
        ):
            header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            scheme, _, credentials = header.partition(b" ")
            token = credentials.strip().decode("latin-1")
            refusal = None
            if scheme.lower() != b"bearer" or not token:
                refusal = error_response(
                    401, "unauthenticated", MISSING_CREDENTIALS, headers=BEARER_CHALLENGE
                )
            else:
                try:
                    user = await resolve_user(self.container, token)
                    scope.setdefault("state", {})["user"] = user
                except ApiError as exc:
                    refusal = error_response(
                        exc.status, exc.code, exc.message, exc.details, exc.headers
                    )
                except TransientError as exc:
                    refusal = error_response(503, exc.code, exc.message)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


DESCRIPTION = """
Run quantitative finance models as jobs. Authenticate every `/v1` call with
`Authorization: Bearer <api key>`. Errors are `{"error": {"code", "message", "details"}}`.
"""


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="QuantRun API",
        version=quantrun.__version__,
        description=DESCRIPTION,
        docs_url=None,  # routes/docs.py: the same page from files served here
        redoc_url=None,
    )
    app.state.container = container
    app.state.open_streams = events.OpenStreams(container.settings.limits.max_event_streams)
    install_error_handlers(app)
    install_openapi(app, webhooks_may_be_private=container.webhook_policy.allow_private)
    routers = (
        health.router,
        models.router,
        jobs.router,
        events.router,
        prices.router,
        instruments.router,
        keys.router,
        webhooks.router,
        strategies.router,
        portfolios.router,
        users.router,
        console.SITE.router(),
        docs.SITE.router(),
    )
    for router in routers:
        app.include_router(router)
    console.SITE.mount(app)
    docs.SITE.mount(app)
    # the last added runs first: CORS preflights, then credentials, then the body's size
    app.add_middleware(BodyLimit, max_bytes=container.settings.limits.max_request_bytes)
    app.add_middleware(Authenticate, container=container)
    origins = container.settings.api.allowed_origins
    if origins:  # off unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(RequestTrace)  # outermost: even a refused request's lines carry it
    return app
