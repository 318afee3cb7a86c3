"""The worker's HTTP entry for Pub/Sub push (``POST /pubsub/push``).

It only decodes the envelope and calls ``Worker.run``; the acknowledgement
rule (as in GoogleCloudPlatform/python-docs-samples run/pubsub): any 2xx acknowledges,
anything else makes Pub/Sub redeliver with backoff.

A message the API marked ``quick`` (no price history, a tiny estimated cost: well
under a millisecond of model work) runs on the request's own thread, the event loop's:
handing it to a thread and back cost more CPU than the job (the worker alone, two pushes
in flight: ~0.4 ms of ~2 ms a job, the two threads contending for the GIL). Any other
runs in the thread pool, as does a quick one while the token check would fetch
Google's certificates.

- 204 once the job's result and artifacts are stored, or when the job needs no run
  (finished, cancelled, held by a live lease elsewhere, unknown);
- 204 for a malformed message, logged with the reason (redelivery cannot fix it);
- 503 on a transient failure, so Pub/Sub retries;
- 401 when the OIDC token is missing or wrong (gcp mode; off only for emulators), 503
  when Google's certificates cannot be had (none held and the fetch failing).

``POST /pubsub/dead-letter`` receives what the dead-letter topic holds after the retry
limit and fails the job with the reason. ``POST /tasks/schedules`` submits the
strategies' due fire times (app/strategies.py), ``POST /tasks/portfolios`` steps the
paper portfolios (app/paper_steps.py); a message with a ``portfolio_id`` attribute steps
that one. ``POST /tasks/reclaim`` runs one reclaim sweep
(Cloud Scheduler calls it; ``make stack`` runs it on a timer).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import quantrun.tracing as tracing
from quantrun.app.dead_letter import fail_dead_lettered
from quantrun.app.execute import RunOutcome
from quantrun.app.health import readiness
from quantrun.app.paper_steps import step, step_all
from quantrun.app.reclaim import reclaim_stale
from quantrun.app.strategies import tick
from quantrun.bootstrap import Container
from quantrun.clock import utcnow
from quantrun.domain.errors import TransientError, Unauthenticated
from quantrun.logging import get_logger
from quantrun.ports import PushVerifier

log = get_logger(__name__)


class MalformedMessage(ValueError):
    pass


@dataclass(frozen=True)
class PushMessage:
    job_id: str
    message_id: str | None
    delivery_attempt: int | None
    trace: str | None = None  # the ``traceparent`` attribute: the submitting request's
    portfolio_id: str | None = None  # a request to step this paper portfolio (no job)
    quick: bool = False  # the ``quick`` attribute: run it without a thread hand-off


def decode_envelope(body: Any) -> PushMessage:
    """The job id from a push envelope (``message.data`` JSON, or the ``job_id`` attribute)."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise MalformedMessage("not a Pub/Sub push envelope (no message object)")
    message = body["message"]
    attributes = message.get("attributes") or {}
    step = attributes.get("portfolio_id") if isinstance(attributes, dict) else None
    if isinstance(step, str) and step:
        return PushMessage("", message.get("messageId"), None, portfolio_id=step)
    job_id = attributes.get("job_id") if isinstance(attributes, dict) else None
    if not job_id and message.get("data"):
        try:
            decoded = json.loads(base64.b64decode(message["data"], validate=True))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise MalformedMessage(f"message data is not base64 JSON: {exc}") from None
        job_id = decoded.get("job_id") if isinstance(decoded, dict) else None
    if not isinstance(job_id, str):
        raise MalformedMessage("message names no job_id")
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise MalformedMessage(f"job_id {job_id[:80]!r} is not a job id") from None
    attempt = body.get("deliveryAttempt")
    trace = attributes.get("traceparent") if isinstance(attributes, dict) else None
    return PushMessage(
        job_id,
        message.get("messageId") or message.get("message_id"),
        attempt if isinstance(attempt, int) else None,
        trace if isinstance(trace, str) else None,
        quick=isinstance(attributes, dict) and attributes.get("quick") == "true",
    )


def _error(exc: Unauthenticated | TransientError, status: int) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message, "details": []}}, status_code=status
    )


def _decoded(body: bytes) -> PushMessage | MalformedMessage:
    try:
        return decode_envelope(json.loads(body))
    except MalformedMessage as exc:
        return exc
    except ValueError as exc:
        return MalformedMessage(str(exc))


def _message(decoded: PushMessage | MalformedMessage) -> PushMessage | None:
    """The message to act on, once the push is verified; a malformed one is logged."""
    if isinstance(decoded, MalformedMessage):
        log.error("malformed push message acknowledged", extra={"fields": {"reason": str(decoded)}})
        return None
    return decoded


