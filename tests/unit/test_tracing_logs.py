"""Trace context from request headers, and the log lines that carry it (CONTRACT 6.4)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from quantrun import tracing
from quantrun.logging import (
    SAMPLED_FIELD,
    SPAN_FIELD,
    TRACE_FIELD,
    configure_logging,
    get_logger,
    wants_json,
)
from quantrun.settings import Settings
from quantrun_worker.push import decode_envelope

W3C = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_traceparent_is_read_as_w3c_says() -> None:
    context = tracing.from_headers({"Traceparent": W3C})
    assert context == tracing.TraceContext(
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", sampled=True
    )
    assert context.traceparent == W3C


def test_cloud_trace_header_has_a_decimal_span_id() -> None:
    # Google's format: TRACE_ID/SPAN_ID;o=OPTIONS, the span id in decimal
    context = tracing.from_headers(
        {"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/255;o=1"}
    )
    expected = tracing.TraceContext("105445aa7843bc8bf206b12000100000", "00000000000000ff", True)
    assert context == expected


def test_traceparent_wins_over_the_cloud_header() -> None:
    context = tracing.from_headers(
        {"x-cloud-trace-context": "105445aa7843bc8bf206b12000100000/1;o=1", "traceparent": W3C}
    )
    assert context is not None and context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"traceparent": "garbage"},
        {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},  # all-zero id
        {"x-cloud-trace-context": "not-a-trace"},
    ],
)
def test_no_valid_trace_is_none(headers: dict[str, str]) -> None:
    assert tracing.from_headers(headers) is None


def test_new_traces_are_random_and_round_trip() -> None:
    a, b = tracing.new_trace(), tracing.new_trace()
    assert a.trace_id != b.trace_id and len(a.trace_id) == 32 and len(a.span_id) == 16
    assert tracing.parse(a.traceparent) == a
    assert tracing.parse(None) is None and tracing.parse("x") is None


def _captured(**kwargs: object) -> io.StringIO:
    out = io.StringIO()
    configure_logging("INFO", stream=out, **kwargs)  # type: ignore[arg-type]
    return out


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    configure_logging("INFO")


def test_json_lines_carry_the_current_trace_qualified_by_project() -> None:
    out = _captured(log_format="json", project="my-project")
    log = get_logger("quantrun.test")
    with tracing.using(tracing.parse(W3C)):
        log.info("inside", extra={"fields": {"job_id": "j1"}})
    log.info("outside")
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    assert inside[TRACE_FIELD] == "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside[SPAN_FIELD] == "00f067aa0ba902b7" and inside[SAMPLED_FIELD] is True
    assert inside["job_id"] == "j1" and inside["severity"] == "INFO"
    assert TRACE_FIELD not in outside


def test_using_nothing_keeps_the_current_trace() -> None:
    first = tracing.new_trace()
    with tracing.using(first), tracing.using(None):
        assert tracing.current() == first
    assert tracing.current() is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_short_coloured_lines_and_a_pipe_gets_json() -> None:
    assert wants_json("auto", io.StringIO()) and not wants_json("auto", _Terminal())
    assert wants_json("json", _Terminal()) and not wants_json("text", io.StringIO())
    terminal = _Terminal()
    configure_logging("INFO", stream=terminal)
    get_logger("quantrun.app.execute").info(
        "job finished", extra={"fields": {"job_id": "j1", "seconds": 0.25, "gone": None}}
    )
    line = terminal.getvalue().rstrip("\n")
    assert "\x1b[" in line  # coloured
    plain = line
    for code in ("\x1b[0m", "\x1b[2m", "\x1b[32m", "\x1b[36m"):
        plain = plain.replace(code, "")
    assert "INFO" in plain and "app.execute" in plain and "job finished" in plain
    assert "job_id=j1 seconds=0.25" in plain and "gone" not in plain
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_text_format_on_a_pipe_has_no_colour() -> None:
    out = _captured(log_format="text")
    logging.getLogger("quantrun.x").warning("careful")
    assert "\x1b[" not in out.getvalue() and "WARNING" in out.getvalue()


def test_log_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTRUN_LOG_FORMAT", "json")
    assert Settings().log_format == "json"
    monkeypatch.setenv("QUANTRUN_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()


def test_the_trace_project_is_gcp_modes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().log_project is None
    monkeypatch.setenv("QUANTRUN_PROJECT", "p1")
    assert Settings().log_project is None  # embedded mode writes bare ids


def test_a_pushed_message_brings_its_trace() -> None:
    job_id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    body = {"message": {"attributes": {"job_id": job_id, "traceparent": W3C}, "messageId": "7"}}
    assert decode_envelope(body).trace == W3C
    assert decode_envelope({"message": {"attributes": {"job_id": job_id}}}).trace is None


def test_a_librarys_warning_is_a_json_line_not_stderr_text() -> None:
    """numpy's overflow warning in a process whose logging is configured (as a service's
    is): one JSON line of severity WARNING on stdout, nothing on stderr."""
    probe = (
        "import numpy as np\n"
        "from quantrun.logging import configure_logging\n"
        "configure_logging(log_format='json')\n"
        "np.multiply(np.float64(1e308), 10.0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stderr == ""
    (line,) = [json.loads(x) for x in out.stdout.splitlines()]
    assert line["severity"] == "WARNING" and "overflow encountered" in line["message"]
