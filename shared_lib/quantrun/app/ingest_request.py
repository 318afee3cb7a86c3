"""What an ingest run is asked to do: the message on the ingest topic (scheduled, or a
backfill's) parsed into an ``IngestRequest``."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from quantrun.domain.symbols import parse_symbol

MAX_SYMBOLS = 500


@dataclass(frozen=True)
class IngestRequest:
    symbols: list[str]
    start: date | None = None
    end: date | None = None
    active: bool = False  # the active instruments instead of ``symbols``
    seed: list[str] = field(default_factory=list)
    run_id: str | None = None  # given by a backfill (``app/instruments.py``); else new


def parse_ingest_message(data: bytes | str) -> IngestRequest:
    """``{"symbols": [...], "start": "YYYY-MM-DD"?, "end": ...?, "since_last": true?}``;
    without a start (or with since_last) each symbol resumes after its last stored date.
    ``{"active": true, "seed": [...]?}``: the active instruments (``app/universe.py``).
    ``run_id``: the run's id, when a backfill gave it one."""
    try:
        body = json.loads(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the ingest message is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("the ingest message is not a JSON object")
    active = body.get("active") is True
    listed = body.get("seed" if active else "symbols", [] if active else None)
    if not isinstance(listed, list):
        raise ValueError("the ingest message needs a list of symbols (or active: true)")
    symbols = list(dict.fromkeys(parse_symbol(s) for s in listed))
    if (not symbols and not active) or len(symbols) > MAX_SYMBOLS:
        raise ValueError(f"give 1 to {MAX_SYMBOLS} symbols")
    start = None if body.get("since_last") else body.get("start")
    end = body.get("end")
    return IngestRequest(
        [] if active else symbols,
        date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None,
        active=active,
        seed=symbols if active else [],
        run_id=_run_id(body.get("run_id")),
    )


def _run_id(value: Any) -> str | None:
    try:
        return None if value is None else str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"run_id {str(value)[:80]!r} is not a run id") from None
