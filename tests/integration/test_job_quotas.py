"""Per-user job quotas (CONTRACT 5.1), counted by the job store in the statements that
create and end jobs: exact under racing submits, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text

from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.job_store import SqlJobStore
from quantrun.adapters.sql.schema import jobs
from quantrun.domain.errors import Conflict
from quantrun.domain.jobs import Job, JobEnd, JobError, JobStatus
from quantrun.domain.quota import JobQuota, QuotaExceeded

T0 = datetime(2026, 1, 5, 18, 30, tzinfo=UTC)


def job_for(user_id: str, at: datetime = T0, key: str | None = None) -> Job:
    return Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model="black_scholes",
        params={},
        status=JobStatus.QUEUED,
        created_at=at,
        idempotency_key=key,
        params_hash="h",
    )


def job_rows(engine: Engine, user_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).where(jobs.c.user_id == user_id)) or 0)


def test_the_active_quota_counts_queued_and_running_jobs_and_every_ending_frees_one(
    store: SqlJobStore, engine: Engine
) -> None:
    alice = store.get_or_create_user("alice").id
    quota = JobQuota(active_jobs=4)
    made = [store.create_job(job_for(alice), quota) for _ in range(4)]
    with pytest.raises(QuotaExceeded) as refused:
        store.create_job(job_for(alice), quota)
    assert (refused.value.quota, refused.value.limit, refused.value.retry_after) == (
        "active_jobs",
        4,
        QuotaExceeded.ACTIVE_RETRY_SECONDS,
    )
    assert job_rows(engine, alice) == 4  # the refused job left nothing behind
    # another user has a quota of their own
    bob = store.get_or_create_user("bob").id
    store.create_job(job_for(bob), quota)

    lease = T0 + timedelta(minutes=5)
    for job in made[:2]:
        store.claim(job.id, worker="w", now=T0, lease_until=lease, max_attempts=3)
    store.requeue(made[1].id, now=lease + timedelta(seconds=1))  # still active: no change
    assert store.quota_usage(alice, now=T0) == (4, 4)

    # each way a job ends frees one place: finish, fail, cancel
    assert store.finish(made[0].id, JobEnd.succeeded({}), worker="w", now=T0)
    assert store.quota_usage(alice, now=T0) == (3, 4)
    assert store.fail(made[1].id, now=T0, error=JobError("x", "y"))
    assert store.cancel(made[2].id, user_id=alice, now=T0) is not None
    assert store.quota_usage(alice, now=T0) == (1, 4)
    # a refused transition (already finished) frees nothing twice
    assert not store.fail(made[0].id, now=T0, error=JobError("x", "y"))
    assert store.cancel(made[0].id, user_id=alice, now=T0) is None
    assert store.quota_usage(alice, now=T0) == (1, 4)
    for _ in range(3):
        store.create_job(job_for(alice), quota)
    with pytest.raises(QuotaExceeded):
        store.create_job(job_for(alice), quota)


def test_the_daily_quota_counts_submissions_per_utc_day(store: SqlJobStore) -> None:
    alice = store.get_or_create_user("alice").id
    quota = JobQuota(jobs_per_day=2)
    first = store.create_job(job_for(alice), quota)
    store.cancel(first.id, user_id=alice, now=T0)  # ending a job gives no submission back
    store.create_job(job_for(alice), quota)
    late = T0.replace(hour=23, minute=59, second=30)
    with pytest.raises(QuotaExceeded) as refused:
        store.create_job(job_for(alice, at=late), quota)
    assert refused.value.quota == "jobs_per_day"
    assert refused.value.retry_after == 30  # seconds to midnight UTC
    assert "2 jobs today" in refused.value.message
    # a new UTC day starts again; the day is UTC's whatever the clock's zone (20:00 UTC
    # on the 6th is 01:00 on the 7th at +05:00: one day on, not two)
    next_day = T0.replace(day=6, hour=20).astimezone(timezone(timedelta(hours=5)))
    store.create_job(job_for(alice, at=next_day), quota)
    assert store.quota_usage(alice, now=next_day) == (2, 1)
    store.create_job(job_for(alice, at=next_day), quota)
    with pytest.raises(QuotaExceeded):
        store.create_job(job_for(alice, at=T0.replace(day=6, hour=23)), quota)


def test_a_replayed_idempotency_key_counts_nothing(store: SqlJobStore) -> None:
    alice = store.get_or_create_user("alice").id
    store.create_job(job_for(alice, key="k1"))
    with pytest.raises(Conflict):
        store.create_job(job_for(alice, key="k1"))
    assert store.quota_usage(alice, now=T0) == (1, 1)


def test_racing_submits_never_pass_the_quota(store: SqlJobStore, engine: Engine) -> None:
    """Eight threads, each with its own connection, submit at once: exactly the quota
    gets through (the count is the guard of the upsert, not a read before it)."""
    alice = store.get_or_create_user("alice").id
    quota = JobQuota(active_jobs=5)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def submit() -> None:
        start.wait()
        for _ in range(3):
            try:
                store.create_job(job_for(alice), quota)
                outcomes.append("created")
            except QuotaExceeded:
                outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 5 and outcomes.count("refused") == 19
    assert job_rows(engine, alice) == 5
    assert store.quota_usage(alice, now=T0) == (5, 5)


def test_the_migration_counts_the_jobs_already_there(engine: Engine) -> None:
    """Upgrading a database with jobs in it starts the counts from them."""
    store = SqlJobStore(engine)
    alice = store.get_or_create_user("alice").id
    now = datetime.now(UTC)
    for _ in range(3):
        store.create_job(job_for(alice, at=now))
    done = store.create_job(job_for(alice, at=now))
    store.cancel(done.id, user_id=alice, now=now)
    store.create_job(job_for(alice, at=now - timedelta(days=2)))
    migrate.downgrade(engine, "0003")
    migrate.upgrade(engine)
    assert store.quota_usage(alice, now=now) == (4, 4)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM job_quotas")).scalar() == 1


def test_retry_after_for_the_daily_quota_counts_to_midnight_utc() -> None:
    """Whatever zone the clock reads in: 23:59:30 UTC is 04:59:30 the next day at +05:00,
    and the quota's day still ends in 30 s."""
    late = datetime(2026, 1, 5, 23, 59, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=5)))
    assert QuotaExceeded("jobs_per_day", limit=5, now=late).retry_after == 30
