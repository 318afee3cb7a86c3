"""The composition root: settings in, adapters out. Built once per process, on demand,
never at import time. The GCP adapters slot in here for ``QUANTRUN_MODE=gcp``."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from quantrun.adapters.embedded.artifacts import LocalArtifactStore
from quantrun.adapters.embedded.prices import DuckDBPriceStore
from quantrun.adapters.embedded.queue import EmbeddedQueue
from quantrun.adapters.embedded.secrets import EnvSecrets
from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.jobs.execute import WorkerConfig
from quantrun.jobs.submit import KnownSymbols
from quantrun.logging import get_logger
from quantrun.ports import ArtifactStore, JobQueue, JobStore, PriceStore, Secrets
from quantrun.settings import Settings

log = get_logger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: JobStore
    queue: JobQueue
    # The consumer side of the embedded queue (None where Pub/Sub pushes to the worker).
    embedded_queue: EmbeddedQueue | None
    prices: PriceStore
    artifacts: ArtifactStore
    secrets: Secrets
    known_symbols: KnownSymbols
    worker: WorkerConfig
    closers: list[object] = field(default_factory=list)

    def close(self) -> None:
        for closer in self.closers:
            close = getattr(closer, "close", None) or getattr(closer, "dispose", None)
            if close:
                close()


def bootstrap(settings: Settings | None = None, *, migrate_db: bool = True) -> Container:
    settings = settings or Settings()
    if settings.mode != "embedded":
        raise NotImplementedError(
            "QUANTRUN_MODE=gcp needs the Google Cloud adapters, which this build does not "
            "include yet; use QUANTRUN_MODE=embedded"
        )
    engine, store = build_job_store(settings, migrate_db=migrate_db)
    prices = DuckDBPriceStore(settings.resolved_price_db_path)
    if settings.load_sample_data and prices.is_empty():
        rows = prices.load_sample_data()
        log.info("loaded the bundled sample prices", extra={"fields": {"rows": rows}})
    artifacts = LocalArtifactStore(settings.resolved_artifacts_dir)
    queue = EmbeddedQueue(engine, visibility_seconds=max(2 * settings.lease_seconds, 10.0))
    return Container(
        settings=settings,
        engine=engine,
        store=store,
        queue=queue,
        embedded_queue=queue,
        prices=prices,
        artifacts=artifacts,
        secrets=EnvSecrets(),
        known_symbols=KnownSymbols(prices),
        worker=WorkerConfig(
            worker_id=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
        ),
        closers=[prices, engine],
    )


def build_job_store(settings: Settings, *, migrate_db: bool = True) -> tuple[Engine, SqlJobStore]:
    """Just the job store (for admin commands that need nothing else)."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    if migrate_db:
        migrate.upgrade(engine)
    return engine, SqlJobStore(engine)


def queued_grace(settings: Settings) -> timedelta:
    """How long a queued job may wait before the sweep publishes it again."""
    return timedelta(seconds=max(10 * settings.lease_seconds, 60.0))
