"""Writing a run's artifacts where no earlier run of the same attempt wrote.

Stores are create-only (a worker may create and read objects, never delete or
overwrite them) and a job's artifacts live under its attempt. A worker shutting down
gives its job back with the attempt not counted, so the next run has the same attempt
number; if the first run got as far as writing, its objects are there already. Most
artifacts are the same bytes whoever computes them (then the write is a no-op), but
``report.html`` records a time: a run that finds other bytes under its key writes under
``attempt + 1000 * k`` instead (the first free ``k``), and its reference says where, so
the job lists what its finishing run wrote.
"""

from __future__ import annotations

import json
from typing import Any

from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import Conflict
from quantrun.ports import ArtifactStore

RERUN_STRIDE = 1000
MAX_RERUNS = 10


def put_new(
    store: ArtifactStore, owner_id: str, name: str, data: bytes, content_type: str, attempt: int
) -> ArtifactRef:
    for rerun in range(MAX_RERUNS):
        try:
            return store.put(
                owner_id, name, data, content_type, attempt=attempt + RERUN_STRIDE * rerun
            )
        except Conflict:
            continue  # an earlier run of this attempt, given back mid-write, wrote here
    raise Conflict(f"{name}: {MAX_RERUNS} runs of attempt {attempt} wrote other bytes")


def manifest_bytes(document: dict[str, Any]) -> bytes:
    """``manifest.json`` as it is served (a job's row keeps the document)."""
    return json.dumps(document, indent=2, allow_nan=False).encode()


def manifest_size(document: dict[str, Any]) -> int:
    """``len(manifest_bytes(document))``, without making them: ``json.dumps`` with an indent
    runs in Python (the C encoder has no indent), a sixth of a small job's worker CPU when
    every job listed its manifest's size that way. The C encoder's text with the same
    separators, plus the line breaks and indentation the nesting adds, has the same
    length (ASCII: ``ensure_ascii``)."""
    compact = json.dumps(document, separators=(",", ": "), allow_nan=False)
    return len(compact) + _layout(document, 0)


def _layout(value: Any, depth: int) -> int:
    """The characters an indent of 2 adds to ``value`` at ``depth``: a line break and
    indentation before each item of a non-empty container, and before its closing mark."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return 0
    if not items:
        return 0
    nested = sum(_layout(v, depth + 1) for v in items if isinstance(v, dict | list | tuple))
    return len(items) * (1 + 2 * (depth + 1)) + 1 + 2 * depth + nested
