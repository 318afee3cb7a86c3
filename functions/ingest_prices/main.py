"""Cloud Function (2nd gen): ingest prices named by a message on ``quantrun-ingest``.

Message: ``{"symbols": [...], "start"?: "YYYY-MM-DD", "end"?: ..., "since_last"?: true}``.
A malformed message is logged and acknowledged; a failure of BigQuery raises, so the
trigger retries. The work is in ``quantrun.ingest``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import functions_framework

from quantrun.ingest import runtime
from quantrun.ingest.events import BadEvent, pubsub_payload
from quantrun.ingest.usecases import ingest_prices as run_ingest
from quantrun.ingest.usecases import parse_ingest_message
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
    run_ingest(
        request=request,
        fetcher=runtime.fetcher(),
        store=runtime.price_store(),
        now=datetime.now(UTC),
        today=date.today(),
    )
