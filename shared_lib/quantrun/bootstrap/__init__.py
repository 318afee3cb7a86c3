"""The composition root: settings in, adapters out, and the only module that names an
adapter. Built once per process, on demand, never at import time.

- ``bootstrap(settings)``: the job processes' container (the API, the worker, and in
  embedded mode both in one process, sharing it). ``QUANTRUN_MODE`` picks the embedded
  or the Google Cloud adapters; the use cases see only the ports.
- ``push_verifier(settings)``: how the worker checks a Pub/Sub push's OIDC token.
- ``ingest(settings)``: the ingest functions' container (BigQuery, storage, providers).
- ``admin(settings)``: the job store alone, for the CLI's admin commands.

Every container keeps the closers of what it built (engines, the Cloud SQL connector,
the DuckDB file) and ``close()`` calls them, last built first.

The package is the one place that names an adapter, split by what it composes: this
module the job processes' and the admin commands' containers, ``containers`` what each
process holds, ``cloud`` the Google Cloud adapters, Pub/Sub publishing, the push verifier
and secrets, ``ingest`` the ingest functions' container and providers.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantrun.bootstrap.cloud import (
    _gcs_artifacts,
    _google_sign_in,
    _price_store,
    _publish_ingest,
    _publish_one,
    _webhook_box,
    push_verifier,
    secrets,
)
from quantrun.bootstrap.containers import AdminContainer, Closers, Container, IngestContainer
from quantrun.bootstrap.ingest import _ingest_in_thread, fetcher, ingest, ingest_from_env
from quantrun.logging import get_logger
from quantrun.settings import Settings

# Adapters are imported where they are built: the ingest functions ship with their own,
# smaller requirements (no database driver, DuckDB, numba or scipy), and a process builds
# only its mode's adapters.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from quantrun.app.lease import WorkerConfig

log = get_logger(__name__)


def _worker_config(settings: Settings) -> WorkerConfig:
    from quantrun.app.lease import WorkerConfig

    lease = settings.worker.lease_seconds
    return WorkerConfig(
        worker_id=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        lease_seconds=lease,
        max_attempts=settings.worker.max_attempts,
        queued_grace_seconds=settings.worker.queued_grace_seconds or max(10 * lease, 60.0),
        max_cost=settings.limits.job_max_cost,
        max_result_values=settings.limits.job_max_result_values,
        inline_values=settings.limits.result_inline_values,
        push_max_cost=settings.worker.push_max_cost,
        code_version=settings.worker.code_version or _source_commit(),
    )


@functools.cache
def _source_commit() -> str:
    """The git commit of the source tree this package runs from (a checkout), else
    ``unknown`` (an image sets QUANTRUN_CODE_VERSION instead)."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        done = subprocess.run(  # noqa: S603 (a fixed command, no outside input)
            [git, "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _engine(settings: Settings, closers: Closers, *, migrate_db: bool) -> Engine:
    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.engine import make_engine

    db = settings.db
    if settings.mode == "gcp" and db.cloudsql_instance and not db.url:
        from quantrun.adapters.gcp.cloudsql import cloudsql_engine

        engine, connector = cloudsql_engine(
            db.cloudsql_instance,
            user=str(db.user),
            database=db.name,
            password=db.password.get_secret_value() if db.password else None,
            private_ip=db.cloudsql_ip_type == "private",
            pool_size=db.pool_size,
            prepared_statements=db.prepared_statements,
        )
        closers.add(connector)
    elif db.url:
        engine = make_engine(
            db.url, pool_size=db.pool_size, prepared_statements=db.prepared_statements
        )
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
    closers.add(engine)
    if migrate_db:
        migrate.upgrade(engine)
    return engine


def admin(settings: Settings, *, migrate_db: bool = True) -> AdminContainer:
    from quantrun.adapters.sql.job_store import SqlJobStore
    from quantrun.adapters.sql.webhook_rows import SqlWebhookStore

    closers = Closers()
    engine = _engine(settings, closers, migrate_db=migrate_db)
    return AdminContainer(
        settings,
        SqlJobStore(engine, outbox=settings.mode == "gcp"),
        SqlWebhookStore(engine, functools.partial(_webhook_box, settings)),
        closers,
    )


def bootstrap(settings: Settings, *, migrate_db: bool = True) -> Container:
    from quantrun.adapters.embedded.artifacts import LocalArtifactStore
    from quantrun.adapters.embedded.queue import EmbeddedQueue
    from quantrun.adapters.sql.audit_rows import SqlAuditLog
    from quantrun.adapters.sql.job_store import SqlJobStore
    from quantrun.adapters.sql.outbox import OutboxQueue
    from quantrun.adapters.sql.portfolio_rows import SqlPortfolioStore
    from quantrun.adapters.sql.strategy_rows import SqlStrategyStore
    from quantrun.adapters.sql.webhook_rows import SqlWebhookStore
    from quantrun.adapters.webhook_http import HttpWebhookTransport
    from quantrun.app.cache import SingleFlightCache
    from quantrun.app.ratelimit import RateLimiter
    from quantrun.app.submit import KnownSymbols

    closers = Closers()
    engine = _engine(settings, closers, migrate_db=migrate_db)
    store = SqlJobStore(engine, outbox=settings.mode == "gcp")
    prices = _price_store(settings, closers)
    transport = HttpWebhookTransport()
    closers.add(transport)
    common: dict[str, Any] = {
        "settings": settings,
        "engine": engine,
        "store": store,
        "webhooks": SqlWebhookStore(engine, functools.partial(_webhook_box, settings)),
        "strategies": SqlStrategyStore(engine),
        "portfolios": SqlPortfolioStore(engine),
        "audit": SqlAuditLog(engine),
        "webhook_transport": transport,
        "prices": prices,
        "known_symbols": KnownSymbols(prices),
        "worker": _worker_config(settings),
        "read_cache": SingleFlightCache(settings.api.read_cache_seconds),
        "auth_cache": SingleFlightCache(settings.api.auth_cache_seconds),
        "rate_limiter": RateLimiter(
            settings.limits.rate_requests_per_second, settings.limits.rate_burst
        ),
        "closers": closers,
        "google_sign_in": _google_sign_in(settings),
    }
    if settings.mode == "gcp":
        from quantrun.adapters.gcp import clients
        from quantrun.adapters.gcp.pubsub import PubSubPublisher

        gcp = settings.gcp
        publisher = PubSubPublisher(
            clients.publisher_client(),
            str(gcp.project),
            gcp.jobs_topic,
            timeout=gcp.gcp_timeout_seconds,
        )
        outbox = OutboxQueue(engine, publisher)
        long_jobs = PubSubPublisher(
            clients.publisher_client(),
            str(gcp.project),
            gcp.long_jobs_topic,
            timeout=gcp.gcp_timeout_seconds,
        )
        return Container(
            **common,
            queue=outbox,
            artifacts=_gcs_artifacts(settings),
            outbox=outbox,
            long_jobs=functools.partial(_publish_one, long_jobs),
            step_portfolio=publisher.publish_step,
            launch_ingest=functools.partial(
                _publish_ingest,
                PubSubPublisher(
                    clients.publisher_client(),
                    str(gcp.project),
                    gcp.ingest_topic,
                    timeout=gcp.gcp_timeout_seconds,
                ),
            ),
        )
    visibility = max(2 * settings.worker.lease_seconds, 10.0)
    queue = EmbeddedQueue(engine, visibility_seconds=visibility)
    artifacts = LocalArtifactStore(settings.artifacts_dir)
    return Container(
        **common,
        queue=queue,
        artifacts=artifacts,
        embedded_queue=queue,
        launch_ingest=functools.partial(_ingest_in_thread, settings, prices),
    )


__all__ = [
    "AdminContainer",
    "Closers",
    "Container",
    "IngestContainer",
    "admin",
    "bootstrap",
    "fetcher",
    "ingest",
    "ingest_from_env",
    "push_verifier",
    "secrets",
]
