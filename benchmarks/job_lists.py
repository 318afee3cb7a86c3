"""The indexes of a user's filtered job list (migration 0013) on a real PostgreSQL: what
they save a status-filtered page and what they cost each job, each beside the same work
in a second database of the same server where they were dropped.

- A page of ``GET /v1/jobs?status=failed`` (50 items) for a user with HISTORY jobs, the
  10 oldest of them failed, while another user has HISTORY / 2 failed ones: without the
  index the page walks the user's history newest first (or every failed job).
- A job's submit, claim and finish on the direct path (``job_statements.py``, as
  ``store.py``'s row runs them): each transition writes two index entries more with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.harness import Row, paired
from benchmarks.job_statements import runner, whole_jobs

HISTORY = 50_000
PAGES = 200  # status pages a run
JOBS = 300  # whole jobs a run


def bench_job_lists(server: Any) -> list[Row]:
    from sqlalchemy import Engine, insert, text

    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.job_store import SqlJobStore
    from quantrun.adapters.sql.schema import jobs
    from quantrun.domain.job_pages import JobQuery
    from quantrun.domain.jobs import JobStatus

    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def filled(name: str, with_index: bool) -> tuple[Engine, str]:
        engine = make_engine(server.create_database(name))
        migrate.upgrade(engine)
        store = SqlJobStore(engine)
        user, other = store.get_or_create_user("bench").id, store.get_or_create_user("other").id

        def row(i: int, owner: str, status: str) -> dict[str, Any]:
            at = t0 + timedelta(seconds=i)
            return {"id": str(uuid.uuid4()), "user_id": owner, "model": "black_scholes",
                    "params": {"spot": 100.0}, "status": status, "created_at": at,
                    "updated_at": at, "progress": 1.0, "attempts": 1, "artifacts": [],
                    "params_hash": "0" * 64}  # fmt: skip

        rows = [row(i, user, "failed" if i < 10 else "succeeded") for i in range(HISTORY)]
        rows += [row(i, other, "failed") for i in range(HISTORY // 2)]
        with engine.begin() as conn:
            for at in range(0, len(rows), 5_000):
                conn.execute(insert(jobs), rows[at : at + 5_000])
            if not with_index:
                conn.execute(text("DROP INDEX ix_jobs_user_status_created"))
                conn.execute(text("DROP INDEX ix_jobs_user_model_created"))
            conn.execute(text("ANALYZE jobs"))
        return engine, user

    indexed, user = filled("lists_indexed", True)
    bare, bare_user = filled("lists_bare", False)

    def pages(engine: Engine, owner: str) -> Callable[[], None]:
        store = SqlJobStore(engine)

        def go() -> None:
            for _ in range(PAGES):
                assert len(store.list_jobs(owner, JobQuery(50, status=JobStatus.FAILED)).items)

        return go

    rows = [
        paired(
            f"job list: a status page, {HISTORY:,} jobs of the user",
            "pages/s",
            pages(indexed, user),
            PAGES,
            "without the list indexes",
            pages(bare, bare_user),
            PAGES,
        ),
        paired(
            "job store: a job's submit, claim, finish (the list indexes' price)",
            "jobs/s",
            whole_jobs(runner(indexed, direct=True), user, JOBS, []),
            JOBS,
            "without the list indexes",
            whole_jobs(runner(bare, direct=True), bare_user, JOBS, []),
            JOBS,
        ),
    ]
    indexed.dispose()
    bare.dispose()
    return rows
