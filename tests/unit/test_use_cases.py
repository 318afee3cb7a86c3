"""submit_job, Worker.run and reclaim_stale against fakes of the queue, prices and artifacts
(the job store is the real SQL adapter on a throwaway SQLite file: it is fast and its
guarded transitions are the point)."""

from __future__ import annotations

import functools
import json
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.app.dead_letter import fail_dead_lettered
from quantrun.app.execute import RunOutcome, Worker
from quantrun.app.lease import WorkerConfig
from quantrun.app.reclaim import reclaim_stale
from quantrun.app.submit import KnownSymbols, UnknownModel, UnknownSymbol, submit_job
from quantrun.clock import utcnow
from quantrun.domain.artifacts import StoredArtifact, artifact_key
from quantrun.domain.errors import Conflict, NotFound
from quantrun.domain.jobs import JobEnd, JobStatus
from quantrun.domain.prices import PriceRow
from quantrun.domain.users import User
from tests.fakes import FakeArtifactStore, FakePriceStore, FakeQueue, HeartbeatLog

BS = {"type": "call", "spot": 100, "strike": 100, "maturity": 1, "rate": 0.05, "volatility": 0.2}


def _prices() -> FakePriceStore:
    rng = np.random.default_rng(0)
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(120)]
    rows = []
    for symbol in ("AAA", "BBB", "SPY"):
        px = 100 * np.cumprod(1 + rng.normal(0, 0.01, len(days)))
        rows += [PriceRow(d, symbol, float(p)) for d, p in zip(days, px, strict=True)]
    return FakePriceStore(rows)


class World:
    def __init__(self, tmp: Path) -> None:
        engine = make_engine(f"sqlite:///{tmp / 'jobs.db'}")
        migrate.upgrade(engine)
        self.store = SqlJobStore(engine)
        self.queue = FakeQueue()
        self.prices = _prices()
        self.artifacts = FakeArtifactStore()
        self.known = KnownSymbols(self.prices)
        self.user: User = self.store.get_or_create_user("u")
        self.cfg = WorkerConfig(worker_id="w1", lease_seconds=5, max_attempts=3)

    def submit(
        self,
        model: str,
        params: dict[str, Any],
        key: str | None = None,
        shards: int | None = 1,
        quick_cost: float = 0.0,
    ) -> Any:
        return submit_job(
            store=self.store,
            queue=self.queue,
            known=self.known,
            user=self.user,
            model=model,
            params=params,
            idempotency_key=key,
            now=utcnow(),
            shards=shards,  # one piece unless a test asks (tests/integration/test_sharded_jobs.py)
            quick_cost=quick_cost,
        )

    def run(self, job_id: str, cfg: WorkerConfig | None = None) -> RunOutcome:
        return Worker(self.store, self.prices, self.artifacts, cfg or self.cfg).run(job_id)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_submit_records_normalised_params_and_publishes(world: World) -> None:
    job, created = world.submit("black_scholes", BS)
    assert created and world.queue.published == [job.id]
    assert job.params["dividend_yield"] == 0.0 and job.params["greeks"] is True


