"""The containers the composition root builds (``quantrun.bootstrap``): what a job
process, an admin command and an ingest function each hold, and the closers of what they
built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from quantrun.domain.quota import JobQuota
from quantrun.domain.shards import ShardPolicy
from quantrun.logging import get_logger
from quantrun.ports import (
    ArtifactStore,
    AuditLog,
    JobQueue,
    JobStore,
    PortfolioStore,
    PriceStore,
    StrategyStore,
    UploadedFiles,
    WebhookStore,
    WebhookTransport,
)
from quantrun.settings import Settings

# Adapters are imported where they are built: the ingest functions ship with their own,
# smaller requirements (no database driver, DuckDB, numba or scipy), and a process builds
# only its mode's adapters.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from quantrun.adapters.embedded.queue import EmbeddedQueue
    from quantrun.adapters.sql.outbox import OutboxQueue
    from quantrun.app.auth import GoogleSignIn
    from quantrun.app.cache import SingleFlightCache
    from quantrun.app.execute import Worker
    from quantrun.app.fallback import FallbackFetcher
    from quantrun.app.ingest_request import IngestRequest
    from quantrun.app.lease import WorkerConfig
    from quantrun.app.prices import CachedReads
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

    @property
    def runner(self) -> Worker:
        """What this process's queue consumer runs jobs with."""
        from quantrun.app.execute import Worker

        return Worker(self.store, self.prices, self.artifacts, self.worker)

    def drain(self) -> list[str]:
        """Shutdown: claim nothing more and put the jobs this process runs back on the
        queue now (their attempts not counted). The ids given back."""
        from quantrun.app.lease import drain

        return drain(self.queue.publish)

    @cached_property
    def job_rules(self) -> JobRules:
        """What a job submitted through the API is held to (also one from a strategy):
        made once, as the settings and adapters it holds never change (every submit asks)."""
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
                "quick_cost": limits.quick_job_cost,
                "quota": self.job_quota,
                "sharding": self.sharding,
            },
        )

    @cached_property
    def cached_reads(self) -> CachedReads:
        """The API's price history reads through its read cache (``GET /v1/prices`` and
        synchronous runs share the entries), fresh for ``history_cache_seconds``."""
        from quantrun.app.prices import CachedReads, CacheRule

        api = self.settings.api
        rule = CacheRule(api.history_cache_seconds, api.cache_stale_seconds)
        return CachedReads(self.prices, self.read_cache, rule)

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
        from quantrun.bootstrap.cloud import _price_store

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
