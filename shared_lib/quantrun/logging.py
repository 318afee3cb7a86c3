"""One structured logger: JSON lines with Cloud Logging's field names, or short readable
lines on a terminal.

Cloud Run forwards stdout lines that are JSON objects to Cloud Logging, which reads
``severity``, ``message``, ``time``, ``logging.googleapis.com/trace``, ``.../spanId`` and
``.../trace_sampled`` from them; the trace fields come from the current trace context
(``quantrun.tracing``), so every line of one request, and of the job it submitted, groups
under one trace. Extra context goes in via ``logger.info("...", extra={"fields": {...}})``.

``format="auto"`` (the default) writes JSON unless the stream is a terminal, where a person
reads ``12:04:31.207 INFO  api  job submitted  job_id=… model=…`` in colour instead;
``json`` and ``text`` force one or the other (``QUANTRUN_LOG_FORMAT``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from quantrun.tracing import current as current_trace

LogFormat = Literal["auto", "json", "text"]

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"


class CloudLoggingFormatter(logging.Formatter):
    """``project``: the trace field is ``projects/<project>/traces/<id>`` as Cloud Logging
    wants it (the bare id without one, in embedded mode)."""

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self._trace_prefix = f"projects/{project}/traces/" if project else ""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        context = current_trace()
        if context is not None:
            entry[TRACE_FIELD] = self._trace_prefix + context.trace_id
            entry[SPAN_FIELD] = context.span_id
            entry[SAMPLED_FIELD] = context.sampled
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_COLOURS = {"DEBUG": "2", "INFO": "32", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


class ReadableFormatter(logging.Formatter):
    """One short line a record: time, level, logger, message, then the fields as k=v."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self._colour = colour

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._colour else text

    def format(self, record: logging.LogRecord) -> str:
        level = _SEVERITY.get(record.levelno, "DEFAULT")
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        name = record.name.removeprefix("quantrun.").removeprefix("quantrun_")
        parts = [
            self._paint("2", when),
            self._paint(_COLOURS.get(level, "0"), f"{level:<7}"),
            self._paint("36", name),
            record.getMessage(),
        ]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            pairs = " ".join(f"{k}={_short(v)}" for k, v in fields.items() if v is not None)
            parts.append(self._paint("2", pairs))
        line = "  ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def wants_json(log_format: LogFormat, stream: TextIO) -> bool:
    if log_format != "auto":
        return log_format == "json"
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def configure_logging(
    level: str = "INFO",
    stream: TextIO | None = None,
    *,
    log_format: LogFormat = "auto",
    project: str | None = None,
) -> None:
    """Route every logger through one handler (stdout by default). Idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_quantrun", False):
            root.removeHandler(handler)
    out = stream or sys.stdout
    handler = logging.StreamHandler(out)
    if wants_json(log_format, out):
        handler.setFormatter(CloudLoggingFormatter(project))
    else:
        handler.setFormatter(ReadableFormatter(colour=getattr(out, "isatty", lambda: False)()))
    handler._quantrun = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # a library's warning (a deprecation, numpy's overflow) as a WARNING line of its own
    # logger ``py.warnings``, not raw text on stderr that Cloud Logging cannot parse
    logging.captureWarnings(True)
    # HTTP clients log every URL at INFO/DEBUG, query strings included (a provider's API
    # key travels in one): never below WARNING, whatever the level asked for
    for noisy in ("uvicorn.access", "alembic", "httpx", "httpcore", "urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
