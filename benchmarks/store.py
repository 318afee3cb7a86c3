"""The job store's hot statements on a real PostgreSQL (started here, removed after):
each run direct (``adapters/sql/direct.py``: compiled once, executed on the driver's
connection) beside the same statement through ``Connection.execute``, on a connection in
autocommit as the store uses them. Both run through the prepared-statement dialect, so
the ratio is SQLAlchemy's per-call work alone; the rates include the server's time and
the round trip, the same for both. A row's unit is a submit statement, or a job's three
statements (submit, claim, finish); the note gives this process's CPU time a unit,
median over the runs."""

from __future__ import annotations

import statistics

from benchmarks.harness import Row, paired
from benchmarks.job_lists import bench_job_lists
from benchmarks.job_statements import runner, submits, whole_jobs

N = 400  # statements a run


def bench_store() -> list[Row]:
    from devtools.postgres import start_postgres
    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.job_store import SqlJobStore

    server = start_postgres()
    try:
        engine = make_engine(server.create_database("bench"))
        migrate.upgrade(engine)
        user_id = SqlJobStore(engine).get_or_create_user("bench").id
        direct, executed = runner(engine, direct=True), runner(engine, direct=False)
        cpu_submit: list[float] = []
        cpu_job: list[float] = []
        rows = [
            _cpu_note(
                paired(
                    "job store: submit statement",
                    "statements/s",
                    submits(direct, user_id, N, cpu_submit),
                    N,
                    "Connection.execute",
                    submits(executed, user_id, N, cpu_submit),
                    N,
                ),
                cpu_submit,
            ),
            _cpu_note(
                paired(
                    "job store: a job's submit, claim, finish",
                    "jobs/s",
                    whole_jobs(direct, user_id, N, cpu_job),
                    N,
                    "Connection.execute",
                    whole_jobs(executed, user_id, N, cpu_job),
                    N,
                ),
                cpu_job,
            ),
        ]
        engine.dispose()
        return rows + bench_job_lists(server)
    finally:
        server.stop()


def _cpu_note(row: Row, cpu: list[float]) -> Row:
    # paired() runs the candidate, then the reference: a warm-up pair, then one a repeat
    direct, executed = cpu[2::2], cpu[3::2]
    row.note = (
        f"this process's CPU a unit: {statistics.median(direct) * 1e6:,.0f} us direct, "
        f"{statistics.median(executed) * 1e6:,.0f} us through execute"
    )
    return row