def create_push_app(container: Container, verifier: PushVerifier) -> FastAPI:
    app = FastAPI(title="QuantRun worker", docs_url=None, redoc_url=None)
    app.state.container = container

    def verified(work: Callable[[], Response]) -> Callable[[str | None], Response]:
        """``work`` behind the token check; both run in one worker thread (a certificate
        refresh is a network call, the job's run blocking work)."""

        def run(authorization: str | None) -> Response:
            try:
                verifier.verify(authorization)
            except TransientError as exc:
                log.warning("push not verified now", extra={"fields": {"reason": exc.message}})
                return _error(exc, 503)
            except Unauthenticated as exc:
                log.warning("push rejected", extra={"fields": {"reason": exc.message}})
                return _error(exc, 401)
            return work()

        return run

    def run_pushed(message: PushMessage | None) -> Response:
        if message is None:
            return Response(status_code=204)
        if message.portfolio_id is not None:
            return step_pushed(message.portfolio_id)
        fields = {"message_id": message.message_id, "delivery_attempt": message.delivery_attempt}
        if message.quick:
            fields["quick"] = True
        with tracing.using(tracing.parse(message.trace)):
            return _run_pushed(message, fields)

    def _run_pushed(message: PushMessage, fields: dict[str, Any]) -> Response:
        try:
            outcome = container.runner.run(
                message.job_id, log_fields=fields, handoff=container.long_jobs
            )
        except TransientError as exc:  # the job store is unavailable: Pub/Sub retries
            log.warning("push answered 503", extra={"fields": {**fields, "reason": exc.message}})
            outcome = RunOutcome.RETRY
        if outcome == RunOutcome.RETRY:
            log.warning(
                "push answered 503: Pub/Sub redelivers the message",
                extra={"fields": {**fields, "job_id": message.job_id, "status": 503}},
            )
            return Response(status_code=503)
        return Response(status_code=204)

    def step_pushed(portfolio_id: str) -> Response:
        """A portfolio's step (``POST /v1/portfolios/{id}/step``); a deleted one is done."""
        found = container.portfolios.get(portfolio_id)
        if found is None:
            return Response(status_code=204)
        now = utcnow()
        try:
            step(store=container.portfolios, prices=container.prices, portfolio=found,
                 today=now.date(), now=now)  # fmt: skip
        except TransientError as exc:
            log.warning("portfolio step answered 503", extra={"fields": {"reason": exc.message}})
            return Response(status_code=503)
        return Response(status_code=204)

    def step_portfolios() -> Response:
        now = utcnow()
        done = step_all(
            store=container.portfolios,
            prices=container.prices,
            today=now.date(),
            now=now,
            stale_after_days=container.settings.worker.stale_after_days,
        )
        return JSONResponse(done)

    def fail_pushed(message: PushMessage | None) -> Response:
        if message is not None and message.portfolio_id is not None:
            # a step that kept failing: the next scheduled step tries the portfolio again
            log.error("portfolio step dead-lettered",
                      extra={"fields": {"portfolio_id": message.portfolio_id}})  # fmt: skip
        elif message is not None:
            fail_dead_lettered(
                store=container.store,
                job_id=message.job_id,
                delivery_attempt=message.delivery_attempt,
                now=utcnow(),
            )
        return Response(status_code=204)

    def sweep() -> Response:
        count = reclaim_stale(
            store=container.store,
            queue=container.queue,
            now=utcnow(),
            queued_grace=timedelta(seconds=container.worker.queued_grace_seconds),
        )
        return JSONResponse({"reclaimed": count})

    def fire_schedules() -> Response:
        made = tick(
            strategies=container.strategies,
            users=container.store,
            rules=container.job_rules,
            now=utcnow(),
        )
        return JSONResponse({"submitted": len(made)})

    @app.get("/health")
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """What running a job needs: the job store, the price store, the artifact store."""
        ready = readiness(
            {
                "job_store": container.store,
                "price_store": container.prices,
                "artifact_store": container.artifacts,
            }
        )
        if ready.failed is None:
            return JSONResponse({"status": "ok", "checks": ready.checks})
        return JSONResponse(ready.error(), status_code=503)

    @app.post("/pubsub/push", status_code=204)
    async def push(request: Request) -> Response:
        decoded = _decoded(await request.body())  # acted on once the token is verified
        run = verified(lambda: run_pushed(_message(decoded)))
        authorization = request.headers.get("authorization")
        if isinstance(decoded, PushMessage) and decoded.quick and verifier.offline():
            return run(authorization)
        return await run_in_threadpool(run, authorization)

    @app.post("/pubsub/dead-letter", status_code=204)
    async def dead_letter(request: Request) -> Response:
        decoded = _decoded(await request.body())
        run = verified(lambda: fail_pushed(_message(decoded)))
        return await run_in_threadpool(run, request.headers.get("authorization"))

    @app.post("/tasks/reclaim")
    async def reclaim(request: Request) -> Response:
        return await run_in_threadpool(verified(sweep), request.headers.get("authorization"))

    @app.post("/tasks/portfolios")
    async def portfolios(request: Request) -> Response:
        """Cloud Scheduler, every 10 minutes: step the paper portfolios over the days
        ingested since, and make the stale-data alerts."""
        auth = request.headers.get("authorization")
        return await run_in_threadpool(verified(step_portfolios), auth)

    @app.post("/tasks/schedules")
    async def schedules(request: Request) -> Response:
        """Cloud Scheduler, every minute: submit the strategies' due fire times."""
        auth = request.headers.get("authorization")
        return await run_in_threadpool(verified(fire_schedules), auth)

    return app
