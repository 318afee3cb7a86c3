"""Cloud Function (2nd gen): ingest a price file finalized under ``uploads/``.

Decodes the storage event and calls the upload use case (``quantrun.app.uploads``): a good
file is MERGEd into BigQuery and moved to ``processed/``; a bad one loads nothing and
moves to ``rejected/`` with ``<name>.report.json`` beside it. A malformed event is logged
and acknowledged; a failure of BigQuery or storage raises, so the trigger retries.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from quantrun.adapters.gcp.events import BadEvent, storage_object
from quantrun.app.uploads import process_upload
from quantrun.bootstrap import ingest_from_env
from quantrun.clock import utcnow
from quantrun.logging import get_logger

log = get_logger("functions.ingest_upload")


@functions_framework.cloud_event
def ingest_upload(cloud_event: Any) -> None:
    try:
        obj = storage_object(cloud_event["type"], cloud_event.data)
    except BadEvent as exc:
        log.error("upload event rejected", extra={"fields": {"reason": str(exc)}})
        return
    if obj is None:
        return
    container = ingest_from_env()
    process_upload(
        bucket=obj.bucket,
        name=obj.name,
        files=container.uploads,
        prices=container.prices,
        expected_bucket=container.settings.gcp.uploads_bucket,
        now=utcnow(),
    )
