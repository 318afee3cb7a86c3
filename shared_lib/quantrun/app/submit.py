"""Submitting a job: validate its params against the model, record it, put it on the queue."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from quantrun.app.limits import check_cost
from quantrun.app.shards import shard_jobs
from quantrun.catalog import get_spec
from quantrun.catalog.spec import ModelSpec
from quantrun.domain.errors import Conflict, InputTooLarge, QuantRunError
from quantrun.domain.jobs import Job, JobStatus
from quantrun.domain.quota import JobQuota
from quantrun.domain.shards import ShardPolicy
from quantrun.domain.users import User
from quantrun.logging import get_logger
from quantrun.ports import JobQueue, JobStore, PriceStore

log = get_logger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)


class UnknownModel(QuantRunError):
    code = "unknown_model"


class UnknownSymbol(QuantRunError):
    code = "unknown_symbol"


class KnownSymbols:
    """The price store's symbols, cached for ``ttl`` seconds (checked on every submit).
    A symbol missing from the cache triggers one refresh (at most every ``refresh_gap``
    seconds), so freshly ingested symbols are usable at once.

    A submit that finds the set fresh takes no lock; only the callers that need a refresh
    wait, for the one refresh under way (the price store is asked once, not per caller)."""

    def __init__(self, prices: PriceStore, ttl: float = 60.0, refresh_gap: float = 1.0) -> None:
        self._prices = prices
        self._ttl = ttl
        self._gap = refresh_gap
        self._refreshing = threading.Lock()
        self._symbols: frozenset[str] = frozenset()
        self._loaded_at = -1e18

    def _refreshed(self, older_than: float) -> frozenset[str]:
        """The set, refreshed unless someone refreshed it within ``older_than`` seconds
        (the lock is held only by callers that need a refresh)."""
        with self._refreshing:
            if time.monotonic() - self._loaded_at > older_than:
                self._symbols = frozenset(i.symbol for i in self._prices.instruments())
                self._loaded_at = time.monotonic()
            return self._symbols

    def missing(self, symbols: Sequence[str]) -> list[str]:
        """The symbols the price store has no prices for."""
        known = self._symbols
        if time.monotonic() - self._loaded_at > self._ttl:
            known = self._refreshed(self._ttl)
        unknown = [s for s in symbols if s not in known]
        if unknown and time.monotonic() - self._loaded_at > self._gap:
            known = self._refreshed(self._gap)
            unknown = [s for s in symbols if s not in known]
        return unknown


def resolve_spec(model: str) -> ModelSpec[Any]:
    spec = get_spec(model)
    if spec is None:
        raise UnknownModel(f"unknown model {model!r}; GET /v1/models lists them", field="model")
    return spec


def validate_params(spec: ModelSpec[Any], raw: dict[str, Any], known: KnownSymbols) -> BaseModel:
    """Parse params (raises pydantic's ValidationError) and check the symbols exist."""
    params: BaseModel = spec.params.model_validate(raw)
    symbols = spec.symbols(params)
    if symbols:
        missing = known.missing(symbols)
        if missing:
            field = "symbols"
            if hasattr(params, "symbols") and missing[0] in params.symbols:
                field = f"symbols[{params.symbols.index(missing[0])}]"
            elif hasattr(params, "benchmark") and missing[0] == params.benchmark:
                field = "benchmark"
            raise UnknownSymbol(
                f"no prices stored for {', '.join(missing)}; GET /v1/instruments lists symbols",
                field=f"params.{field}",
            )
    return params


def least_json_bytes(value: Any) -> int:
    """A lower bound on the bytes of ``value`` as JSON, found without encoding it: the
    brackets, the commas between items, a key's quotes and colon, a byte a character of a
    key, and at least one a scalar (a list of n numbers: 2n + 1)."""
    if not isinstance(value, dict | list):
        return 1
    # brackets and commas: 2 + (n - 1) for n items, 2 for none
    punctuation = max(2, 1 + len(value))
    if isinstance(value, dict):
        return punctuation + sum(len(k) + 3 + least_json_bytes(v) for k, v in value.items())
    if value and isinstance(value[0], list | dict):
        return punctuation + sum(least_json_bytes(v) for v in value)
    return punctuation + len(value)


def _params_too_large(took: str, size: int, most: int) -> InputTooLarge:
    return InputTooLarge(
        f"the params take {took} bytes as stored; at most {most} are kept with a job",
        estimate=float(size),
        limit=float(most),
    )


def _canonical(model: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"model": model, "params": params}, sort_keys=True, default=str).encode()


