"""The composition root of the ingest functions (``quantrun.bootstrap``): BigQuery,
storage and the providers with fallback; also what runs an embedded backfill."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from quantrun.bootstrap.cloud import secrets
from quantrun.bootstrap.containers import Closers, IngestContainer
from quantrun.logging import configure_logging, get_logger
from quantrun.ports import (
    PriceProvider,
    PriceStore,
)
from quantrun.settings import Settings, load_settings

# Adapters are imported where they are built: the ingest functions ship with their own,
# smaller requirements (no database driver, DuckDB, numba or scipy), and a process builds
# only its mode's adapters.
if TYPE_CHECKING:
    from quantrun.app.fallback import FallbackFetcher
    from quantrun.app.ingest_request import IngestRequest

log = get_logger(__name__)


def ingest(settings: Settings) -> IngestContainer:
    """The ingest functions' adapters (always Google Cloud's: BigQuery and storage)."""
    from quantrun.adapters.gcp import clients
    from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
    from quantrun.adapters.gcp.uploads import GcsUploadedFiles

    gcp = settings.gcp
    if not gcp.project:
        raise ValueError("the ingest functions need QUANTRUN_PROJECT or GOOGLE_CLOUD_PROJECT")
    prices = BigQueryPriceStore(
        clients.bigquery_client(gcp.project, emulator=gcp.bigquery_emulator_host),
        dataset=gcp.bq_dataset,
        table=gcp.bq_table,
        timeout=gcp.gcp_timeout_seconds,
        max_bytes_billed=gcp.bq_max_bytes_billed,
    )
    storage = clients.storage_client(gcp.project, emulator=gcp.storage_emulator_host)
    uploads = GcsUploadedFiles(storage, timeout=max(gcp.gcp_timeout_seconds, 60.0))
    return IngestContainer(settings, prices, fetcher(settings), uploads, Closers())


def fetcher(settings: Settings) -> FallbackFetcher:
    """The providers of ``QUANTRUN_INGEST_PROVIDERS``, in order, with fallback."""
    from quantrun.adapters.providers import AlphaVantageProvider, StooqProvider, SyntheticProvider
    from quantrun.app.fallback import FallbackFetcher

    providers: list[PriceProvider] = []
    for name in settings.ingest.providers:
        if name == "stooq":
            providers.append(StooqProvider(settings.ingest.stooq_url))
        elif name == "alphavantage":
            key = secrets(settings).get("provider-alphavantage-key")
            if key:
                providers.append(AlphaVantageProvider(key, settings.ingest.alphavantage_url))
            else:
                log.warning("alphavantage has no key (secret provider-alphavantage-key); skipped")
        elif name == "synthetic":
            providers.append(SyntheticProvider())
        else:
            raise ValueError(f"unknown provider {name!r} in QUANTRUN_INGEST_PROVIDERS")
    return FallbackFetcher(providers)


@functools.cache
def ingest_from_env() -> IngestContainer:
    """The ingest functions' container, built on the first event an instance receives."""
    settings = load_settings()
    configure_logging(
        settings.log_level, log_format=settings.log_format, project=settings.log_project
    )
    return ingest(settings)


def _ingest_in_thread(settings: Settings, prices: PriceStore, request: IngestRequest) -> None:
    """Embedded mode's ingest function: the run in a thread of this process."""
    from quantrun.app.ingest import ingest_prices
    from quantrun.clock import utcnow

    def run() -> None:
        try:
            ingest_prices(request=request, fetcher=fetcher(settings), store=prices,
                          now=utcnow(), today=utcnow().date())  # fmt: skip
        except Exception:
            log.exception("backfill failed", extra={"fields": {"run_id": request.run_id}})

    threading.Thread(target=run, name="backfill", daemon=True).start()
