"""An uploaded price file: validated as a whole, loaded or rejected with a report.

A good file under ``uploads/`` is MERGEd and moved to ``processed/``; a file with any bad
row loads nothing and moves to ``rejected/`` with ``<name>.report.json`` beside it.
Objects outside ``uploads/``, folders, and notifications for another bucket are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantrun.app.price_files import ingest_file
from quantrun.logging import get_logger
from quantrun.ports import PriceStore, UploadedFiles

log = get_logger(__name__)

PREFIX = "uploads/"
MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class UploadOutcome:
    accepted: bool
    moved_to: str
    report: dict[str, Any]


def process_upload(
    *,
    bucket: str,
    name: str,
    files: UploadedFiles,
    prices: PriceStore,
    expected_bucket: str | None,
    now: datetime,
) -> UploadOutcome | None:
    """None when the object is not ours to ingest (or was processed already)."""
    if not name.startswith(PREFIX) or name.endswith("/"):
        return None
    if expected_bucket and bucket != expected_bucket:  # a notification for another bucket
        return None
    size = files.size(bucket, name)
    if size is None:  # already processed (a redelivered event)
        return None
    base = name[len(PREFIX) :]
    if size > MAX_BYTES:
        report: dict[str, Any] = {
            "file": base,
            "accepted": False,
            "problems": [f"file is over {MAX_BYTES} bytes"],
        }
        accepted = False
    else:
        outcome = ingest_file(name=base, data=files.read(bucket, name), store=prices, now=now)
        report, accepted = outcome.report, outcome.accepted
    target = ("processed/" if accepted else "rejected/") + base
    if not accepted:
        body = json.dumps(report, indent=2, default=str).encode()
        files.write(bucket, f"{target}.report.json", body, "application/json")
    files.move(bucket, name, target)
    log.info(
        "upload ingested" if accepted else "upload rejected",
        extra={
            "fields": {
                "object": name,
                "moved_to": target,
                "report": {k: v for k, v in report.items() if k != "rejections"},
            }
        },
    )
    return UploadOutcome(accepted, target, report)
