"""Cloud Function (2nd gen): ingest a price file finalized under ``uploads/``.

A good file is MERGEd into BigQuery and moved to ``processed/``; a bad one loads nothing
and moves to ``rejected/`` with ``<name>.report.json`` beside it. Objects outside
``uploads/`` are ignored. The work is in ``quantrun.ingest``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import functions_framework

from quantrun.ingest import runtime
from quantrun.ingest.events import BadEvent, storage_object
from quantrun.ingest.usecases import ingest_file
from quantrun.logging import get_logger

log = get_logger("functions.ingest_upload")

PREFIX = "uploads/"
MAX_BYTES = 200 * 1024 * 1024


@functions_framework.cloud_event
def ingest_upload(cloud_event: Any) -> None:
    try:
        obj = storage_object(cloud_event["type"], cloud_event.data)
    except BadEvent as exc:
        log.error("upload event rejected", extra={"fields": {"reason": str(exc)}})
        return
    if obj is None or not obj.name.startswith(PREFIX) or obj.name.endswith("/"):
        return
    expected = os.environ.get("QUANTRUN_UPLOADS_BUCKET")
    if expected and obj.bucket != expected:  # a notification for another bucket
        return
    bucket = runtime.storage().bucket(obj.bucket)
    blob = bucket.get_blob(obj.name)
    if blob is None:  # already processed (a redelivered event)
        return
    base = obj.name[len(PREFIX) :]
    if (blob.size or 0) > MAX_BYTES:
        outcome_report: dict[str, Any] = {
            "file": base,
            "accepted": False,
            "problems": [f"file is over {MAX_BYTES} bytes"],
        }
        accepted = False
    else:
        outcome = ingest_file(
            name=base,
            data=blob.download_as_bytes(),
            store=runtime.price_store(),
            now=datetime.now(UTC),
        )
        outcome_report, accepted = outcome.report, outcome.accepted
    target = ("processed/" if accepted else "rejected/") + base
    bucket.copy_blob(blob, bucket, target)
    if not accepted:
        bucket.blob(f"{target}.report.json").upload_from_string(
            json.dumps(outcome_report, indent=2, default=str), content_type="application/json"
        )
    blob.delete()
    log.info(
        "upload ingested" if accepted else "upload rejected",
        extra={
            "fields": {
                "object": obj.name,
                "moved_to": target,
                "report": {k: v for k, v in outcome_report.items() if k != "rejections"},
            }
        },
    )
