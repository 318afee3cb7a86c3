"""The ports: what the use cases need from the outside world, as typed Protocols.

Each port has one adapter per mode (``adapters/``) and an in-memory fake for unit
tests (``fakes.py``). A contract test suite runs against every adapter of a port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np

from quantrun.jobs.domain import (
    ArtifactRef,
    Claim,
    Job,
    JobError,
    JobEvent,
    JobPage,
    JobStatus,
    User,
)


class JobStore(Protocol):
    """Users, API keys, jobs and job events (Cloud SQL / SQLite)."""

    def ping(self) -> None: ...

    def get_or_create_user(self, name: str) -> User: ...
    def add_api_key(self, user_id: str, key_hash: str, prefix: str) -> None: ...
    def user_for_key_hash(self, key_hash: str) -> User | None: ...

    def create_job(self, job: Job) -> Job:
        """Insert a queued job; raises ``Conflict`` on a live duplicate idempotency key."""
        ...

    def find_by_idempotency_key(self, user_id: str, key: str, since: datetime) -> Job | None: ...
    def get_job(self, job_id: str, user_id: str | None = None) -> Job | None: ...
    def list_jobs(
        self,
        user_id: str,
        *,
        status: JobStatus | None,
        model: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage: ...
    def events(self, job_id: str) -> list[JobEvent]: ...

    def claim(
        self, job_id: str, *, worker: str, now: datetime, lease_until: datetime, max_attempts: int
    ) -> Claim: ...
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
        """Cancel a queued/running job. None if not found; raises ``Conflict`` if finished."""
        ...

    def requeue(self, job_id: str, *, now: datetime) -> bool:
        """Put a queued job, or a running one whose lease expired, back to queued."""
        ...

    def reclaimable(self, *, now: datetime, queued_before: datetime, limit: int) -> list[str]:
        """Running jobs whose lease expired, and queued jobs waiting since ``queued_before``."""
        ...


class JobQueue(Protocol):
    """Hands job ids from the API to workers, at least once (Pub/Sub / embedded table)."""

    def ping(self) -> None: ...
    def publish(self, job_id: str) -> None:
        """Deliver a job the store holds as queued (just created or requeued). In gcp
        mode the store wrote its outbox row in that transaction; this publishes it."""
        ...


@dataclass(frozen=True)
class PriceMatrix:
    """Close prices as a dates x symbols matrix; NaN where the store has no price."""

    dates: np.ndarray  # datetime64[D], ascending
    symbols: tuple[str, ...]
    close: np.ndarray  # float64, shape (len(dates), len(symbols))


@dataclass(frozen=True)
class Instrument:
    symbol: str
    name: str
    first_date: date
    last_date: date
    rows: int


@dataclass(frozen=True)
class PriceRow:
    date: date
    symbol: str
    close: float
    open: float | None = None
    high: float | None = None
    low: float | None = None
    adj_close: float | None = None
    volume: int | None = None


class PriceStore(Protocol):
    """Daily price history (BigQuery / DuckDB), table ``prices`` of CONTRACT section 4."""

    def ping(self) -> None: ...
    def instruments(self) -> list[Instrument]: ...
    def load_close(self, symbols: Sequence[str], start: date, end: date) -> PriceMatrix:
        """Adjusted close (``adj_close``, else ``close``) for the symbols, in that order."""
        ...

    def upsert(self, rows: Sequence[PriceRow], *, source: str) -> int:
        """MERGE on (symbol, date); returns rows written. Idempotent."""
        ...

    def existing(
        self, symbols: Sequence[str], start: date, end: date
    ) -> dict[tuple[str, date], tuple[float, float | None]]:
        """Stored (close, adj_close) per (symbol, date) in the range."""
        ...

    def record_ingest_run(self, run: dict[str, Any]) -> None:
        """Append one ``ingest_runs`` record (run_id, symbol, source, status, counts...)."""
        ...

    def last_ingest_run(self, symbol: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class StoredArtifact:
    content_type: str
    data: bytes


class ArtifactStore(Protocol):
    """Job outputs at ``jobs/<job id>/<name>`` (Cloud Storage / a local folder)."""

    def ping(self) -> None: ...
    def put(self, job_id: str, name: str, data: bytes, content_type: str) -> ArtifactRef:
        """Create-only: an existing object with other bytes is never overwritten."""
        ...

    def get(self, job_id: str, name: str) -> StoredArtifact | None: ...
    def signed_url(self, job_id: str, name: str) -> str | None:
        """A short-lived download URL, or None when the API should serve the bytes."""
        ...


class Secrets(Protocol):
    """Named secrets (database password, provider API keys): env first, then Secret Manager."""

    def get(self, name: str) -> str | None: ...
