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

Long on purpose: it is the one place that names an adapter; split, the choice of
adapters per mode would be spread over several files.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantrun.adapters.embedded.secrets import EnvSecrets
from quantrun.domain.quota import JobQuota
from quantrun.domain.shards import ShardPolicy
from quantrun.logging import configure_logging, get_logger
from quantrun.ports import (
    ArtifactStore,
    AuditLog,
    JobQueue,
    JobStore,
    PortfolioStore,
    PriceProvider,
    PriceStore,
    PushVerifier,
    Secrets,
    StrategyStore,
    UploadedFiles,
    WebhookStore,
    WebhookTransport,
)
from quantrun.settings import Settings, comma_list, load_settings, secret_environment

# Adapters are imported where they are built: the ingest functions ship with their own,
# smaller requirements (no database driver, DuckDB, numba or scipy), and a process builds
# only its mode's adapters.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from quantrun.adapters.embedded.queue import EmbeddedQueue
    from quantrun.adapters.sealed import SecretBox
    from quantrun.adapters.sql.outbox import OutboxQueue
    from quantrun.app.auth import GoogleSignIn
    from quantrun.app.cache import SingleFlightCache
    from quantrun.app.fallback import FallbackFetcher
    from quantrun.app.ingest import IngestRequest
    from quantrun.app.lease import WorkerConfig
    from quantrun.app.ratelimit import RateLimiter
    from quantrun.app.strategies import JobRules
    from quantrun.app.submit import KnownSymbols
    from quantrun.app.webhook_dispatch import Dispatcher
    from quantrun.app.webhooks import WebhookPolicy

log = get_logger(__name__)


@dataclass
class Closers:
    """What a container built and must release, in reverse order of building."""

    items: list[Callable[[], Any]] = field(default_factory=list)

    def add(self, resource: Any) -> None:
        close = getattr(resource, "close", None) or getattr(resource, "dispose", None)
        if close is not None:
            self.items.append(close)

    def close(self) -> None:
        while self.items:
            self.items.pop()()


@dataclass
class Container:
    settings: Settings
    engine: Engine
    store: JobStore
    webhooks: WebhookStore
    webhook_transport: WebhookTransport
    strategies: StrategyStore
    portfolios: PortfolioStore
    audit: AuditLog
    queue: JobQueue
    prices: PriceStore
    artifacts: ArtifactStore
    known_symbols: KnownSymbols
    worker: WorkerConfig
    read_cache: SingleFlightCache
    auth_cache: SingleFlightCache
    rate_limiter: RateLimiter
    closers: Closers
    # Google ID tokens beside API keys (QUANTRUN_GOOGLE_AUDIENCE), else None
    google_sign_in: GoogleSignIn | None = None
    # The consumer side of the embedded queue (None where Pub/Sub pushes to the worker).
    embedded_queue: EmbeddedQueue | None = None
    # gcp mode's outbox (its relay runs in the processes that publish).
    outbox: OutboxQueue | None = None
    # gcp mode: puts a job on the long-jobs topic (the push worker's handoff)
    long_jobs: Callable[[str], None] | None = None
    # gcp mode: asks a worker to step a paper portfolio (a message on the jobs topic)
    step_portfolio: Callable[[str], None] | None = None
    # runs an instrument's backfill: a message to the ingest function (gcp), a thread here
    launch_ingest: Callable[[IngestRequest], None] | None = None
    # the webhook dispatcher, once started (start_webhooks)
    dispatcher: Dispatcher | None = None

    @property
    def job_quota(self) -> JobQuota:
        limits = self.settings.limits
        return JobQuota(
            active_jobs=limits.quota_active_jobs, jobs_per_day=limits.quota_jobs_per_day
        )

    @property
    def sharding(self) -> ShardPolicy:
        limits = self.settings.limits
        return ShardPolicy(max_shards=limits.max_shards, shard_cost=limits.shard_cost)

    def drain(self) -> list[str]:
        """Shutdown: claim nothing more and put the jobs this process runs back on the
        queue now (their attempts not counted). The ids given back."""
        from quantrun.app.lease import drain

        return drain(self.queue.publish)

    @property
    def job_rules(self) -> JobRules:
        """What a job submitted through the API is held to (also one from a strategy)."""
        from quantrun.app.strategies import JobRules

        limits = self.settings.limits
        return JobRules(
            store=self.store,
            queue=self.queue,
            known=self.known_symbols,
            max_cost=limits.job_max_cost,
            submit_limits={
                "max_cost": limits.job_max_cost,
                "max_result_values": limits.job_max_result_values,
                "max_params_bytes": limits.max_params_bytes,
                "quota": self.job_quota,
                "sharding": self.sharding,
            },
        )

    @property
    def webhook_policy(self) -> WebhookPolicy:
        from quantrun.app.webhooks import WebhookPolicy

        api = self.settings.api
        return WebhookPolicy(
            allow_private=api.webhook_allow_private,
            first_retry=timedelta(seconds=api.webhook_first_retry_seconds),
            give_up_after=timedelta(hours=api.webhook_retry_hours),
            timeout_seconds=api.webhook_timeout_seconds,
        )

    def start_relay(self) -> None:
        """gcp mode: publish this process's jobs (and sweep up orphans) in the background."""
        if self.outbox is not None:
            self.outbox.start_relay(self.settings.gcp.outbox_interval_seconds)

    def start_webhooks(self) -> Dispatcher:
        """Make and send webhook deliveries in the background (an API process)."""
        from quantrun.app.webhook_dispatch import Dispatcher

        if self.dispatcher is None:
            self.dispatcher = Dispatcher(
                webhooks=self.webhooks,
                jobs=self.store,
                transport=self.webhook_transport,
                policy=self.webhook_policy,
            )
            self.dispatcher.start(self.settings.api.webhook_interval_seconds)
        return self.dispatcher

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.stop_relay()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.closers.close()


