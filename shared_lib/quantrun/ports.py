"""The ports: what the use cases need from the outside world, as typed Protocols.

Protocols only; they speak the domain's types (``quantrun.domain``) and import nothing
else of QuantRun. Each port has one adapter per mode (``adapters/``), built only by the
composition root (``bootstrap``), and an in-memory fake for unit tests (``fakes.py``)
where the use cases need one. A contract test suite runs against every adapter of a port.

Long on purpose: every port in one file, each a few short signatures; the file is the
index of what the outside world must provide.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from quantrun.domain.actions import CorporateAction, PricedAction
from quantrun.domain.artifacts import ArtifactRef, StoredArtifact
from quantrun.domain.audit import AuditEntry
from quantrun.domain.jobs import Claim, Job, JobError, JobEvent, JobPage, JobStatus
from quantrun.domain.lists import Page
from quantrun.domain.market_data import CallMeter, ProviderCall, ProviderSummary
from quantrun.domain.portfolios import Alert, DayBooking, Order, Portfolio, Trade
from quantrun.domain.prices import (
    Instrument,
    InstrumentRecord,
    LatestPrice,
    PriceField,
    PriceMatrix,
    PriceRow,
)
from quantrun.domain.quota import JobQuota
from quantrun.domain.strategies import Schedule, Strategy
from quantrun.domain.users import ApiKey, User
from quantrun.domain.webhooks import Delivery, Webhook


class JobStore(Protocol):
    """Users, API keys, jobs and job events (Cloud SQL / SQLite)."""

    def ping(self) -> None: ...

    def get_or_create_user(self, name: str) -> User: ...
    def find_user(self, name: str) -> User | None: ...
    def user_by_id(self, user_id: str) -> User | None: ...
    def add_api_key(
        self,
        user_id: str,
        key_hash: str,
        prefix: str,
        *,
        expires_at: datetime | None = None,
        most: int | None = None,
        audit: AuditEntry | None = None,
    ) -> bool:
        """Register a key's hash (idempotent for the same user; ``Conflict`` for another).
        False, and nothing stored, when the user already holds ``most`` usable keys.
        ``audit`` is stored with a new key, in its transaction (as with every ``audit``
        below: written only when the change is)."""
        ...

    def api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or expired ones included (the caller decides)."""
        ...

    def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        """A user's keys (everyone's with None), newest first."""
        ...

    def revoke_api_keys(
        self,
        prefix: str,
        *,
        now: datetime,
        user_id: str | None = None,
        audit: AuditEntry | None = None,
    ) -> int:
        """Revoke the live keys with this prefix (of this user, if given); how many."""
        ...

    def set_role(self, name: str, role: str, *, audit: AuditEntry | None = None) -> User | None:
        """Give the named user ``role``; None when there is no such user."""
        ...

    def touch_api_key(self, key_hash: str, *, now: datetime, unless_since: datetime) -> None:
        """Record a use, unless one was recorded at or after ``unless_since``."""
        ...

    def prefix_taken(self, prefix: str) -> bool: ...

    def create_job(self, job: Job, quota: JobQuota = ..., shards: Sequence[Job] = ()) -> Job:
        """Insert a queued job counted toward its user's quota; raises ``Conflict`` on a
        live duplicate idempotency key, ``QuotaExceeded`` when a quota is full (then
        nothing is written). With ``shards``, the job is not queued itself: its shards
        are (counted toward no quota), in the same transaction."""
        ...

    # -- sharded jobs (CONTRACT 5.2; adapters/sql/shard_rows.py) --
    def start_shards(self, job_id: str, *, now: datetime) -> bool:
        """The sharded job turns running (its first shard started)."""
        ...

    def finish_shard(
        self,
        shard_id: str,
        *,
        job_id: str,
        worker: str,
        now: datetime,
        result: dict[str, Any],
        lease_until: datetime,
    ) -> tuple[bool, bool]:
        """A shard's partial result, counted on its job: (finished, the caller holds the
        job's lease to merge it: this was the last shard)."""
        ...

    def fail_shards(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        """A shard failed for good: the job fails, its other shards are cancelled."""
        ...

    def shard_results(self, job_id: str) -> list[dict[str, Any]]:
        """The shards' partial results, in shard order."""
        ...

    def quota_usage(self, user_id: str, *, now: datetime) -> tuple[int, int]:
        """The user's jobs queued or running now, and submitted on ``now``'s UTC day."""
        ...

    def find_by_idempotency_key(self, user_id: str, key: str, since: datetime) -> Job | None: ...
    def get_job(
        self, job_id: str, user_id: str | None = None, *, with_payload: bool = True
    ) -> Job | None:
        """``with_payload=False`` leaves params and result out (empty): a poll of the
        status reads a few columns, not a result of up to megabytes."""
        ...

    def strategy_jobs(self, strategy_id: str, user_id: str) -> list[Job]:
        """The succeeded jobs made from a strategy, oldest first."""
        ...

    def list_jobs(
        self,
        user_id: str,
        *,
        status: JobStatus | None,
        model: str | None,
        limit: int,
        cursor: str | None,
        with_payload: bool = True,
    ) -> JobPage:
        """Newest first; ``with_payload=False`` leaves params and result unread (empty)."""
        ...

    def events(self, job_id: str) -> list[JobEvent]: ...

    def claim(
        self, job_id: str, *, worker: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Claim:
        """Lease the job if ``TRANSITIONS["claim"]`` allows it; else say why not
        (``unclaimed_outcome``: a job out of attempts is reported, not failed)."""
        ...

    def heartbeat(
        self, job_id: str, *, worker: str, progress: float | None, lease_until: datetime
    ) -> bool:
        """Renew the lease (and record progress); False when the job is no longer ours."""
        ...

    def finish(
        self,
        job_id: str,
        *,
        worker: str,
        now: datetime,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: JobError | None = None,
        artifacts: Sequence[ArtifactRef] = (),
    ) -> bool: ...
    def fail(self, job_id: str, *, now: datetime, error: JobError) -> bool:
        """Fail a job that is not finished, whoever holds it (poison or exhausted jobs)."""
        ...

    def cancel(self, job_id: str, *, user_id: str, now: datetime) -> Job | None:
        """Cancel the user's queued or running job: the cancelled job, or None when
        nothing moved (unknown, another user's, or already finished). A sharded job's
        shards that have not ended are cancelled with it, in the same transaction."""
        ...

    def requeue(self, job_id: str, *, now: datetime) -> bool:
        """Put a queued job, or a running one whose lease expired, back to queued."""
        ...

    def release(self, job_id: str, *, worker: str, now: datetime) -> bool:
        """Give back a running job ``worker`` holds (it is shutting down): queued again,
        the attempt not counted."""
        ...

    def hand_off(self, job_id: str, *, worker: str, now: datetime) -> bool:
        """Queue again a running job ``worker`` holds without enqueueing it (the caller
        puts it on another queue), the attempt not counted."""
        ...

    def reclaimable(self, *, now: datetime, queued_before: datetime, limit: int) -> list[str]:
        """Running jobs whose lease expired, and queued jobs waiting since ``queued_before``."""
        ...


class JobQueue(Protocol):
    """Hands job ids from the API to workers, at least once (Pub/Sub / embedded table)."""

    def ping(self) -> None: ...
    def publish(self, job_id: str, trace: str | None = None) -> None:
        """Deliver a job the store holds as queued (just created or requeued). In gcp
        mode the store wrote its outbox row in that transaction; this publishes it, with
        ``trace`` (the submitting request's traceparent) as a message attribute."""
        ...


class PriceStore(Protocol):
    """Daily price history (BigQuery / DuckDB), table ``prices`` of CONTRACT section 4."""

    def ping(self) -> None: ...
    def instruments(self) -> list[Instrument]: ...
    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        """Adjusted close (``adj_close``, else ``close``) for the symbols, in that order."""
        ...

    def load_fields(
        self, symbols: Sequence[str], start: date, end: date, fields: Sequence[PriceField]
    ) -> dict[PriceField, PriceMatrix]:
        """Stored columns (``PRICE_FIELDS``), read in one query, each as a matrix (in its
        ``close``) over the same dates, NaN where a row has none; ``adj_close`` falls back
        to ``close`` as ``load_close`` does."""
        ...

    def latest(self, symbols: Sequence[str]) -> list[LatestPrice]:
        """Each symbol's last stored row (symbols with none are left out)."""
        ...

    def upsert(self, rows: Sequence[PriceRow], *, source: str) -> int:
        """MERGE on (symbol, date); returns rows written. Idempotent."""
        ...

    def existing(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[tuple[str, date], PriceRow]:
        """The stored rows (every field) per (symbol, date) in the range."""
        ...

    def record_ingest_runs(self, runs: Sequence[dict[str, Any]]) -> None:
        """Append ``ingest_runs`` records (run_id, symbol, source, status, counts...);
        one write for a whole run."""
        ...

    def last_ingest_run(self, symbol: str) -> dict[str, Any] | None: ...
    def ingest_run(self, run_id: str) -> list[dict[str, Any]]:
        """The records of one run (a backfill's ``queued`` one first), oldest first."""
        ...

    def instrument_records(self) -> list[InstrumentRecord]:
        """The registered instruments (``POST /v1/instruments``, seeded by ingest)."""
        ...

    def put_instruments(self, records: Sequence[InstrumentRecord]) -> None:
        """MERGE on symbol: a new record is added, an existing one replaced."""
        ...

    def record_provider_calls(self, calls: Sequence[ProviderCall]) -> None:
        """Append ``provider_calls`` records (one write for a whole ingest run)."""
        ...

    def put_actions(self, actions: Sequence[CorporateAction]) -> int:
        """MERGE ``corporate_actions`` on (symbol, date, kind); nothing given, no write."""
        ...

    def actions(self, symbols: Sequence[str], after: date | None = None) -> list[PricedAction]:
        """The symbols' actions dated after ``after`` (all: None), by symbol and date,
        each with the stored close of its date."""
        ...

    def provider_summaries(self, now: datetime) -> list[ProviderSummary]:
        """Per provider what ``market_data.summarize`` makes of its calls."""
        ...


class ArtifactStore(Protocol):
    """Job outputs at ``artifact_key(job id, name, attempt)`` (Cloud Storage / a folder):
    ``jobs/<job id>/<name>``, a retried attempt's under ``attempt-<n>/``."""

    def ping(self) -> None: ...
    def put(
        self, job_id: str, name: str, data: bytes, content_type: str, *, attempt: int = 1
    ) -> ArtifactRef:
        """Create-only: an existing object with other bytes is never overwritten."""
        ...

    def get(self, job_id: str, name: str, *, attempt: int = 1) -> StoredArtifact | None: ...
    def signed_url(
        self, job_id: str, name: str, *, attempt: int = 1, content_type: str | None = None
    ) -> str | None:
        """A short-lived download URL, or None when the API should serve the bytes. Any
        type but HTML is served as an attachment (a browser saves it, never renders it)."""
        ...


class Secrets(Protocol):
    """Named secrets (database password, provider API keys): env first, then Secret Manager."""

    def get(self, name: str) -> str | None: ...


class PriceProvider(Protocol):
    """A market-data source (Stooq, Alpha Vantage, synthetic) for the ingest functions."""

    name: str
    meter: CallMeter  # its requests and too-many-requests answers so far

    def fetch(self, symbol: str, start: date, end: date) -> list[PriceRow]: ...


class PushVerifier(Protocol):
    """Checks that a push request comes from our Pub/Sub subscription."""

    def verify(self, authorization: str | None) -> None:
        """Raises ``Unauthenticated`` when the ``Authorization`` header is not accepted."""
        ...


class WebhookStore(Protocol):
    """Webhooks and their deliveries (Cloud SQL / SQLite). Deliveries are made from the
    job store's events, so a job that ends while every dispatcher is down is still told."""

    def add(
        self, webhook: Webhook, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """Kept with its secret sealed: a database dump does not give it away. False, and
        nothing stored, when the user already has ``most`` webhooks."""
        ...

    def for_user(self, user_id: str) -> list[Webhook]:
        """The user's live webhooks, their secrets left empty (a listing shows none)."""
        ...

    def get(self, webhook_id: str) -> Webhook | None:
        """A live webhook with its secret (a deleted one is None)."""
        ...

    def reseal(self) -> tuple[int, list[str]]:
        """Every stored secret sealed again with the current key: how many, and the ids
        of those that no configured key opens."""
        ...

    def delete(
        self, webhook_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool: ...
    def make_deliveries(self, *, now: datetime, overlap: float) -> int:
        """A delivery for each live webhook of each job that ended, and each alert made
        (``PortfolioStore``), since the last scan
        (scanned again from ``overlap`` seconds before it: a transaction that committed
        late is not missed; a delivery already made is not made twice). How many new."""
        ...

    def alert(self, alert_id: str) -> Alert | None:
        """The alert a delivery tells of (``Delivery.job_id`` of an alert's delivery)."""
        ...

    def due(self, *, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        ...

    def claim(self, delivery: Delivery, *, until: datetime) -> bool:
        """Take a due delivery for one attempt (its next attempt moves to ``until``, its
        attempts count one more); False when another dispatcher took it first."""
        ...

    def delivered(self, delivery_id: str, *, now: datetime) -> None: ...
    def retry(self, delivery_id: str, *, at: datetime, error: str) -> None: ...
    def give_up(self, delivery_id: str, *, now: datetime, error: str) -> None: ...


class StrategyStore(Protocol):
    """Strategies and their schedules (Cloud SQL / SQLite); a deleted one is gone."""

    def add_strategy(
        self, strategy: Strategy, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """False, and nothing stored, when the user already has ``most`` strategies."""
        ...

    def strategy(self, strategy_id: str, user_id: str | None = None) -> Strategy | None: ...
    def strategies(self, user_id: str) -> list[Strategy]: ...
    def update_strategy(self, strategy: Strategy, *, audit: AuditEntry | None = None) -> bool: ...
    def delete_strategy(
        self, strategy_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool:
        """Delete it and its schedules."""
        ...

    def add_schedule(
        self, schedule: Schedule, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """False, and nothing stored, when the user already has ``most`` schedules."""
        ...

    def schedule(self, schedule_id: str, user_id: str) -> Schedule | None: ...
    def schedules(self, user_id: str) -> list[Schedule]: ...
    def delete_schedule(
        self, schedule_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool: ...
    def live_schedules(self) -> list[Schedule]:
        """Every schedule of an active strategy (what a tick looks at)."""
        ...

    def take_fire(self, schedule: Schedule, fire_at: datetime) -> bool:
        """Move the schedule's last fire time from what ``schedule`` read to ``fire_at``;
        False when another tick moved it first (that tick submits this fire time)."""
        ...


class PortfolioStore(Protocol):
    """Paper portfolios, their booked days, orders and closed trades, and alerts (Cloud
    SQL / SQLite); a deleted portfolio is gone from every read."""

    def add(
        self, portfolio: Portfolio, *, most: int | None = None, audit: AuditEntry | None = None
    ) -> bool:
        """False, and nothing stored, when the user already has ``most`` portfolios."""
        ...

    def get(self, portfolio_id: str, user_id: str | None = None) -> Portfolio | None: ...
    def for_user(self, user_id: str) -> list[Portfolio]: ...
    def live(self) -> list[Portfolio]:
        """Every portfolio not deleted (what a step of all looks at)."""
        ...

    def delete(
        self, portfolio_id: str, user_id: str, *, now: datetime, audit: AuditEntry | None = None
    ) -> bool: ...
    def last_day(self, portfolio_id: str) -> DayBooking | None: ...
    def book_day(
        self, booking: DayBooking, orders: list[Order], trades: list[Trade], alerts: list[Alert]
    ) -> bool:
        """Store the day with its orders, trades and alerts in one transaction, unless
        that portfolio's day is booked already (then nothing is written): False."""
        ...

    def add_alerts(self, alerts: list[Alert]) -> int:
        """Store the alerts whose key is new; how many."""
        ...

    def days(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        """Booked days, oldest first."""
        ...

    def orders(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def trades(self, portfolio_id: str, *, limit: int, cursor: str | None) -> Page:
        """Closed round trips, in the order they closed."""
        ...


class AuditLog(Protocol):
    """The audit trail the stores write with each change (``domain/audit.py``)."""

    def entries(self, *, limit: int, cursor: str | None) -> Page:
        """Newest first."""
        ...

    def record(self, entry: AuditEntry) -> None:
        """An entry of a change made outside the job database (an instrument's)."""
        ...


class WebhookTransport(Protocol):
    """Where webhook deliveries go out (HTTPS to the user's URL)."""

    def addresses(self, host: str) -> list[str]:
        """The IP addresses ``host`` resolves to now (empty when it does not resolve)."""
        ...

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        address: str | None = None,
    ) -> int:
        """POST the body to ``address`` (the one checked; None: the URL's host as it
        resolves) within ``timeout`` seconds in all; the response's status code. Raises
        ``OSError`` when no response came (refused, reset, timed out)."""
        ...


class UploadedFiles(Protocol):
    """The uploads bucket: price files dropped under ``uploads/`` (Cloud Storage)."""

    def size(self, bucket: str, name: str) -> int | None:
        """The object's size in bytes, or None when it is gone (already processed)."""
        ...

    def read(self, bucket: str, name: str) -> bytes: ...
    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> None: ...
    def move(self, bucket: str, name: str, target: str) -> None: ...


class IdentityVerifier(Protocol):
    """Verifies a third party's identity token (Google ID tokens)."""

    def verify(self, token: str) -> tuple[str, float]:
        """(the verified email, the token's expiry as a Unix time); ``Unauthenticated``
        when the token is not accepted, ``TransientError`` when it cannot be checked."""
        ...
