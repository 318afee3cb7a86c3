"""``DirectStatement`` (the submit's and the transitions' statements run on the driver's
connection) against ``Connection.execute`` on real PostgreSQL, through both pg8000
dialects: the same parameters sent, the same rows read, the same errors raised."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, exc, select, text

from quantrun.adapters.sql import migrate
from quantrun.adapters.sql.binds import binds, finish_values
from quantrun.adapters.sql.direct import DirectStatement
from quantrun.adapters.sql.engine import make_engine
from quantrun.adapters.sql.job_store import SqlJobStore, _job_by_id
from quantrun.adapters.sql.runners import pg_create_statement, pg_statement
from quantrun.adapters.sql.schema import jobs
from quantrun.adapters.sql.shard_rows import create_values
from quantrun.domain.errors import TransientError
from quantrun.domain.jobs import Job, JobEnd, JobStatus

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["prepared", "stock"])
def engine(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[Engine]:
    eng = make_engine(postgres_url, prepared_statements=request.param == "prepared")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def _new_values(user_id: str) -> dict[str, Any]:
    job = Job(
        id=str(uuid.uuid4()),
        user_id=user_id,
        model="black_scholes",
        params={"spot": [100.0, 101.5], "note": "é"},
        status=JobStatus.QUEUED,
        created_at=T0,
        params_hash="h",
        trace="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    return {
        **create_values(job),
        "p_day": date(2026, 3, 2),
        "p_max_active": 10,
        "p_max_per_day": 100,
    }


def _stored_job(engine: Engine, user_id: str) -> dict[str, Any]:
    """A new job of ``user_id``'s, committed: its values."""
    values = _new_values(user_id)
    with engine.connect() as conn:
        DirectStatement(pg_create_statement(False), engine.dialect).first(conn, values)
        conn.commit()
    return values