@dataclass
class AdminContainer:
    settings: Settings
    store: JobStore
    webhooks: WebhookStore
    closers: Closers

    def prices(self) -> PriceStore:
        """The mode's price store, built on first use (DuckDB is a single-writer file)."""
        return _price_store(self.settings, self.closers)

    def close(self) -> None:
        self.closers.close()


@dataclass
class IngestContainer:
    settings: Settings
    prices: PriceStore
    fetcher: FallbackFetcher
    uploads: UploadedFiles
    closers: Closers

    def close(self) -> None:
        self.closers.close()


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


def _publish_ingest(publisher: Any, request: IngestRequest) -> None:
    """A backfill for the ingest function (the scheduled ingest's topic and message)."""
    body = {"symbols": request.symbols, "start": request.start, "end": request.end,
            "run_id": request.run_id}  # fmt: skip
    data = json.dumps({k: str(v) if k in ("start", "end") and v else v for k, v in body.items()})
    publisher.publish_one(data.encode(), {}, what="hand the backfill to the ingest function")


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


def _publish_one(publisher: Any, job_id: str) -> None:
    """Publish one job id; a failure is transient (the message is redelivered)."""
    from quantrun.domain.errors import TransientError

    (error,) = publisher.publish_many([job_id])
    if error is not None:
        raise TransientError(f"cannot hand the job to the long-jobs topic: {error}")


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


def _google_sign_in(settings: Settings) -> GoogleSignIn | None:
    api = settings.api
    if not api.google_audience:
        return None
    from quantrun.adapters.gcp.oidc import GoogleCerts, GoogleIdTokens
    from quantrun.app.auth import GoogleSignIn

    certs = GoogleCerts(api.google_certs_url)
    verifier = GoogleIdTokens(audience=api.google_audience, certs=certs)
    return GoogleSignIn.of(
        verifier, comma_list(api.allowed_emails), comma_list(api.allowed_domains)
    )


