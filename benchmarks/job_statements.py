"""The job store's statements of one job (submit, claim, finish) as the bench rows run
them on a real PostgreSQL: on a connection in autocommit, checked out per statement as
the store does, direct (``adapters/sql/direct.py``) or through ``Connection.execute``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

Run = Callable[[Any, dict[str, Any]], Any]


def runner(engine: Any, *, direct: bool) -> Run:
    """run(statement, values): the statement's first row."""
    from quantrun.adapters.sql.direct import DirectStatements

    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    compiled = DirectStatements(engine.dialect)

    def ran_direct(statement: Any, values: dict[str, Any]) -> Any:
        with autocommit.connect() as conn:
            return compiled[statement].first(conn, values)

    def executed(statement: Any, values: dict[str, Any]) -> Any:
        with autocommit.connect() as conn:
            return conn.execute(statement, values).first()

    return ran_direct if direct else executed


def new_job_values(user_id: str, now: datetime) -> dict[str, Any]:
    """The submit statement's values for a new queued job of ``user_id``, within quotas
    no bench reaches."""
    from quantrun.adapters.sql.shard_rows import create_values
    from quantrun.domain.jobs import Job, JobStatus

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


def submits(run: Run, user_id: str, n: int, cpu: list[float]) -> Callable[[], None]:
    """n submit statements; ``cpu`` gets this process's CPU a statement."""
    from quantrun.adapters.sql.runners import pg_create_statement

    create = pg_create_statement(True)

    def go() -> None:
        given = [new_job_values(user_id, datetime.now(UTC)) for _ in range(n)]
        started = time.process_time()
        for values in given:
            run(create, values)
        cpu.append((time.process_time() - started) / n)

    return go


def whole_jobs(run: Run, user_id: str, n: int, cpu: list[float]) -> Callable[[], None]:
    """n jobs each submitted, claimed and finished; ``cpu`` gets this process's CPU a job."""
    from quantrun.adapters.sql.binds import binds, finish_values
    from quantrun.adapters.sql.runners import pg_create_statement, pg_statement
    from quantrun.domain.jobs import JobEnd

    create = pg_create_statement(True)
    claim, finish = pg_statement("claim", True), pg_statement("finish", True)
    ended = finish_values(JobEnd.succeeded({"price": [10.45, 7.97]}))

    def go() -> None:
        now = datetime.now(UTC)
        lease = now + timedelta(minutes=5)
        given = [new_job_values(user_id, now) for _ in range(n)]
        started = time.process_time()
        for values in given:
            job_id = values["p_id"]
            run(create, values)
            run(claim, binds(job_id, now, worker="w", lease_expires_at=lease, max_attempts=3))
            run(finish, binds(job_id, now, worker="w", **ended))
        cpu.append((time.process_time() - started) / n)

    return go
