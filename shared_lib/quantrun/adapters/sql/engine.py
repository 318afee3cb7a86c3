"""Engine construction for the job store: SQLite (embedded) or PostgreSQL via pg8000.

PostgreSQL engines keep ``pool_size`` connections, use ``postgresql+pg8000_prepared``
(``pg8000_dialect.py``: prepared statements, one round trip per statement) and check a
pooled connection's liveness only when it sat idle for ``IDLE_PING_SECONDS``: a
connection in steady use is not pinged on every checkout (a round trip per transaction),
while one that may have been dropped while idle (Cloud SQL maintenance, NAT timeouts) is
tested and replaced before use. Timestamps are parsed with ``datetime.fromisoformat``
(``parse_timestamps_natively``): pg8000's ``strptime`` cost ~30 us per value, four per
claimed job.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc

import quantrun.adapters.sql.pg8000_dialect  # noqa: F401 - registers the dialect
from quantrun.domain.errors import TransientError

IDLE_PING_SECONDS = 30.0
PG_DRIVER = "postgresql+pg8000_prepared"


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    connect_timeout: float = 10.0,
    prepared_statements: bool = True,
) -> Engine:
    """``prepared_statements=False``: SQLAlchemy's stock pg8000 dialect, for a
    transaction-pooling proxy in front of PostgreSQL (named statements do not survive the
    proxy's switching of server connections)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while the worker writes; busy_timeout waits for a lock
            # instead of failing at once when both write.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres", "postgresql+pg8000"):
        url = pg8000_url(rest, prepared_statements=prepared_statements)
    return postgres_engine(url, pool_size=pool_size, connect_args={"timeout": connect_timeout})


def pg8000_url(address: str, *, prepared_statements: bool) -> str:
    """The URL for ``address`` (what follows ``://``) through this dialect or, without
    prepared statements, SQLAlchemy's stock pg8000 dialect."""
    return f"{PG_DRIVER if prepared_statements else 'postgresql+pg8000'}://{address}"


def postgres_engine(url: str, *, pool_size: int, **engine_args: Any) -> Engine:
    """A PostgreSQL engine with a fixed pool, the idle ping and the timestamp readers
    (``engine_args``: the connect arguments, or the Cloud SQL connector's ``creator``)."""
    if "creator" in engine_args:  # the Cloud SQL connector's
        engine_args["creator"] = _unavailable_on_os_error(engine_args["creator"])
    engine = create_engine(
        url,
        pool_size=pool_size,
        # no overflow: a connection opened past the pool is closed on return, and under
        # load that means a connect (TCP, startup, TLS context) per request
        max_overflow=0,
        pool_timeout=30,
        # recycled before Cloud SQL or a NAT drops a long-lived connection
        pool_recycle=1800,
        **engine_args,
    )
    ping_when_idle(engine)
    parse_timestamps_natively(engine)
    unavailable_is_transient(engine)
    return engine


def unavailable_is_transient(engine: Engine) -> None:
    """A database that is restarting or unreachable (a lost connection, a refused one), or
    a transaction the server rolled back (a deadlock), is
    a ``TransientError``: the API answers 503 and the queue redelivers, where a raw
    driver error would be a 500. SQLAlchemy drops the pool's connections made before the
    loss (told so here when the socket itself failed), so the next request connects
    afresh."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # a refused or reset connect can surface as the OS's own error, which SQLAlchemy
        # passes through without its handle_error hook
        return _unavailable_on_os_error(dialect.connect)(*cargs, **cparams)

    @event.listens_for(engine, "handle_error")
    def _transient(context: Any) -> None:
        error = context.original_exception
        lost = context.is_disconnect or isinstance(
            context.sqlalchemy_exception, exc.OperationalError | exc.InterfaceError
        )
        if isinstance(error, OSError):  # ConnectionError and TimeoutError among them
            # the socket's own error (a reset read): SQLAlchemy takes only the driver's
            # errors for a lost connection, and would pool this one for the next caller
            lost = context.is_disconnect = True
        if lost or _sqlstate(error)[:2] in UNAVAILABLE_SQLSTATE_CLASSES:
            raise TransientError(f"the job store is unavailable: {error}") from error


def _unavailable_on_os_error(connect: Any) -> Any:
    def connecting(*args: Any, **kwargs: Any) -> Any:
        try:
            return connect(*args, **kwargs)
        except OSError as error:
            raise TransientError(f"the job store is unavailable: {error}") from error

    return connecting


# PostgreSQL's error classes worth trying again: 08 connection exception, 57 operator
# intervention (shutting down, starting up: 57P01-57P03), 40 transaction rollback (a
# deadlock or a serialization failure: the server rolled the transaction back)
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "40")


def _sqlstate(error: BaseException) -> str:
    """pg8000 carries the server's error fields as a dict (``C``: the SQLSTATE)."""
    fields = error.args[0] if error.args else None
    return str(fields.get("C", "")) if isinstance(fields, dict) else ""


def parse_timestamps_natively(engine: Engine) -> None:
    """Have pg8000 read ``timestamp`` and ``timestamptz`` values with the C-implemented
    ``datetime.fromisoformat``; what it cannot read (infinity, BC, years past 9999)
    still goes to pg8000's own converter, so every value reads as before."""
    from pg8000 import converters

    def reader(fallback: Any) -> Any:
        def read(text: str) -> Any:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                return fallback(text)

        return read

    timestamp, timestamptz = (
        reader(converters.timestamp_in),
        reader(converters.timestamptz_in),
    )

    @event.listens_for(engine, "connect")
    def _register(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.register_in_adapter(converters.TIMESTAMP, timestamp)
        dbapi_conn.register_in_adapter(converters.TIMESTAMPTZ, timestamptz)


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Test a connection on checkout if it was idle for ``idle_seconds``; a dead one makes
    the pool discard it and connect afresh (SQLAlchemy's ``DisconnectionError`` rule)."""

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
            # the stock pg8000 ping opens a transaction; left open, it would swallow the
            # autocommit statements that follow (a no-op for pg8000_prepared's ping)
            dbapi_conn.rollback()
        except Exception as error:
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error
