"""The composition root: settings in, adapters out. Built once per process, on demand,
never at import time. ``QUANTRUN_MODE`` picks the embedded or the Google Cloud adapters;
the use cases see only the ports."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from quantrun.adapters.embedded.artifacts import LocalArtifactStore
from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.adapters.embedded.queue import EmbeddedQueue
from quantrun.adapters.embedded.secrets import EnvSecrets
from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.outbox import OutboxQueue
from quantrun.jobs.lease import WorkerConfig
from quantrun.jobs.submit import KnownSymbols
from quantrun.logging import get_logger
from quantrun.ports import ArtifactStore, JobQueue, JobStore, PriceStore, Secrets
from quantrun.prices.cache import SingleFlightCache
from quantrun.settings import Settings

log = get_logger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: JobStore
    queue: JobQueue
    prices: PriceStore
    artifacts: ArtifactStore
    secrets: Secrets
    known_symbols: KnownSymbols
    worker: WorkerConfig
    # The consumer side of the embedded queue (None where Pub/Sub pushes to the worker).
    read_cache: SingleFlightCache = field(default_factory=lambda: SingleFlightCache(0.0))
    auth_cache: SingleFlightCache = field(default_factory=lambda: SingleFlightCache(0.0))
    embedded_queue: EmbeddedQueue | None = None
    # gcp mode's outbox (its relay runs in the processes that publish).
    outbox: OutboxQueue | None = None
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.stop_relay()
        for closer in self.closers:
            close = getattr(closer, "close", None) or getattr(closer, "dispose", None)
            if close:
                close()


def _worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        worker_id=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
    )


def build_job_store(settings: Settings, *, migrate_db: bool = True) -> tuple[Engine, SqlJobStore]:
    """Just the job store (for admin commands that need nothing else)."""
    closers: list[Any] = []
    engine = _engine(settings, closers)
    if migrate_db:
        migrate.upgrade(engine)
    return engine, SqlJobStore(engine, outbox=settings.mode == "gcp")


def _engine(settings: Settings, closers: list[Any]) -> Engine:
    if settings.database_url:
        return make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            prepared_statements=settings.db_prepared_statements,
        )
    if settings.mode == "gcp" and settings.cloudsql_instance:
        from quantrun.adapters.gcp.cloudsql import cloudsql_engine

        user = settings.db_user
        if not user:
            raise ValueError("QUANTRUN_CLOUDSQL_INSTANCE needs QUANTRUN_DB_USER")
        password = EnvSecrets().get("db-password")
        engine, connector = cloudsql_engine(
            settings.cloudsql_instance,
            user=user,
            database=settings.db_name,
            password=password,
            pool_size=settings.db_pool_size,
            prepared_statements=settings.db_prepared_statements,
        )
        closers.append(connector)
        return engine
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.resolved_database_url)


def bootstrap(settings: Settings | None = None, *, migrate_db: bool = True) -> Container:
    settings = settings or Settings()
    if settings.mode == "gcp":
        return _bootstrap_gcp(settings, migrate_db=migrate_db)
    engine, store = build_job_store(settings, migrate_db=migrate_db)
    prices = DuckDBPriceStore(settings.resolved_price_db_path)
    if settings.load_sample_data and prices.is_empty():
        rows = prices.load_sample_data()
        log.info("loaded the bundled sample prices", extra={"fields": {"rows": rows}})
    queue = EmbeddedQueue(engine, visibility_seconds=max(2 * settings.lease_seconds, 10.0))
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        queue=queue,
        prices=prices,
        artifacts=LocalArtifactStore(settings.resolved_artifacts_dir),
        secrets=EnvSecrets(),
        known_symbols=KnownSymbols(prices),
        read_cache=SingleFlightCache(settings.read_cache_seconds),
        auth_cache=SingleFlightCache(settings.auth_cache_seconds),
        worker=_worker_config(settings),
        embedded_queue=queue,
        closers=[prices, engine],
    )


def _bootstrap_gcp(settings: Settings, *, migrate_db: bool) -> Container:
    from quantrun.adapters.gcp import clients
    from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore
    from quantrun.adapters.gcp.gcs_artifacts import GcsArtifactStore
    from quantrun.adapters.gcp.pubsub import PubSubPublisher
    from quantrun.adapters.gcp.secret_manager import SecretManagerSecrets

    project = str(settings.project)
    timeout = settings.gcp_timeout_seconds
    closers: list[Any] = []
    engine = _engine(settings, closers)
    if migrate_db:
        migrate.upgrade(engine)
    store = SqlJobStore(engine, outbox=True)
    publisher = PubSubPublisher(
        clients.publisher_client(), project, settings.jobs_topic, timeout=timeout
    )
    outbox = OutboxQueue(engine, publisher)
    prices = BigQueryPriceStore(
        clients.bigquery_client(project),
        dataset=settings.bq_dataset,
        table=settings.bq_table,
        timeout=timeout,
    )
    storage = clients.storage_client(project)
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    artifacts = GcsArtifactStore(
        storage,
        str(settings.artifacts_bucket),
        url_seconds=settings.signed_url_seconds,
        signing_credentials=_emulator_signing_credentials() if emulator else None,
        signing_email=settings.signing_service_account,
        api_endpoint=emulator,
        timeout=timeout,
    )
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        queue=outbox,
        prices=prices,
        artifacts=artifacts,
        secrets=SecretManagerSecrets(_secret_client(), project),
        known_symbols=KnownSymbols(prices),
        read_cache=SingleFlightCache(settings.read_cache_seconds),
        auth_cache=SingleFlightCache(settings.auth_cache_seconds),
        worker=_worker_config(settings),
        outbox=outbox,
        closers=[*closers, engine],
    )


def _secret_client() -> Any:
    """Built lazily: the Secret Manager client needs credentials, and most runs read every
    secret from the environment (Cloud Run injects them)."""

    class _Lazy:
        _client: Any = None

        def __getattr__(self, name: str) -> Any:
            if self._client is None:
                from google.cloud import secretmanager

                self._client = secretmanager.SecretManagerServiceClient()
            return getattr(self._client, name)

    return _Lazy()


def _emulator_signing_credentials() -> Any:
    """A throwaway service-account key, so V4 URLs can be signed for the storage emulator
    (which does not check signatures)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return service_account.Credentials.from_service_account_info(
        {
            "type": "service_account",
            "client_email": "emulator@quantrun-local.iam.gserviceaccount.com",
            "private_key": pem,
            "private_key_id": "emulator",
            "token_uri": "http://127.0.0.1/token",
            "project_id": "quantrun-local",
        }
    )


def queued_grace(settings: Settings) -> timedelta:
    """How long a queued job may wait before the sweep publishes it again."""
    return timedelta(seconds=max(10 * settings.lease_seconds, 60.0))
