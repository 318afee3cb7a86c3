"""The JobStore contract, run against SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text, update

from devtools.jobs import wait_until
from devtools.postgres import PostgresServer
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.schema import jobs
from quantrun.adapters.sql.shard_rows import cancel_shard_rows
from quantrun.app.jobs import cancel_job
from quantrun.domain.artifacts import ArtifactRef
from quantrun.domain.errors import Conflict, NotFound
from quantrun.domain.job_pages import JobQuery, encode_cursor
from quantrun.domain.jobs import ClaimOutcome, Job, JobEnd, JobError, JobStatus
from quantrun.domain.users import HashedKey, User
from tests.integration.helpers import index_sql

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def new_job(
    store: SqlJobStore,
    user_id: str,
    *,
    at: datetime = T0,
    key: str | None = None,
    model: str = "black_scholes",
) -> Job:
    return store.create_job(new_job_row(user_id, at=at, key=key, model=model))


def new_job_row(
    user_id: str, *, at: datetime = T0, key: str | None = None, model: str = "black_scholes"
) -> Job:
    return Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model=model,
        params={"x": 1},
        status=JobStatus.QUEUED,
        created_at=at,
        idempotency_key=key,
        params_hash="h",
    )


@pytest.fixture
def alice(store: SqlJobStore) -> str:
    return store.get_or_create_user("alice").id


def test_users_and_hashed_keys(store: SqlJobStore) -> None:
    user = store.get_or_create_user("bob")
    assert store.get_or_create_user("bob") == user
    assert store.find_user("bob") == user and store.find_user("nobody") is None
    store.add_api_key(HashedKey(user.id, "a" * 64, "qr_abcdefghi"))
    store.add_api_key(HashedKey(user.id, "a" * 64, "qr_abcdefghi"))  # idempotent for the same user
    found = store.api_key("a" * 64)
    assert found is not None and (found.user_id, found.user_name) == (user.id, "bob")
    assert found.usable(T0) and found.expires_at is None and found.last_used_at is None
    assert store.api_key("b" * 64) is None
    assert store.prefix_taken("qr_abcdefghi") and not store.prefix_taken("qr_zzzzzzzzz")
    other = store.get_or_create_user("carol")
    with pytest.raises(Conflict):
        store.add_api_key(HashedKey(other.id, "a" * 64, "qr_abcdefghi"))


def test_keys_expire_are_revoked_and_record_use_at_most_once_a_minute(store: SqlJobStore) -> None:
    bob = store.get_or_create_user("bob")
    carol = store.get_or_create_user("carol")
    store.add_api_key(HashedKey(bob.id, "1" * 64, "qr_expiring", T0 + timedelta(days=1)))
    store.add_api_key(HashedKey(bob.id, "2" * 64, "qr_forever"))
    store.add_api_key(HashedKey(carol.id, "3" * 64, "qr_carols"))
    expiring = store.api_key("1" * 64)
    assert expiring is not None and expiring.usable(T0)
    assert not expiring.usable(T0 + timedelta(days=1))
    assert {k.prefix for k in store.list_api_keys(bob.id)} == {"qr_expiring", "qr_forever"}
    assert len(store.list_api_keys()) == 3
    # another user's prefix revokes nothing; the owner's revokes once
    assert store.revoke_api_keys("qr_forever", now=T0, user_id=carol.id) == 0
    assert store.revoke_api_keys("qr_forever", now=T0, user_id=bob.id) == 1
    assert store.revoke_api_keys("qr_forever", now=T0, user_id=bob.id) == 0
    revoked = store.api_key("2" * 64)
    assert revoked is not None and revoked.revoked_at == T0 and not revoked.usable(T0)
    # a use is recorded unless one was recorded at or after `unless_since`
    minute = timedelta(minutes=1)
    store.touch_api_key("3" * 64, now=T0, unless_since=T0 - minute)
    store.touch_api_key("3" * 64, now=T0 + timedelta(seconds=30), unless_since=T0 - 0.5 * minute)
    used = store.api_key("3" * 64)
    assert used is not None and used.last_used_at == T0
    later = T0 + 2 * minute
    store.touch_api_key("3" * 64, now=later, unless_since=later - minute)
    used = store.api_key("3" * 64)
    assert used is not None and used.last_used_at == later


def test_job_round_trip_and_isolation(store: SqlJobStore, alice: str) -> None:
    job = new_job(store, alice)
    got = store.get_job(job.id, alice)
    assert got is not None and got.status == JobStatus.QUEUED and got.created_at == T0
    assert got.params == {"x": 1}
    mallory = store.get_or_create_user("mallory").id
    assert store.get_job(job.id, mallory) is None
    assert store.list_jobs(mallory, JobQuery(10)).items == []


def test_cursor_pagination_newest_first_without_gaps(store: SqlJobStore, alice: str) -> None:
    ids = [new_job(store, alice, at=T0 + timedelta(seconds=i // 2)).id for i in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_jobs(alice, JobQuery(3, cursor=cursor))
        seen += [j.id for j in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    created = [store.get_job(i).created_at for i in seen]  # type: ignore[union-attr]
    assert created == sorted(created, reverse=True)
    with pytest.raises(ValueError):
        store.list_jobs(alice, JobQuery(3, cursor="not-a-cursor"))


@pytest.mark.parametrize("column", ["status", "model"])
def test_a_filtered_page_reads_the_matching_jobs_not_all_the_users(
    store: SqlJobStore, alice: str, engine: Engine, column: str
) -> None:
    """``GET /v1/jobs?status=running`` (or ``?model=risk_metrics``) for a user with many
    other jobs while another user has many that match: the query plan reads the (user,
    status or model, created) index (migration 0013), so a page costs the user's
    matching jobs, not all the user's jobs walked newest first, nor every user's
    matching ones."""
    bob = store.get_or_create_user("bob").id
    made = [new_job(store, alice, at=T0 + timedelta(seconds=i)).id for i in range(300)]
    for i in range(300):
        new_job(store, bob, at=T0 + timedelta(seconds=i))
    matching = {"status": "running", "model": "risk_metrics"}[column]
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.user_id == alice).values(status="succeeded"))
        conn.execute(update(jobs).where(jobs.c.user_id == bob).values({column: matching}))
        conn.execute(update(jobs).where(jobs.c.id == made[7]).values({column: matching}))
        conn.execute(text("ANALYZE" if engine.dialect.name == "sqlite" else "ANALYZE jobs"))
    query = (
        JobQuery(5, status=JobStatus.RUNNING) if column == "status" else JobQuery(5, model=matching)
    )
    page, plan = listed_with_plan(store, engine, alice, query)
    assert [j.id for j in page.items] == [made[7]] and page.next_cursor is None
    assert f"ix_jobs_user_{column}_created" in plan, plan


def test_a_page_deep_in_the_history_starts_at_its_cursor(
    store: SqlJobStore, alice: str, engine: Engine
) -> None:
    """The cursor bounds the index scan itself (a row value), so the last page of a
    long history reads its own rows, not every newer job before them; ties on
    ``created_at`` are ordered by id across the page boundary."""
    made = [new_job(store, alice, at=T0 + timedelta(seconds=i // 2)) for i in range(200)]
    oldest_first = sorted(made, key=lambda j: (j.created_at, j.id))
    boundary = oldest_first[5]  # its twin, with the same created_at, is on one side of it
    with engine.begin() as conn:
        conn.execute(text("ANALYZE" if engine.dialect.name == "sqlite" else "ANALYZE jobs"))
    cursor = encode_cursor(boundary.created_at, boundary.id)
    page, plan = listed_with_plan(store, engine, alice, JobQuery(10, cursor=cursor))
    assert [j.id for j in page.items] == [j.id for j in reversed(oldest_first[:5])]
    if engine.dialect.name == "sqlite":
        assert "(created_at,id)<(?,?)" in plan, plan
    else:  # the row value bounds the index scan, where the OR was a filter over the
        # walked rows (or two bitmap scans, every older job read and sorted)
        conditions = [c.split("Filter:", 1)[0] for c in plan.split("Index Cond:")[1:]]
        assert any("ROW(created_at" in c for c in conditions), plan


def test_an_unfiltered_page_walks_no_shards(store: SqlJobStore, alice: str, engine: Engine) -> None:
    """``GET /v1/jobs`` of a user whose jobs are sharded: the list's index holds the jobs
    only (migration 0014), so the page's scan reads its jobs, not each one's shards
    beside them (PostgreSQL: the index answers ``parent_id IS NULL`` itself, no filter is
    left to read the rows for; SQLite: the plan uses that partial index)."""
    made = []
    for i in range(20):
        job = replace(new_job_row(alice, at=T0 + timedelta(seconds=i)), shards_total=8)
        shards = [
            replace(new_job_row(alice, at=job.created_at), parent_id=job.id) for _ in range(8)
        ]
        made.append(store.create_job(job, shards=shards))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE" if engine.dialect.name == "sqlite" else "ANALYZE jobs"))
    page, plan = listed_with_plan(store, engine, alice, JobQuery(5))
    assert [j.id for j in page.items] == [j.id for j in reversed(made)][:5]
    assert "ix_jobs_user_created" in plan, plan
    if engine.dialect.name == "sqlite":
        declared = index_sql(engine, "ix_jobs_user_created")
        assert "WHERE parent_id IS NULL" in declared, declared
    else:
        assert "parent_id" not in plan, plan


def listed_with_plan(
    store: SqlJobStore, engine: Engine, user_id: str, query: JobQuery
) -> tuple[Any, str]:
    """The page ``list_jobs`` returns, and its SELECT's query plan as the database
    explains it (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN, sequential scans off:
    on a few hundred rows reading the table whole is cheaper than any index)."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        page = store.list_jobs(user_id, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ((statement, parameters),) = [
        (q, p) for q, p in sent if q.lstrip().upper().startswith("SELECT")
    ]
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":  # the test tables are small enough to read whole
            conn.execute(text("SET enable_seqscan = off"))
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(explain + statement, parameters))
        conn.rollback()
    return page, plan


