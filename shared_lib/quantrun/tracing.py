"""Which request (and so which job) a log line belongs to: the trace context.

A request's trace comes from its W3C ``traceparent`` header, else Google's
``X-Cloud-Trace-Context`` (Cloud Run's front end sets both), each read by OpenTelemetry's
propagator for it; a request with neither starts a new trace. The context lives in a
context variable for the request's (or the job's) duration, where the logger reads it, and
travels with a job as a ``traceparent`` string: on its row and as the Pub/Sub message's
``traceparent`` attribute, so the worker's lines for the job carry the submitting
request's trace. Nothing here exports spans: logs are grouped by trace in Cloud Logging,
which is what an operator reads.
"""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.propagators.cloud_trace_propagator import CloudTraceFormatPropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# W3C first: when both headers come, traceparent is the one the caller set on purpose
_PROPAGATORS: tuple[TextMapPropagator, ...] = (
    TraceContextTextMapPropagator(),
    CloudTraceFormatPropagator(),
)
_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "quantrun_trace", default=None
)


@dataclass(frozen=True)
class TraceContext:
    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    sampled: bool = False

    @property
    def traceparent(self) -> str:
        """The W3C form, the one stored with a job and sent as a message attribute."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def from_headers(headers: Mapping[str, str]) -> TraceContext | None:
    """The trace context the headers carry (names in any case), or None when none is valid."""
    carrier = {name.lower(): value for name, value in headers.items()}
    for propagator in _PROPAGATORS:
        span = trace.get_current_span(propagator.extract(carrier))
        context = span.get_span_context()
        if context.is_valid:
            return TraceContext(
                trace_id=format(context.trace_id, "032x"),
                span_id=format(context.span_id, "016x"),
                sampled=context.trace_flags.sampled,
            )
    return None


def parse(traceparent: str | None) -> TraceContext | None:
    """A stored or received ``traceparent``, or None when absent or malformed."""
    return from_headers({"traceparent": traceparent}) if traceparent else None


def new_trace() -> TraceContext:
    return TraceContext(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8))


def current() -> TraceContext | None:
    return _current.get()


def current_traceparent() -> str | None:
    context = _current.get()
    return context.traceparent if context else None


@contextmanager
def using(context: TraceContext | None) -> Iterator[None]:
    """Log lines written inside the block (this thread, and tasks and threads started
    from its context) carry ``context``; None leaves the current one as it is."""
    if context is None:
        yield
        return
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)
