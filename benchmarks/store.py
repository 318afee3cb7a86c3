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
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.harness import Row, paired
from benchmarks.job_lists import bench_job_lists

N = 400  # statements a run


def bench_store() -> list[Row]:
    from devtools.postgres import start_postgres
    from quantrun.adapters.sql import migrate
    from quantrun.adapters.sql.binds import binds, finish_values
    from quantrun.adapters.sql.direct import DirectStatements
    from quantrun.adapters.sql.engine import make_engine
    from quantrun.adapters.sql.job_store import SqlJobStore
    from quantrun.adapters.sql.runners import pg_create_statement, pg_statement
    from quantrun.adapters.sql.shard_rows import create_values
    from quantrun.domain.jobs import Job, JobEnd, JobStatus

    server = start_postgres()
    try:
        engine = make_engine(server.create_database("bench"))
        migrate.upgrade(engine)
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        user_id = SqlJobStore(engine).get_or_create_user("bench").id
        now = datetime.now(UTC)

        def new_values() -> dict[str, Any]:
            job = Job(
                id=str(uuid.uuid4()),
                user_id=user_id,
                model="black_scholes",
                params={"spot": [100.0, 101.0], "strike": [100.0, 105.0], "volatility": 0.2},
                status=JobStatus.QUEUED,
                created_at=now,
                params_hash="0" * 64,
            )
            quota = {"p_day": date.today(), "p_max_active": 10**9, "p_max_per_day": 10**9}
            return {**create_values(job), **quota}

        create = pg_create_statement(True)
        claim, finish = pg_statement("claim", True), pg_statement("finish", True)
        direct = DirectStatements(engine.dialect)

        def executed(statement: Any, values: dict[str, Any]) -> Any:
            with autocommit.connect() as conn:
                return conn.execute(statement, values).first()

        def ran_direct(statement: Any, values: dict[str, Any]) -> Any:
            with autocommit.connect() as conn:
                return direct[statement].first(conn, values)

        def submits(run: Callable[[Any, dict[str, Any]], Any]) -> Callable[[], None]:
            def go() -> None:
                given = [new_values() for _ in range(N)]
                started = time.process_time()
                for values in given:
                    run(create, values)
                cpu_submit.append((time.process_time() - started) / N)

            return go

        def whole_jobs(run: Callable[[Any, dict[str, Any]], Any]) -> Callable[[], None]:
            def go() -> None:
                given = [new_values() for _ in range(N)]
                lease = now + timedelta(minutes=5)
                ended = finish_values(JobEnd.succeeded({"price": [10.45, 7.97]}))
                started = time.process_time()
                for values in given:
                    job_id = values["p_id"]
                    run(create, values)
                    run(claim, binds(job_id, now, worker="w", lease_expires_at=lease,
                                     max_attempts=3))  # fmt: skip
                    run(finish, binds(job_id, now, worker="w", **ended))
                cpu_job.append((time.process_time() - started) / N)

            return go

        cpu_submit: list[float] = []
        cpu_job: list[float] = []
        rows = [
            _cpu_note(
                paired(
                    "job store: submit statement",
                    "statements/s",
                    submits(ran_direct),
                    N,
                    "Connection.execute",
                    submits(executed),
                    N,
                ),
                cpu_submit,
            )
        ]
        rows.append(
            _cpu_note(
                paired(
                    "job store: a job's submit, claim, finish",
                    "jobs/s",
                    whole_jobs(ran_direct),
                    N,
                    "Connection.execute",
                    whole_jobs(executed),
                    N,
                ),
                cpu_job,
            )
        )
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