def test_filters(store: SqlJobStore, alice: str) -> None:
    a = new_job(store, alice, model="black_scholes")
    new_job(store, alice, model="risk_metrics")
    store.cancel(a.id, user_id=alice, now=T0)
    page = store.list_jobs(alice, JobQuery(10, status=JobStatus.CANCELLED))
    assert [j.id for j in page.items] == [a.id]
    page = store.list_jobs(alice, JobQuery(10, model="risk_metrics"))
    assert [j.model for j in page.items] == ["risk_metrics"]


def test_idempotency_key_unique_per_user_and_expires(store: SqlJobStore, alice: str) -> None:
    job = new_job(store, alice, key="k1")
    with pytest.raises(Conflict):
        new_job(store, alice, key="k1")
    bob = store.get_or_create_user("bob").id
    new_job(store, bob, key="k1")  # another user's key space
    assert store.find_by_idempotency_key(alice, "k1", since=T0 - timedelta(hours=24)) == job
    # past the window the key is released and can be used again
    assert store.find_by_idempotency_key(alice, "k1", since=T0 + timedelta(seconds=1)) is None
    new_job(store, alice, key="k1", at=T0 + timedelta(days=2))


def test_claim_heartbeat_finish_and_events(store: SqlJobStore, alice: str) -> None:
    job = new_job(store, alice)
    claim = store.claim(
        job.id, worker="w1", now=T0, lease_until=T0 + timedelta(seconds=30), max_attempts=3
    )
    assert claim.outcome == ClaimOutcome.CLAIMED and claim.job is not None
    assert claim.job.attempts == 1 and claim.job.status == JobStatus.RUNNING
    again = store.claim(
        job.id, worker="w2", now=T0, lease_until=T0 + timedelta(seconds=30), max_attempts=3
    )
    assert again.outcome == ClaimOutcome.LEASED_ELSEWHERE
    assert store.heartbeat(job.id, worker="w1", progress=0.5, lease_until=T0 + timedelta(60))
    assert not store.heartbeat(job.id, worker="w2", progress=0.9, lease_until=T0)
    assert not store.finish(job.id, JobEnd.succeeded({}), worker="w2", now=T0)
    refs = [ArtifactRef("a.png", "image/png", 3)]
    end = JobEnd.succeeded({"price": 1.5}, refs)
    assert store.finish(job.id, end, worker="w1", now=T0 + timedelta(seconds=1))
    done = store.get_job(job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED
    assert done.result == {"price": 1.5} and done.artifacts == tuple(refs) and done.progress == 1.0
    assert not store.finish(job.id, JobEnd.failed(JobError("x", "y")), worker="w1", now=T0)
    assert (
        store.claim(
            job.id, worker="w3", now=T0 + timedelta(days=1), lease_until=T0, max_attempts=3
        ).outcome
        == ClaimOutcome.ALREADY_FINISHED
    )
    transitions = [(e.from_status, e.to_status) for e in store.events(job.id)]
    assert transitions == [
        (None, JobStatus.QUEUED),
        (JobStatus.QUEUED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.SUCCEEDED),
    ]


def test_expired_lease_is_reclaimed_and_attempts_are_bounded(
    store: SqlJobStore, alice: str
) -> None:
    job = new_job(store, alice)
    lease = timedelta(seconds=10)
    for attempt in (1, 2):
        now = T0 + attempt * timedelta(minutes=1)
        claim = store.claim(
            job.id, worker=f"w{attempt}", now=now, lease_until=now + lease, max_attempts=2
        )
        assert claim.outcome == ClaimOutcome.CLAIMED
    later = T0 + timedelta(minutes=5)
    assert store.reclaimable(now=later, queued_before=T0, limit=10) == [job.id]
    exhausted = store.claim(
        job.id, worker="w3", now=later, lease_until=later + lease, max_attempts=2
    )
    # the store reports it; failing the job is the use case's decision (Worker.run)
    assert exhausted.outcome == ClaimOutcome.ATTEMPTS_EXHAUSTED
    assert exhausted.job is not None and exhausted.job.status == JobStatus.RUNNING


def test_a_claim_records_the_status_the_job_had(store: SqlJobStore, alice: str) -> None:
    """Running (an expired lease taken over) or queued (requeued first): the event says
    which, not a guess from the attempt count."""
    job = new_job(store, alice)
    lease = timedelta(seconds=10)
    for attempt, now in enumerate((T0, T0 + timedelta(minutes=1)), start=1):
        claim = store.claim(
            job.id, worker=f"w{attempt}", now=now, lease_until=now + lease, max_attempts=5
        )
        assert claim.outcome == ClaimOutcome.CLAIMED
    later = T0 + timedelta(minutes=2)
    assert store.requeue(job.id, now=later)
    third = store.claim(job.id, worker="w3", now=later, lease_until=later + lease, max_attempts=5)
    assert third.job is not None and third.job.attempts == 3
    claims = [e for e in store.events(job.id) if e.to_status == JobStatus.RUNNING]
    assert [e.from_status for e in claims] == [
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.QUEUED,
    ]
    assert [e.reason for e in claims] == [
        "claimed by w1 (attempt 1)",
        "claimed by w2 (attempt 2) after the lease of w1 expired",
        "claimed by w3 (attempt 3)",
    ]


def test_requeue_only_takes_expired_leases(store: SqlJobStore, alice: str) -> None:
    job = new_job(store, alice)
    store.claim(job.id, worker="w1", now=T0, lease_until=T0 + timedelta(seconds=10), max_attempts=3)
    assert not store.requeue(job.id, now=T0 + timedelta(seconds=5))
    assert store.requeue(job.id, now=T0 + timedelta(seconds=11))
    requeued = store.get_job(job.id)
    assert requeued is not None and requeued.status == JobStatus.QUEUED
    assert requeued.lease_owner is None
    assert "expired" in store.events(job.id)[-1].reason


def test_cancel_queued_running_and_finished(store: SqlJobStore, alice: str) -> None:
    user = User(alice, "alice")
    queued = new_job(store, alice)
    assert cancel_job(store=store, user=user, job_id=queued.id, now=T0).status == "cancelled"
    running = new_job(store, alice)
    store.claim(running.id, worker="w", now=T0, lease_until=T0 + timedelta(60), max_attempts=3)
    assert store.cancel(running.id, user_id=alice, now=T0) is not None
    # the worker learns at its next heartbeat and cannot finish it
    assert not store.heartbeat(running.id, worker="w", progress=0.5, lease_until=T0)
    assert not store.finish(running.id, JobEnd(JobStatus.SUCCEEDED), worker="w", now=T0)
    # cancelling again moves nothing and answers the job; a finished job is a conflict
    assert store.cancel(running.id, user_id=alice, now=T0) is None
    assert cancel_job(store=store, user=user, job_id=running.id, now=T0).status == "cancelled"
    done = new_job(store, alice)
    store.claim(done.id, worker="w", now=T0, lease_until=T0 + timedelta(60), max_attempts=3)
    store.finish(done.id, JobEnd.succeeded({}), worker="w", now=T0)
    with pytest.raises(Conflict):
        cancel_job(store=store, user=user, job_id=done.id, now=T0)
    with pytest.raises(NotFound):
        cancel_job(store=store, user=user, job_id=str(uuid.uuid4()), now=T0)
    # another user's job is not theirs to cancel, nor to see
    with pytest.raises(NotFound):
        cancel_job(store=store, user=User("someone-else", "eve"), job_id=queued.id, now=T0)


def test_racing_workers_claim_a_job_exactly_once(store: SqlJobStore, alice: str) -> None:
    jobs = [new_job(store, alice) for _ in range(20)]
    wins: list[tuple[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        for job in jobs:
            claim = store.claim(
                job.id, worker=name, now=T0, lease_until=T0 + timedelta(seconds=60), max_attempts=3
            )
            if claim.outcome == ClaimOutcome.CLAIMED:
                with lock:
                    wins.append((job.id, name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(j for j, _ in wins) == sorted(j.id for j in jobs)
    for job in jobs:
        got = store.get_job(job.id)
        assert got is not None and got.attempts == 1


def test_fail_is_guarded(store: SqlJobStore, alice: str) -> None:
    job = new_job(store, alice)
    assert store.fail(job.id, now=T0, error=JobError("poison", "bad message"))
    assert not store.fail(job.id, now=T0, error=JobError("poison", "again"))
    got = store.get_job(job.id)
    assert got is not None and got.error == JobError("poison", "bad message")


def test_cancel_racing_a_claim_still_cancels(store: SqlJobStore, alice: str) -> None:
    # A worker claims while users cancel: every cancel must end cancelled or 409-finished,
    # never a spurious "already finished (running)".
    for _ in range(15):
        job = new_job(store, alice)
        barrier = threading.Barrier(2)
        errors: list[Exception] = []

        def claim(job_id: str = job.id, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            store.claim(job_id, worker="w", now=T0, lease_until=T0 + timedelta(60), max_attempts=3)

        def cancel(
            job_id: str = job.id,
            barrier: threading.Barrier = barrier,
            errors: list[Exception] = errors,
        ) -> None:
            barrier.wait()
            try:
                cancel_job(store=store, user=User(alice, "alice"), job_id=job_id, now=T0)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=claim), threading.Thread(target=cancel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        final = store.get_job(job.id)
        assert final is not None and final.status == JobStatus.CANCELLED


@pytest.mark.parametrize("statement", ["claim", "finish"])
def test_hot_transitions_read_one_job_row_whatever_the_statistics(
    postgres_url: str, statement: str
) -> None:
    """The single-statement claim and finish reach their row by its key under a generic
    plan (the one PostgreSQL caches for a prepared statement) made before any statistics:
    a claim that found the job through the status index read every queued job (1.7 ms
    with 3,000 queued, growing with the backlog)."""
    from sqlalchemy import text

    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.runners import pg_statement
    from tests.integration.helpers import queued_job

    engine = make_engine(postgres_url)
    try:
        migrate.upgrade(engine)
        store = SqlJobStore(engine, outbox=True)
        user = store.get_or_create_user("u").id
        ids = [queued_job(store, user).id for _ in range(500)]  # never analysed
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=30)
        store.claim(ids[1], worker="w", now=now, lease_until=lease, max_attempts=3)
        # rows of jobs this backend read and has not yet reported (it does so at most once
        # a second): the figure before and after the statement
        rows_read = text(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = 'jobs'"
        )
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            before = conn.execute(rows_read).scalar_one()
            params: dict[str, object] = {"p_now": now, "p_worker": "w"}
            if statement == "claim":
                params.update(p_job_id=ids[0], p_lease_expires_at=lease, p_max_attempts=3)
            else:
                params.update(
                    p_job_id=ids[1],
                    p_status="succeeded",
                    p_result={"x": 1},
                    p_error=None,
                    p_artifacts=[],
                    p_manifest=None,
                    p_progress=1.0,
                    p_reason="completed",
                )
            done = conn.execute(pg_statement(statement, True), params).first() is not None
            read = conn.execute(rows_read).scalar_one() - before
    finally:
        engine.dispose()
    assert done
    assert read <= 3  # the row locked, updated, and checked by the event's foreign key


def test_an_event_keeps_at_most_2000_characters_of_its_reason(
    store: SqlJobStore, alice: str
) -> None:
    job = new_job(store, alice)
    assert store.fail(job.id, now=T0, error=JobError("model_error", "x" * 5000))
    reason = store.events(job.id)[-1].reason
    assert reason.startswith("model_error: xxx") and len(reason) == 2000
    failed = store.get_job(job.id)
    assert failed is not None and failed.error is not None
    assert len(failed.error.message) == 5000  # the job's error keeps the whole message


def test_a_list_or_a_poll_without_payload_reads_no_params_or_result(
    store: SqlJobStore, alice: str
) -> None:
    job = new_job(store, alice)
    store.claim(job.id, worker="w", now=T0, lease_until=T0 + timedelta(minutes=1), max_attempts=3)
    store.finish(job.id, JobEnd.succeeded({"big": [1] * 9}), worker="w", now=T0)
    full = store.list_jobs(alice, JobQuery(5))
    (listed,) = store.list_jobs(alice, JobQuery(5, with_payload=False)).items
    assert full.items[0].result == {"big": [1] * 9} and full.items[0].params == {"x": 1}
    assert (listed.result, listed.params) == (None, {})
    assert (listed.id, listed.status, listed.progress) == (job.id, JobStatus.SUCCEEDED, 1.0)
    # a status poll (an event stream's) reads the job the same way
    polled = store.get_job(job.id, alice, with_payload=False)
    assert polled is not None and (polled.result, polled.params) == (None, {})
    assert (polled.status, polled.finished_at) == (JobStatus.SUCCEEDED, T0)
    assert store.get_job(job.id, "someone else", with_payload=False) is None


@pytest.mark.postgres
def test_a_database_outage_is_transient_and_the_store_recovers(
    postgres_server: PostgresServer,
) -> None:
    """PostgreSQL stopping and starting again (a restart, a failover): while it is down
    every store call raises TransientError (503, a redelivery), never a driver error (a
    500), and once it is back the store works again with the same engine."""
    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.domain.errors import TransientError

    url = postgres_server.create_database(f"outage_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url, pool_size=2)
    migrate.upgrade(engine)
    store = SqlJobStore(engine)
    alice = store.get_or_create_user("alice").id
    job = new_job(store, alice)
    postgres_server.halt()
    try:
        for _ in range(3):
            with pytest.raises(TransientError, match="the job store is unavailable"):
                store.get_job(job.id)
    finally:
        postgres_server.resume()
    outcomes = []
    for _ in range(3):  # the first use of a pooled connection from before may still fail
        try:
            outcomes.append(store.get_job(job.id))
        except TransientError:
            outcomes.append(None)
    assert outcomes[-1] is not None and outcomes[-1].id == job.id
    assert outcomes.count(None) <= 1
    engine.dispose()


def sharded_job(store: SqlJobStore, user_id: str, n: int) -> tuple[Job, list[Job]]:
    """A stored job of ``n`` shards, queued."""
    parent = Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model="monte_carlo_option",
        params={"x": 1},
        status=JobStatus.QUEUED,
        created_at=T0,
        shards_total=n,
    )
    shards = [
        Job(
            id=str(uuid.uuid4()),
            user_id=user_id,
            model="monte_carlo_option",
            params={"shard": {}, "cost": 1.0},
            status=JobStatus.QUEUED,
            created_at=T0,
            parent_id=parent.id,
            shard_index=i,
        )
        for i in range(n)
    ]
    store.create_job(parent, shards=shards)
    return parent, shards


def test_a_sharded_job_is_reclaimed_only_to_be_merged(store: SqlJobStore, alice: str) -> None:
    """Queued, a sharded job is not republished (its shards carry its messages); once its
    shards are all done it is: when its merger's lease runs out, and again when, put back
    on the queue, it waits past the grace (that message lost too)."""
    parent, shards = sharded_job(store, alice, 2)
    now = T0 + timedelta(minutes=1)
    assert set(store.reclaimable(now=now, queued_before=now, limit=10)) == {s.id for s in shards}
    store.start_shards(parent.id, now=now)
    merge = False
    for shard in shards:
        store.claim(
            shard.id, worker="w", now=now, lease_until=now + timedelta(minutes=1), max_attempts=3
        )
        _, merge = store.finish_shard(
            shard.id,
            job_id=parent.id,
            worker="w",
            now=now,
            result={},
            lease_until=now + timedelta(seconds=10),
        )
    assert merge
    later = T0 + timedelta(minutes=2)  # the merger's lease has run out
    assert store.reclaimable(now=later, queued_before=T0, limit=10) == [parent.id]
    assert store.requeue(parent.id, now=later)
    assert store.reclaimable(now=later, queued_before=later - timedelta(minutes=1), limit=10) == []
    much_later = later + timedelta(minutes=10)
    assert store.reclaimable(
        now=much_later, queued_before=much_later - timedelta(minutes=5), limit=10
    ) == [parent.id]


@pytest.mark.parametrize("engine", ["postgresql", "postgresql-stock-dialect"], indirect=True)
def test_a_shard_finishing_while_its_job_is_cancelled_waits_instead_of_deadlocking(
    engine: Engine, store: SqlJobStore, alice: str
) -> None:
    """A cancel locks the job's row, then its shards'; a shard finishing locks the job's
    row first too, so it waits for the cancel, finds its shard cancelled and records
    nothing. (Locking its shard first, it deadlocked: the cancel answered 500.)"""
    parent, shards = sharded_job(store, alice, 2)
    now = T0 + timedelta(minutes=1)
    store.start_shards(parent.id, now=now)
    store.claim(
        shards[1].id, worker="w", now=now, lease_until=now + timedelta(minutes=1), max_attempts=3
    )
    finished: list[Any] = []

    def finish() -> None:
        try:
            finished.append(
                store.finish_shard(
                    shards[1].id,
                    job_id=parent.id,
                    worker="w",
                    now=now,
                    result={},
                    lease_until=now + timedelta(seconds=10),
                )
            )
        except Exception as exc:  # the deadlock, if it comes, is the finding
            finished.append(exc)

    with engine.begin() as cancel:  # a cancel's transaction, past its first statement
        cancel.execute(select(jobs.c.id).where(jobs.c.id == parent.id).with_for_update())
        finisher = threading.Thread(target=finish)
        finisher.start()
        wait_until(lambda: _lock_waiters(engine) > 0, timeout=10, interval=0.02)
        assert cancel_shard_rows(cancel, parent.id, now, "its job was cancelled") == 2
    finisher.join(timeout=30)
    assert finished == [(False, False)]
    shard = store.get_job(shards[1].id)
    assert shard is not None and shard.status == JobStatus.CANCELLED and shard.result is None


def _lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one()
        )


@pytest.mark.parametrize("engine", ["postgresql", "postgresql-stock-dialect"], indirect=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock, serialization failure
def test_a_transaction_the_server_rolled_back_is_transient(engine: Engine, sqlstate: str) -> None:
    """Trying again succeeds: 503 with Retry-After from the API, a redelivery from the
    queue, never a 500."""
    from quantrun.domain.errors import TransientError

    raise_it = f"DO $$ BEGIN RAISE EXCEPTION 'rolled back' USING ERRCODE = '{sqlstate}'; END $$"
    with pytest.raises(TransientError, match="rolled back"), engine.begin() as conn:
        conn.execute(text(raise_it))
    with engine.connect() as conn:  # the engine goes on working
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