def _sent_by_execute(engine: Engine, statement: Any, values: dict[str, Any]) -> tuple[Any, Any]:
    """What ``Connection.execute`` sends the driver, and the row it reads (rolled back)."""
    sent: list[Any] = []

    def capture(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        sent.append((sql, list(parameters)))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            row = conn.execute(statement, values).first()
            conn.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (only,) = sent
    return only, (dict(row._mapping) if row is not None else None)


def _read_direct(engine: Engine, statement: Any, values: dict[str, Any]) -> Any:
    with engine.connect() as conn:
        row = DirectStatement(statement, engine.dialect).first(conn, values)
        conn.rollback()
    return row


def test_every_statement_sends_what_execute_sends_and_reads_the_same_row(
    engine: Engine,
) -> None:
    """The submit (with and without the outbox), then each transition on a job in a state
    it moves from: the same SQL and positional parameters, and the same row, value for
    value (timestamps as aware datetimes, JSON as Python values)."""
    store = SqlJobStore(engine, outbox=True)
    user_id = store.get_or_create_user("direct").id
    for with_outbox in (True, False):
        values = _new_values(user_id)
        statement = pg_create_statement(with_outbox)
        (sql, parameters), row = _sent_by_execute(engine, statement, values)
        direct = DirectStatement(statement, engine.dialect)
        assert (direct.sql, direct.parameters(values)) == (sql, parameters)
        assert row == {"id": values["p_id"]}
        assert _read_direct(engine, statement, values) == row

    queued = _new_values(user_id)
    with engine.connect() as conn:
        DirectStatement(pg_create_statement(True), engine.dialect).first(conn, queued)
        conn.commit()
    job_id = queued["p_id"]
    lease = T0 + timedelta(minutes=5)
    claim = binds(job_id, T0, worker="w1", lease_expires_at=lease, max_attempts=3)
    for name, values in [
        ("claim", claim),
        ("cancel", binds(job_id, T0, user_id=user_id, reason="cancelled by user")),
    ]:
        _same_as_execute(engine, pg_statement(name, True), values, from_status="queued")
    with engine.connect() as conn:
        DirectStatement(pg_statement("claim", True), engine.dialect).first(conn, claim)
        conn.commit()
    end = JobEnd.succeeded({"price": [10.45, 11.2], "greeks": {"delta": 0.6}})
    for name, values in [
        ("finish", binds(job_id, T0, worker="w1", **finish_values(end))),
        ("renew", binds(job_id, T0, worker="w1", lease_expires_at=lease, progress=0.5)),
        ("release", binds(job_id, T0, worker="w1")),
    ]:
        _same_as_execute(engine, pg_statement(name, True), values, from_status="running")
    claimed = _read_direct(
        engine,
        pg_statement("renew", True),
        binds(job_id, T0, worker="w2", lease_expires_at=lease, progress=None),
    )
    assert claimed is None  # another worker's lease: no row, as execute reads none


def _same_as_execute(engine: Engine, statement: Any, values: Any, *, from_status: str) -> None:
    (sql, parameters), row = _sent_by_execute(engine, statement, values)
    direct = DirectStatement(statement, engine.dialect)
    assert (direct.sql, direct.parameters(values)) == (sql, parameters)
    assert row is not None and row["from_status"] == from_status
    assert _read_direct(engine, statement, values) == row


def test_a_row_reads_with_the_types_execute_gives(engine: Engine) -> None:
    """A claim returns the job's columns: aware datetimes, JSON params, floats, ints."""
    values = _stored_job(engine, SqlJobStore(engine).get_or_create_user("types").id)
    claim = binds(values["p_id"], T0, worker="w", lease_expires_at=T0, max_attempts=3)
    row = _read_direct(engine, pg_statement("claim", False), claim)
    assert row is not None
    assert row["params"] == {"spot": [100.0, 101.5], "note": "é"}
    assert row["created_at"] == T0 and row["created_at"].tzinfo is not None
    assert row["started_at"] == T0 and isinstance(row["progress"], float)
    assert (row["attempts"], row["status"], row["lease_owner"]) == (1, "running", "w")


def test_a_jobs_read_is_the_row_execute_reads(engine: Engine) -> None:
    """``get_job``'s four reads (with and without the payload, by anyone or by its owner):
    the same row as ``execute``, and none for another user's job."""
    store = SqlJobStore(engine)
    user_id = store.get_or_create_user("reader").id
    values = _stored_job(engine, user_id)
    for with_payload in (True, False):
        for owner in (None, user_id, "someone else"):
            query = _job_by_id(with_payload, owner is not None)
            given = {"p_job_id": values["p_id"], "p_user_id": owner}
            _, row = _sent_by_execute(engine, query, given)
            assert _read_direct(engine, query, given) == row
            assert (row is None) == (owner == "someone else")
    job = store.get_job(values["p_id"], user_id, with_payload=False)
    assert job is not None and (job.params, job.created_at) == ({}, T0)


def test_a_duplicate_key_raises_sqlalchemys_integrity_error(engine: Engine) -> None:
    store = SqlJobStore(engine)
    values = _new_values(store.get_or_create_user("dupe").id)
    direct = DirectStatement(pg_create_statement(False), engine.dialect)
    with engine.connect() as conn:
        direct.first(conn, values)
        conn.commit()
    with engine.connect() as conn, pytest.raises(exc.IntegrityError, match="jobs_pkey"):
        direct.first(conn, values)
    with engine.connect() as conn:  # the connection went back to the pool usable
        assert conn.execute(select(jobs.c.id).where(jobs.c.id == values["p_id"])).scalar()


def _failures_after_losing_the_connection(engine: Engine, run: Any) -> list[str]:
    """End the one pooled connection of a copy of ``engine`` from outside, then ``run``
    (conn, job values) until it succeeds: the errors met on the way."""
    store = SqlJobStore(engine)
    user_id = store.get_or_create_user("lost").id
    url = engine.url.render_as_string(hide_password=False)
    single = make_engine(url, pool_size=1, prepared_statements=engine.dialect.driver != "pg8000")
    errors: list[str] = []
    try:
        with single.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            conn.rollback()
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        for _ in range(4):
            values = _new_values(user_id)
            try:
                with single.connect() as conn:
                    assert run(conn, values) == {"id": values["p_id"]}
                    conn.commit()
                    assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
            except TransientError as error:
                errors.append(type(error.__cause__).__name__)
                continue
            assert store.get_job(values["p_id"]) is not None
            return errors
        raise AssertionError(f"the pool did not replace the lost connection: {errors}")
    finally:
        single.dispose()


def test_a_lost_connection_is_transient_and_replaced_as_with_execute(engine: Engine) -> None:
    """The server ends the pooled connection: the direct statement raises TransientError
    (``unavailable_is_transient``), the pool drops the connection and a later statement
    connects anew, as with ``execute``."""
    statement = pg_create_statement(False)
    direct = DirectStatement(statement, engine.dialect)

    def executed(conn: Any, values: dict[str, Any]) -> Any:
        row = conn.execute(statement, values).first()
        return dict(row._mapping) if row is not None else None

    with_execute = _failures_after_losing_the_connection(engine, executed)
    with_direct = _failures_after_losing_the_connection(engine, direct.first)
    # one failure each: the first error, the driver's or the socket's, drops the connection
    assert (len(with_direct), len(with_execute)) == (1, 1), (with_direct, with_execute)


def test_a_statement_whose_text_depends_on_its_values_is_refused(engine: Engine) -> None:
    expanding = select(jobs.c.id).where(jobs.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="depends on its values"):
        DirectStatement(expanding, engine.dialect)
