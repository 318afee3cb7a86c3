"""Cloud Function (2nd gen): ingest prices named by a message on ``quantrun-ingest``.

Message: ``{"symbols": [...], "start"?: "YYYY-MM-DD", "end"?: ..., "since_last"?: true}``.
A malformed message is logged and acknowledged; a failure of BigQuery raises, so the
trigger retries. The work is in ``quantrun.app.ingest``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import functions_framework

from quantrun.adapters.gcp.events import BadEvent, pubsub_payload
from quantrun.app.ingest import ingest_prices as run_ingest
from quantrun.app.ingest_request import parse_ingest_message
from quantrun.bootstrap import ingest_from_env
from quantrun.clock import utcnow
from quantrun.logging import get_logger

log = get_logger("functions.ingest_prices")


@functions_framework.cloud_event
def ingest_prices(cloud_event: Any) -> None:
    try:
        body, _ = pubsub_payload(cloud_event.data)
        request = parse_ingest_message(body)
    except (BadEvent, ValueError) as exc:
        log.error("ingest message rejected", extra={"fields": {"reason": str(exc)}})
        return
    container = ingest_from_env()
    run_ingest(
        request=request,
        fetcher=container.fetcher,
        store=container.prices,
        now=utcnow(),
        today=date.today(),
    )
