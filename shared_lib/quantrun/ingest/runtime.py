"""The ingest functions' composition root: adapters from the environment, built once per
instance on first use (never at import time)."""

from __future__ import annotations

import functools
import os
from typing import Any

from quantrun.ingest.providers import (
    AlphaVantageProvider,
    FallbackFetcher,
    Provider,
    StooqProvider,
    SyntheticProvider,
)
from quantrun.logging import configure_logging, get_logger
from quantrun.ports import PriceStore

log = get_logger(__name__)


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


@functools.cache
def price_store() -> PriceStore:
    configure_logging(os.environ.get("QUANTRUN_LOG_LEVEL", "INFO"))
    from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
    from quantrun.adapters.gcp.clients import bigquery_client

    project = os.environ.get("QUANTRUN_PROJECT") or _require("GOOGLE_CLOUD_PROJECT")
    store = BigQueryPriceStore(
        bigquery_client(project),
        dataset=os.environ.get("QUANTRUN_BQ_DATASET", "quantrun"),
        timeout=float(os.environ.get("QUANTRUN_GCP_TIMEOUT_SECONDS", "30")),
    )
    return store


@functools.cache
def storage() -> Any:
    from quantrun.adapters.gcp.clients import storage_client

    return storage_client(os.environ.get("QUANTRUN_PROJECT") or _require("GOOGLE_CLOUD_PROJECT"))


def _secret(name: str) -> str | None:
    from quantrun.adapters.embedded.secrets import EnvSecrets

    value = EnvSecrets().get(name)
    if value is not None:
        return value
    project = os.environ.get("QUANTRUN_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project or os.environ.get("QUANTRUN_SECRETS_FROM_ENV_ONLY") == "true":
        return None
    from google.cloud import secretmanager

    from quantrun.adapters.gcp.secret_manager import SecretManagerSecrets

    return SecretManagerSecrets(secretmanager.SecretManagerServiceClient(), project).get(name)


@functools.cache
def fetcher() -> FallbackFetcher:
    """Providers in ``QUANTRUN_INGEST_PROVIDERS`` order (default stooq,alphavantage);
    base URLs overridable for tests (``QUANTRUN_STOOQ_URL``, ``QUANTRUN_ALPHAVANTAGE_URL``)."""
    order = os.environ.get("QUANTRUN_INGEST_PROVIDERS", "stooq,alphavantage").split(",")
    providers: list[Provider] = []
    for name in (n.strip() for n in order if n.strip()):
        if name == "stooq":
            providers.append(
                StooqProvider(os.environ.get("QUANTRUN_STOOQ_URL", "https://stooq.com"))
            )
        elif name == "alphavantage":
            key = _secret("provider-alphavantage-key")
            if key:
                providers.append(
                    AlphaVantageProvider(
                        key,
                        os.environ.get("QUANTRUN_ALPHAVANTAGE_URL", "https://www.alphavantage.co"),
                    )
                )
            else:
                log.warning("alphavantage has no key (secret provider-alphavantage-key); skipped")
        elif name == "synthetic":
            providers.append(SyntheticProvider())
        else:
            raise RuntimeError(f"unknown provider {name!r} in QUANTRUN_INGEST_PROVIDERS")
    return FallbackFetcher(providers)