def submit_job(
    *,
    store: JobStore,
    queue: JobQueue,
    known: KnownSymbols,
    user: User,
    model: str,
    params: dict[str, Any],
    idempotency_key: str | None,
    now: datetime,
    max_cost: float = math.inf,
    max_result_values: float = math.inf,
    max_params_bytes: int = 1024 * 1024,
    quick_cost: float = 0.0,
    quota: JobQuota = JobQuota(),
    shards: int | None = None,
    sharding: ShardPolicy = ShardPolicy(),
    strategy_id: str | None = None,
    schedule_id: str | None = None,
    trace: str | None = None,
) -> tuple[Job, bool]:
    """Record and enqueue a job. Returns (job, created); created is False for a replay
    of an ``Idempotency-Key`` (raises ``Conflict`` when the replay's params differ), and
    ``InputTooLarge`` when its estimated cost is over ``max_cost``, its result's array
    values over ``max_result_values``, or its params, as
    stored, over ``max_params_bytes``; ``QuotaExceeded`` when the user has ``quota``'s
    jobs queued or running, or submitted today (a replay counts nothing). A model that
    splits runs as ``sharding.count(...)`` shards (``shards``: the client's choice). A job
    made from a strategy (or by its schedule) records their ids; ``trace`` (the request's
    traceparent) goes with the job to its worker. A job that reads no price history and
    is estimated at most ``quick_cost`` is published as quick (``JobQueue.publish``)."""
    spec = resolve_spec(model)
    parsed = validate_params(spec, params, known)
    cost = check_cost(spec, parsed, limit=max_cost, what="job", max_values=max_result_values)
    n_shards = sharding.count(
        cost=cost,
        most=spec.sharding.most(parsed) if spec.sharding else 1,
        requested=shards,
        splits=spec.sharding is not None,
    )
    stored_params = parsed.model_dump(mode="json")
    # a job row is not a file store; params far over it are refused before their text is made
    least = least_json_bytes(stored_params)
    if least > max_params_bytes:
        raise _params_too_large(f"at least {least}", least, max_params_bytes)
    canonical = _canonical(model, stored_params)
    if len(canonical) > max_params_bytes:
        raise _params_too_large(str(len(canonical)), len(canonical), max_params_bytes)
    fingerprint = hashlib.sha256(canonical).hexdigest()
    if idempotency_key is not None:
        existing = store.find_by_idempotency_key(user.id, idempotency_key, now - IDEMPOTENCY_WINDOW)
        if existing is not None:
            return _replay(existing, fingerprint), False
    job = Job(
        id=str(uuid.uuid4()),
        user_id=user.id,
        model=model,
        params=stored_params,
        status=JobStatus.QUEUED,
        created_at=now,
        idempotency_key=idempotency_key,
        params_hash=fingerprint,
        shards_total=n_shards if n_shards > 1 else None,
        strategy_id=strategy_id,
        schedule_id=schedule_id,
        trace=trace,
    )
    pieces = shard_jobs(job, spec, parsed, n_shards, cost) if n_shards > 1 else []
    try:
        store.create_job(job, quota, pieces)
    except Conflict:
        assert idempotency_key is not None  # the only unique key a new job can collide on
        existing = store.find_by_idempotency_key(user.id, idempotency_key, now - IDEMPOTENCY_WINDOW)
        if existing is None:
            raise
        return _replay(existing, fingerprint), False
    log.info(
        "job submitted",
        extra={"fields": {"job_id": job.id, "model": model, "shards": n_shards}},
    )
    # quick: no I/O and so little work that a push worker's thread hand-off costs more
    quick = not pieces and cost <= quick_cost and not spec.symbols(parsed)
    try:
        for queued in pieces or [job]:
            queue.publish(queued.id, trace, quick=quick)
    except Exception:
        # The job is recorded; the reclaim sweep publishes queued jobs that wait too long.
        log.exception(
            "publish failed; the reclaim sweep will retry", extra={"fields": {"job_id": job.id}}
        )
    return job, True


def _replay(existing: Job, fingerprint: str) -> Job:
    if existing.params_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a job with other model or params",
            code="idempotency_key_reused",
        )
    return existing


__all__ = [
    "KnownSymbols",
    "UnknownModel",
    "UnknownSymbol",
    "ValidationError",
    "resolve_spec",
    "submit_job",
    "validate_params",
]