def _price_store(settings: Settings, closers: Closers) -> PriceStore:
    if settings.mode == "gcp":
        from quantrun.adapters.gcp import clients
        from quantrun.adapters.gcp.bigquery_prices import BigQueryPriceStore

        gcp = settings.gcp
        client = clients.bigquery_client(str(gcp.project), emulator=gcp.bigquery_emulator_host)
        return BigQueryPriceStore(
            client,
            dataset=gcp.bq_dataset,
            table=gcp.bq_table,
            timeout=gcp.gcp_timeout_seconds,
            max_bytes_billed=gcp.bq_max_bytes_billed,
        )
    from quantrun.adapters.embedded.prices import DuckDBPriceStore

    prices = DuckDBPriceStore(settings.price_db_path)
    closers.add(prices)
    if settings.embedded.load_sample_data and prices.is_empty():
        rows = prices.load_sample_data()
        log.info("loaded the bundled sample prices", extra={"fields": {"rows": rows}})
    return prices


def _gcs_artifacts(settings: Settings) -> ArtifactStore:
    from quantrun.adapters.gcp import clients
    from quantrun.adapters.gcp.gcs_artifacts import GcsArtifactStore

    gcp = settings.gcp
    emulator = gcp.storage_emulator_host
    signing = None
    if emulator:
        from quantrun.adapters.gcp.emulator import throwaway_signing_credentials

        signing = throwaway_signing_credentials()
    return GcsArtifactStore(
        clients.storage_client(str(gcp.project), emulator=emulator),
        str(gcp.artifacts_bucket),
        url_seconds=gcp.signed_url_seconds,
        signing_credentials=signing,
        signing_email=gcp.signing_service_account,
        api_endpoint=emulator,
        timeout=gcp.gcp_timeout_seconds,
    )


def push_verifier(settings: Settings) -> PushVerifier:
    """The worker's check of a push request: Google's OIDC token for the push identity in
    gcp mode; nothing for emulators (``QUANTRUN_VERIFY_PUSH_TOKEN=false``) or embedded."""
    from quantrun.adapters.gcp.oidc import AcceptAll, GoogleCerts, OidcPushVerifier

    worker = settings.worker
    if settings.mode != "gcp" or not worker.verify_push_token:
        return AcceptAll()
    if not (worker.push_audience and worker.push_service_account):
        raise ValueError(
            "verifying push tokens needs QUANTRUN_PUSH_AUDIENCE and "
            "QUANTRUN_PUSH_SERVICE_ACCOUNT (or QUANTRUN_VERIFY_PUSH_TOKEN=false "
            "for an emulator)"
        )
    # the certificates are fetched once an hour, not per push: a network blip is no 401
    return OidcPushVerifier(
        audience=worker.push_audience,
        email=worker.push_service_account,
        certs=GoogleCerts(settings.api.google_certs_url),
    )


WEBHOOK_KEY_SECRET = "webhook-secrets-key"  # noqa: S105 - the secret's name, not its value


def _webhook_box(settings: Settings) -> SecretBox:
    """The key webhook secrets are sealed with: the ``webhook-secrets-key`` secret (older
    keys after it, comma-separated, while rotating); in embedded mode without one, a key
    file beside the data, made on first use."""
    from quantrun.adapters.sealed import SecretBox, key_file, parse_keys

    configured = secrets(settings).get(WEBHOOK_KEY_SECRET)
    if configured is not None:
        return SecretBox(*parse_keys(configured))
    if settings.mode == "gcp":
        from quantrun.domain.errors import TransientError

        raise TransientError(
            f"webhooks are unavailable: the {WEBHOOK_KEY_SECRET} secret is not set "
            f"({EnvSecrets.variable_for(WEBHOOK_KEY_SECRET)} or Secret Manager)"
        )
    return SecretBox(key_file(settings.data_dir / "webhook-secrets.key"))


def secrets(settings: Settings) -> Secrets:
    """Secrets by ``QUANTRUN_SECRET_<NAME>`` first; in gcp mode then Secret Manager."""
    env = EnvSecrets(secret_environment())
    if settings.mode != "gcp" or settings.ingest.secrets_from_env_only or not settings.gcp.project:
        return env
    from quantrun.adapters.gcp.secret_manager import SecretManagerSecrets, lazy_client

    return SecretManagerSecrets(lazy_client(), settings.gcp.project, env=env)


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
