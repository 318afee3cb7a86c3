"""Cloud Logging's view of QuantRun's log lines, and the part of its filter language the
log-based metrics in ``infra/modules/monitoring`` use: terms joined by ``AND``, each a
field path, an operator (``=``, ``!=``, ``>=``, ``<=``, ``>``, ``<``, ``:``) and a quoted
string or a number; ``EXTRACT(path)`` for label and value extractors. Anything else is
refused, so a filter this cannot read fails its test instead of passing unread.

A JSON line becomes a LogEntry as Cloud Run's agent makes it: ``severity``, ``time`` and
the ``logging.googleapis.com/*`` fields move to the entry, everything else (``message``
included) is ``jsonPayload``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SPECIAL = {"severity", "time"}
_TERM = re.compile(
    r'^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<|:)\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?)\s*$'
)
_EXTRACT = re.compile(r"^EXTRACT\(([A-Za-z_][\w.]*)\)$")


def as_log_entry(line: dict[str, Any], resource_type: str = "cloud_run_revision") -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": {"type": resource_type}, "jsonPayload": {}}
    for key, value in line.items():
        if key in _SPECIAL or key.startswith("logging.googleapis.com/"):
            entry[key] = value
        else:
            entry["jsonPayload"][key] = value
    return entry


def read_entries(*paths: Path) -> list[dict[str, Any]]:
    """The JSON lines of log files (other lines, such as a server's banner, skipped)."""
    entries = []
    for path in paths:
        for raw in path.read_text(errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                entries.append(as_log_entry(line))
    return entries


def _field(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _term_matches(term: str, entry: dict[str, Any]) -> bool:
    found = _TERM.match(term)
    if found is None:
        raise ValueError(f"unsupported filter term: {term!r}")
    path, op, literal = found.groups()
    value = _field(entry, path)
    if value is None:
        return False
    if literal.startswith('"'):
        wanted: Any = json.loads(literal)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if op == "=":
            return text == wanted
        if op == "!=":
            return text != wanted
        if op == ":":
            return wanted.lower() in text.lower()
        raise ValueError(f"operator {op} needs a number: {term!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    number = float(literal)
    return {
        "=": value == number,
        "!=": value != number,
        ">=": value >= number,
        "<=": value <= number,
        ">": value > number,
        "<": value < number,
        ":": value == number,
    }[op]


def matches(log_filter: str, entry: dict[str, Any]) -> bool:
    terms = re.split(r"\s+AND\s+", log_filter.strip())
    return all(_term_matches(term, entry) for term in terms)


def extract(extractor: str, entry: dict[str, Any]) -> Any:
    found = _EXTRACT.match(extractor.strip())
    if found is None:
        raise ValueError(f"unsupported extractor: {extractor!r}")
    return _field(entry, found.group(1))


def matching(log_filter: str, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if matches(log_filter, e)]