def test_a_small_job_that_reads_no_prices_is_published_quick(world: World) -> None:
    """Quick: no price history and an estimate at most ``quick_cost`` (black_scholes
    counts options); a chain over the limit, a history model however small, and any job
    with the limit at 0 are published plainly."""
    small, _ = world.submit("black_scholes", BS, quick_cost=1e3)
    chain = {**BS, "strike": [float(k) for k in range(50, 1051)]}  # 1,001 options
    over, _ = world.submit("black_scholes", chain, quick_cost=1e3)
    window = {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-01-10"}
    history, _ = world.submit("risk_metrics", window, quick_cost=1e12)
    off, _ = world.submit("black_scholes", BS, quick_cost=0)
    assert world.queue.published == [small.id, over.id, history.id, off.id]
    assert world.queue.quick == [small.id]


def test_submit_rejects_unknown_models_symbols_and_bad_params(world: World) -> None:
    with pytest.raises(UnknownModel):
        world.submit("nope", {})
    with pytest.raises(UnknownSymbol) as info:
        world.submit(
            "risk_metrics", {"symbols": ["AAA", "ZZZ"], "start": "2020-01-01", "end": "2020-04-01"}
        )
    assert info.value.field == "params.symbols[1]"
    with pytest.raises(ValidationError):
        world.submit("black_scholes", {**BS, "volatility": -1})
    assert world.queue.published == []


def test_idempotent_replay_and_conflict(world: World) -> None:
    first, _ = world.submit("black_scholes", BS, key="k")
    again, created = world.submit("black_scholes", dict(BS), key="k")
    assert again.id == first.id and not created
    assert world.queue.published == [first.id]
    with pytest.raises(Conflict):
        world.submit("black_scholes", {**BS, "spot": 101}, key="k")


def test_a_failed_publish_still_records_the_job_and_the_sweep_publishes_it(world: World) -> None:
    world.queue.fail = True
    job, created = world.submit("black_scholes", BS)
    assert created and world.store.get_job(job.id) is not None
    world.queue.fail = False
    later = utcnow() + timedelta(minutes=10)
    assert (
        reclaim_stale(
            store=world.store, queue=world.queue, now=later, queued_grace=timedelta(minutes=1)
        )
        == 1
    )
    assert world.queue.published == [job.id]


def test_run_job_succeeds_and_stores_artifacts(world: World) -> None:
    job, _ = world.submit(
        "risk_metrics", {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-04-30"}
    )
    assert world.run(job.id) == RunOutcome.DONE
    done = world.store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED
    assert {a.name for a in done.artifacts} == {
        "equity.png",
        "drawdown.png",
        "metrics.json",
        "manifest.json",
        "report.html",
        "charts.json",
    }
    assert f"jobs/{job.id}/equity.png" in world.artifacts.objects
    # a duplicate delivery acknowledges without running again
    assert world.run(job.id) == RunOutcome.DONE
    assert world.store.get_job(job.id).attempts == 1  # type: ignore[union-attr]


def test_model_input_errors_fail_the_job_with_their_code(world: World) -> None:
    job, _ = world.submit(
        "risk_metrics", {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-01-10"}
    )
    assert world.run(job.id) == RunOutcome.DONE
    failed = world.store.get_job(job.id)
    assert failed is not None and failed.status == JobStatus.FAILED
    assert failed.error is not None and failed.error.code == "insufficient_history"
    assert "AAA" in failed.error.message


def test_transient_failure_retries_and_releases_the_lease(world: World) -> None:
    job, _ = world.submit(
        "risk_metrics", {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-04-30"}
    )
    world.prices.fail_loads = 1
    assert world.run(job.id) == RunOutcome.RETRY
    held = world.store.get_job(job.id)
    assert held is not None and held.status == JobStatus.RUNNING
    assert held.lease_expires_at is not None and held.lease_expires_at <= utcnow()
    assert world.run(job.id, WorkerConfig("w2", 5, 3)) == RunOutcome.DONE  # redelivery
    done = world.store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED and done.attempts == 2


def test_persistent_transient_failures_end_in_attempts_exhausted(world: World) -> None:
    job, _ = world.submit(
        "risk_metrics", {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-04-30"}
    )
    world.prices.fail_loads = 100
    outcomes = [world.run(job.id) for _ in range(4)]
    assert outcomes == [RunOutcome.RETRY] * 3 + [RunOutcome.DONE]
    failed = world.store.get_job(job.id)
    assert failed is not None and failed.status == JobStatus.FAILED
    assert failed.error is not None and failed.error.code == "attempts_exhausted"


def test_a_job_leased_elsewhere_is_busy(world: World) -> None:
    job, _ = world.submit("black_scholes", BS)
    now = utcnow()
    world.store.claim(
        job.id, worker="other", now=now, lease_until=now + timedelta(minutes=1), max_attempts=3
    )
    assert world.run(job.id) == RunOutcome.BUSY


def test_a_dead_lettered_message_fails_its_job_unless_a_live_run_holds_it(world: World) -> None:
    """A reclaimed job runs again under a new message while the old one runs out of
    deliveries: the dead letter leaves the live run alone, which then finishes the job.
    Queued, or running under an expired lease (its worker gave it back or died), the job
    fails with ``dead_lettered``."""
    held, _ = world.submit("black_scholes", BS)
    now = utcnow()
    world.store.claim(
        held.id, worker="w1", now=now, lease_until=now + timedelta(minutes=1), max_attempts=3
    )
    assert not fail_dead_lettered(store=world.store, job_id=held.id, delivery_attempt=5, now=now)
    assert world.store.get_job(held.id).status == JobStatus.RUNNING  # type: ignore[union-attr]
    world.store.finish(held.id, JobEnd.succeeded({"price": 1.0}), worker="w1", now=now)
    assert world.store.get_job(held.id).status == JobStatus.SUCCEEDED  # type: ignore[union-attr]

    queued, _ = world.submit("black_scholes", {**BS, "spot": 101})
    expired, _ = world.submit("black_scholes", {**BS, "spot": 102})
    world.store.claim(expired.id, worker="w1", now=now, lease_until=now, max_attempts=3)
    later = now + timedelta(seconds=1)
    for job in (queued, expired):
        assert fail_dead_lettered(store=world.store, job_id=job.id, delivery_attempt=5, now=later)
        failed = world.store.get_job(job.id)
        assert failed is not None and failed.status == JobStatus.FAILED
        assert failed.error is not None and failed.error.code == "dead_lettered"
        assert "after 5 attempts" in failed.error.message


def running_long_job(
    world: World, seed: int, paths: int = 3_000_000
) -> tuple[Any, list[RunOutcome], threading.Thread]:
    """A Monte Carlo job of a second or more, running in a thread: (job, its outcome,
    thread)."""
    params = {**BS, "style": "asian_arithmetic", "paths": paths, "steps": 100, "seed": seed}
    job, _ = world.submit("monte_carlo_option", params)
    outcome: list[RunOutcome] = []
    runner = threading.Thread(target=lambda: outcome.append(world.run(job.id)))
    runner.start()
    deadline = time.monotonic() + 20
    while world.store.get_job(job.id).status != JobStatus.RUNNING:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return job, outcome, runner


def test_cancel_stops_a_running_job_at_its_next_checkpoint(world: World) -> None:
    job, outcome, runner = running_long_job(world, seed=1)
    world.store.cancel(job.id, user_id=world.user.id, now=utcnow())
    runner.join(timeout=30)
    assert outcome == [RunOutcome.DONE]
    final = world.store.get_job(job.id)
    assert final is not None and final.status == JobStatus.CANCELLED and final.result is None


def test_unknown_job_is_acknowledged(world: World) -> None:
    assert world.run("00000000-0000-0000-0000-000000000000") == RunOutcome.DONE


def test_a_released_lease_is_not_renewed_afterwards(world: World) -> None:
    # A renewal landing after the release would make the lease live again, and the
    # redelivery would be acknowledged as "busy": the job would stall until a reclaim.
    from quantrun.app.lease import Keeper, Lease

    cfg = WorkerConfig(worker_id="w1", lease_seconds=0.3, max_attempts=3)
    job, _ = world.submit("black_scholes", BS)
    now = utcnow()
    world.store.claim(
        job.id, worker="w1", now=now, lease_until=now + timedelta(seconds=0.3), max_attempts=3
    )
    clock = _TestClock()
    keeper = Keeper(clock, threaded=False)
    with Lease(world.store, job.id, cfg, lambda: None, keeper) as lease:
        lease.release()
        clock.now += 1.0  # more than three renewal intervals
        assert keeper.tick() == 0
        lease.beat()  # a renewal racing the release changes nothing either
        held = world.store.get_job(job.id)
        assert held is not None and held.lease_expires_at is not None
        assert held.lease_expires_at <= utcnow()


def test_api_key_lookups_are_cached_only_when_valid(world: World) -> None:
    from quantrun.app.auth import authenticate, cached_user, create_key, generate_key
    from quantrun.app.cache import SingleFlightCache

    calls: list[str] = []
    real = world.store.api_key

    def counting(key_hash: str) -> Any:
        calls.append(key_hash)
        return real(key_hash)

    world.store.api_key = counting  # type: ignore[method-assign]
    now = utcnow()
    cache = SingleFlightCache(ttl_seconds=60)
    key = create_key(world.store, "cached").key
    calls.clear()
    for _ in range(3):
        assert authenticate(world.store, key, now, cache) is not None
    assert len(calls) == 1
    later = generate_key()
    assert authenticate(world.store, later, now, cache) is None  # not created yet
    create_key(world.store, "cached", later)
    assert authenticate(world.store, later, now, cache) is not None  # works at once
    # the API's event loop reads the cache without the database, and only fresh entries
    calls.clear()
    assert cached_user(key, cache, now) is not None and cached_user(later, cache, now) is not None
    assert cached_user(generate_key(), cache, now) is None
    assert cached_user(key, SingleFlightCache(ttl_seconds=0), now) is None
    assert calls == []


def test_revoked_and_expired_keys_are_refused_even_when_cached(world: World) -> None:
    from quantrun.app.auth import authenticate, cached_user, create_key, list_keys, revoke_key
    from quantrun.app.cache import SingleFlightCache

    now = utcnow()
    cache = SingleFlightCache(ttl_seconds=5)
    expiring = create_key(world.store, "eve", expires_at=now + timedelta(hours=1))
    assert authenticate(world.store, expiring.key, now, cache) is not None
    an_hour_on = now + timedelta(hours=1)
    assert cached_user(expiring.key, cache, an_hour_on) is None  # the cache knows the expiry
    assert authenticate(world.store, expiring.key, an_hour_on, cache) is None
    assert authenticate(world.store, expiring.key, an_hour_on) is None  # and so does the store

    kept = create_key(world.store, "eve")
    assert authenticate(world.store, kept.key, now, cache) is not None
    user = kept.user
    revoked = revoke_key(store=world.store, prefix=kept.prefix, now=now, user=user, cache=cache)
    assert revoked[0].revoked_at == now
    # this process forgets at once (others within the cache's TTL)
    assert authenticate(world.store, kept.key, now, cache) is None
    states = {k.prefix: k.usable(now) for k in list_keys(store=world.store, user="eve")}
    assert states == {expiring.prefix: True, kept.prefix: False}
    with pytest.raises(NotFound):
        revoke_key(store=world.store, prefix=kept.prefix, now=now, user=User("other", "x"))


def test_last_use_is_written_at_most_once_a_minute(world: World) -> None:
    from quantrun.app.auth import authenticate, create_key

    touches: list[Any] = []
    real = world.store.touch_api_key

    def counting(key_hash: str, **kw: Any) -> None:
        touches.append(kw["now"])
        real(key_hash, **kw)

    world.store.touch_api_key = counting  # type: ignore[method-assign]
    key = create_key(world.store, "busy").key
    start = utcnow()
    for second in range(0, 150, 5):  # every 5 s for 2.5 minutes, no cache
        authenticate(world.store, key, start + timedelta(seconds=second))
    assert touches == [start, start + timedelta(seconds=65), start + timedelta(seconds=130)]


class _TestClock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_keeper_renews_leases_of_different_lengths() -> None:
    from quantrun.app.lease import Keeper, Lease

    clock = _TestClock()
    keeper = Keeper(clock, threaded=False)
    store: Any = HeartbeatLog()
    long_lease = Lease(store, "long", WorkerConfig("w", lease_seconds=60.0), lambda: None, keeper)
    short_lease = Lease(store, "short", WorkerConfig("w", lease_seconds=3.0), lambda: None, keeper)
    with long_lease:
        with short_lease:
            for _ in range(10):  # ten renewal intervals of the short lease (1 s each)
                assert keeper.tick() == 0
                clock.now += 1.0
                assert keeper.tick() == 1
        assert store.beats == ["short"] * 10  # the long lease is not due for 20 s
        clock.now += 10.0
        assert keeper.tick() == 1 and store.beats[-1] == "long"  # due at 20 s
    clock.now += 60.0
    assert keeper.tick() == 0 and store.beats.count("short") == 10  # none after they ended


def test_the_cost_limit_holds_at_submit_and_again_before_a_job_runs(world: World) -> None:
    from quantrun.domain.errors import InputTooLarge

    params = {**BS, "strike": [90.0, 100.0, 110.0]}  # three options: cost 3
    with pytest.raises(InputTooLarge) as refused:
        submit_job(
            store=world.store,
            queue=world.queue,
            known=world.known,
            user=world.user,
            model="black_scholes",
            params=params,
            idempotency_key=None,
            now=utcnow(),
            max_cost=2,
        )
    assert (refused.value.estimate, refused.value.limit) == (3.0, 2)
    assert world.queue.published == []  # nothing recorded, nothing queued
    # queued under a higher limit, then the limit was lowered: the worker refuses it too
    job, _ = world.submit("black_scholes", params)
    lowered = WorkerConfig(worker_id="w1", lease_seconds=5, max_attempts=3, max_cost=2)
    assert world.run(job.id, lowered) == RunOutcome.DONE
    failed = world.store.get_job(job.id)
    assert failed is not None and failed.status == JobStatus.FAILED
    assert failed.error is not None and failed.error.code == "input_too_large"
    assert "estimated cost 3 exceeds the job limit 2" in failed.error.message


def test_a_job_past_the_inline_budget_stores_values_parquet(world: World) -> None:
    """The worker passes its budget to the model and stores the file it makes; the
    job's JSON result names it and keeps the summary."""
    import io

    import pyarrow.parquet as pq

    params = {**BS, "strike": [float(k) for k in range(50, 251)]}  # 201 options x 6 values
    job, _ = world.submit("black_scholes", params)
    small = WorkerConfig(worker_id="w1", lease_seconds=5, max_attempts=3, inline_values=1000)
    assert world.run(job.id, small) == RunOutcome.DONE
    done = world.store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED and done.result is not None
    assert done.result["values"]["artifact"] == "values.parquet"
    assert [a.name for a in done.artifacts] == ["values.parquet", "manifest.json"]
    stored = world.artifacts.get(job.id, "values.parquet")
    assert stored is not None
    table = pq.read_table(io.BytesIO(stored.data))
    assert table.num_rows == 201 and table.column_names[:2] == ["strike", "price"]
    assert done.result["summary"]["price"]["max"] == pytest.approx(max(table["price"].to_pylist()))


def test_a_worker_shutting_down_gives_its_job_back_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (``drain``): the running job is queued again at once with its attempt not
    counted and put on the queue, the model stops at its next checkpoint without a
    result, the draining process claims nothing more, and another worker runs the job
    to completion as its first counted attempt."""
    from quantrun.app import lease as lease_module

    monkeypatch.setattr(lease_module, "_DRAINING", threading.Event())
    # a third of the cancel test's paths: this job is run to its end again below
    job, outcome, runner = running_long_job(world, seed=2, paths=1_000_000)
    published = len(world.queue.published)
    assert lease_module.drain(world.queue.publish) == [job.id]
    back = world.store.get_job(job.id)
    assert back is not None and back.status == JobStatus.QUEUED and back.attempts == 0
    assert world.queue.published[published:] == [job.id]
    assert "released by w1 at shutdown" in world.store.events(job.id)[-1].reason
    runner.join(timeout=30)
    assert outcome == [RunOutcome.DONE]  # stopped at a checkpoint, nothing stored
    assert world.store.get_job(job.id).status == JobStatus.QUEUED  # type: ignore[union-attr]
    assert world.run(job.id) == RunOutcome.RETRY  # the draining process claims nothing

    monkeypatch.setattr(lease_module, "_DRAINING", threading.Event())  # another process
    other = WorkerConfig(worker_id="w2", lease_seconds=5, max_attempts=3)
    assert world.run(job.id, other) == RunOutcome.DONE
    done = world.store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED and done.attempts == 1


def test_a_retry_is_not_blocked_by_what_a_failed_attempt_wrote(world: World) -> None:
    """The first attempt wrote a chart and died; the second draws other numbers (the job
    has no seed), writes its own chart beside the first one's and succeeds; the job
    lists, and serves, what the successful attempt wrote."""
    from quantrun.app.jobs import artifact_download

    params = {
        "symbols": ["AAA", "BBB"],
        "weights": [0.5, 0.5],
        "start": "2020-01-01",
        "end": "2020-04-29",
        "method": "monte_carlo",
        "scenarios": 2000,
    }
    job, _ = world.submit("portfolio_var", params)
    stale = b"\x89PNG a chart the first attempt left behind"
    world.artifacts.put(job.id, "pnl_histogram.png", stale, "image/png", attempt=1)
    now = utcnow()
    first = world.store.claim(
        job.id, worker="w0", now=now, lease_until=now - timedelta(seconds=1), max_attempts=3
    )
    assert first.job is not None and first.job.attempts == 1  # that worker died: lease gone
    assert world.run(job.id) == RunOutcome.DONE
    done = world.store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and {a.attempt for a in done.artifacts} == {2}
    served = artifact_download(
        store=world.store,
        artifacts=world.artifacts,
        user=world.user,
        job_id=job.id,
        name="pnl_histogram.png",
        now=job.created_at,
    )
    assert served.data is not None and served.data.startswith(b"\x89PNG") and served.data != stale


def test_a_run_after_a_release_is_not_blocked_by_what_the_released_run_wrote(
    world: World,
) -> None:
    """A worker shutting down gave the job back mid-write (its attempt not counted), after
    writing a report with its own time: the next run, same attempt number, writes its
    report beside it (attempt 1001) and succeeds, and the job serves the new one. The
    manifest is the job row's, written as the job finished: served from there."""
    from quantrun.app.jobs import artifact_download

    job, _ = world.submit(
        "risk_metrics", {"symbols": ["AAA"], "start": "2020-01-01", "end": "2020-04-30"}
    )
    stale = b"<html>the report of the run that was given back</html>"
    world.artifacts.put(job.id, "report.html", stale, "text/html; charset=utf-8", attempt=1)
    assert world.run(job.id) == RunOutcome.DONE
    done = world.store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 1
    refs = {a.name: a for a in done.artifacts}
    assert refs["report.html"].attempt == 1001 and refs["manifest.json"].kept == "job"
    assert not any("manifest.json" in key for key in world.artifacts.objects)

    def served(name: str) -> bytes:
        got = artifact_download(
            store=world.store, artifacts=world.artifacts, user=world.user, job_id=job.id,
            name=name, now=job.created_at,
        )  # fmt: skip
        assert got.data is not None
        return got.data

    assert served("report.html") != stale
    assert json.loads(served("manifest.json"))["job_id"] == job.id
    assert len(served("manifest.json")) == refs["manifest.json"].size_bytes


def test_a_push_worker_hands_a_long_job_to_the_long_jobs_queue(world: World) -> None:
    """A job estimated above what a push request may run is not claimed: it goes to the
    long-jobs topic (run by a pull consumer) and stays queued, its attempts untouched;
    a small one runs here as before; the pull consumer (no handoff) runs the long one."""
    handed: list[str] = []
    push = WorkerConfig(worker_id="push", lease_seconds=5, max_attempts=3, push_max_cost=1e5)
    long_params = {**BS, "style": "asian_arithmetic", "paths": 20_000, "steps": 50, "seed": 1}
    long_job, _ = world.submit("monte_carlo_option", long_params)  # 1e6 path-steps
    small, _ = world.submit("black_scholes", BS)
    worker = Worker(world.store, world.prices, world.artifacts, push)
    run = functools.partial(worker.run, handoff=handed.append)
    assert run(long_job.id) == RunOutcome.DONE and handed == [long_job.id]
    waiting = world.store.get_job(long_job.id)
    assert waiting is not None and waiting.status == JobStatus.QUEUED and waiting.attempts == 0
    assert run(small.id) == RunOutcome.DONE and handed == [long_job.id]
    assert world.store.get_job(small.id).status == JobStatus.SUCCEEDED  # type: ignore[union-attr]
    assert world.run(long_job.id) == RunOutcome.DONE  # the pull consumer
    done = world.store.get_job(long_job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED and done.attempts == 1


def test_a_job_past_the_artifact_retention_lists_none() -> None:
    """The bucket deletes artifacts ``days`` after they were written (after the start):
    from then on the job lists none; 0 days keeps them for ever."""
    from datetime import UTC, datetime, timedelta

    from quantrun.app.jobs import retained
    from quantrun.domain.artifacts import ArtifactRef
    from quantrun.domain.jobs import Job, JobStatus

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    job = Job(
        "j", "u", "black_scholes", {}, JobStatus.SUCCEEDED, t0, started_at=t0 + timedelta(hours=1),
        artifacts=(ArtifactRef("manifest.json", "application/json", 10),),
    )  # fmt: skip
    assert retained(job, now=t0 + timedelta(days=30), days=30).artifacts == job.artifacts
    assert retained(job, now=t0 + timedelta(days=30, hours=1), days=30).artifacts == ()
    assert retained(job, now=t0 + timedelta(days=9999), days=0) == job


class _SigningStore(FakeArtifactStore):
    """The fake store as Cloud Storage serves it: by signed URL."""

    def signed_url(
        self, job_id: str, name: str, *, attempt: int = 1, content_type: str | None = None
    ) -> str | None:
        return f"https://storage.example/{artifact_key(job_id, name, attempt)}?signed"


def test_a_manifest_is_copied_to_a_signing_store_on_its_first_download(world: World) -> None:
    """gcp mode: the manifest lives in the job's row; its download answers the signed URL
    as for any artifact, after the API created the object from the row (create-only: the
    second download finds the same bytes). Other bytes under its key leave them be: the
    row's are served."""
    from quantrun.app.jobs import artifact_download

    job, _ = world.submit("black_scholes", BS)
    assert world.run(job.id) == RunOutcome.DONE
    signing = _SigningStore()

    def download() -> Any:
        return artifact_download(
            store=world.store, artifacts=signing, user=world.user, job_id=job.id,
            name="manifest.json", now=job.created_at,
        )  # fmt: skip

    first, again = download(), download()
    key = artifact_key(job.id, "manifest.json")
    assert first.url == again.url == f"https://storage.example/{key}?signed"
    assert json.loads(signing.objects[key].data)["job_id"] == job.id
    signing.objects[key] = StoredArtifact("application/json", b'{"other": "bytes"}')
    served = download()
    assert served.url is None and json.loads(served.data)["job_id"] == job.id
