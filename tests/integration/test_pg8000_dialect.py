"""The round-trip-saving pg8000 dialect against real PostgreSQL: the same results and
errors as SQLAlchemy's stock pg8000 dialect, fewer round trips, stale statements
evicted, and dead idle connections replaced on checkout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, exc, text

from quantrun.adapters.sql import pg8000_dialect
from quantrun.adapters.sql.engine import PG_DRIVER, make_engine, ping_when_idle


class CountingSocket:
    """Wraps pg8000's buffered socket: every flush sends what the client waits on, so
    flushes count round trips."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        self._sock.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@pytest.fixture
def engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    stock = create_engine(postgres_url)  # postgresql+pg8000://
    assert stock.dialect.driver == "pg8000"
    prepared = make_engine(postgres_url)
    assert prepared.dialect.driver == "pg8000_prepared"
    with stock.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE t (id int PRIMARY KEY, name text, doc jsonb, at timestamptz, "
                "x double precision)"
            )
        )
    yield stock, prepared
    stock.dispose()
    prepared.dispose()


def _workload(engine: Engine, offset: int) -> list[Any]:
    at = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    seen: list[Any] = []
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text("INSERT INTO t VALUES (:id, :name, CAST(:doc AS jsonb), :at, :x)"),
                {
                    "id": offset + i,
                    "name": f"o'neil {i}",
                    "doc": '{"a": [1, 2]}',
                    "at": at,
                    "x": i / 3,
                },
            )
        conn.execute(
            text("INSERT INTO t (id, name) VALUES (:id, :name)"),
            [{"id": offset + 10, "name": None}, {"id": offset + 11, "name": "%s %%"}],
        )
        updated = conn.execute(
            text("UPDATE t SET x = x * 2 WHERE id >= :lo AND id < :hi"),
            {"lo": offset, "hi": offset + 2},
        )
        seen.append(updated.rowcount)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id - :o, name, doc, at, x FROM t "
                "WHERE id - :o BETWEEN 0 AND 999 ORDER BY id"
            ),
            {"o": offset},
        ).all()
        seen.append([tuple(r) for r in rows])
        seen.append(conn.execute(text("SELECT count(*) FROM t WHERE id >= 1000000")).scalar())
    return seen


def test_results_match_the_stock_dialect(engines: tuple[Engine, Engine]) -> None:
    stock, prepared = engines
    assert _workload(prepared, 1000) == _workload(stock, 0)
    # twice: the second run goes through the statements prepared by the first
    assert _workload(prepared, 2000) == _workload(stock, 3000)


def test_errors_are_the_stock_classes_and_the_connection_stays_usable(
    engines: tuple[Engine, Engine],
) -> None:
    _, prepared = engines
    insert = text("INSERT INTO t (id, name) VALUES (:id, :name)")
    with prepared.begin() as conn:
        conn.execute(insert, {"id": 1, "name": "a"})
    for _ in range(2):  # unprepared, then prepared
        with (
            pytest.raises(exc.IntegrityError, match="duplicate key"),
            prepared.begin() as conn,
        ):
            conn.execute(insert, {"id": 1, "name": "b"})
    with pytest.raises(exc.ProgrammingError, match="syntax error"), prepared.connect() as conn:
        conn.execute(text("SELEC id FROM t WHERE id = :id"), {"id": 1})
    with prepared.connect() as conn:
        assert conn.execute(text("SELECT name FROM t WHERE id = :id"), {"id": 1}).scalar() == "a"


def _round_trips(engine: Engine, statement: Any, params: dict[str, Any], *, begin: bool) -> int:
    """Flushes from checkout to checkin (the pool's reset included)."""
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        counter = CountingSocket(raw._sock)
        raw._sock = counter
        if begin:
            with conn.begin():
                conn.execute(statement, params)
        else:
            conn.execute(statement, params)
    raw._sock = counter._sock
    return counter.flushes


def test_round_trips_per_transaction(engines: tuple[Engine, Engine]) -> None:
    stock, prepared = engines
    prepared.dispose()
    prepared = create_engine(f"{PG_DRIVER}://{str(prepared.url).split('://', 1)[1]}", pool_size=1)
    autocommit = prepared.execution_options(isolation_level="AUTOCOMMIT")
    update = text("UPDATE t SET x = :x WHERE id = :id")
    select = text("SELECT x FROM t WHERE id = :id")
    _round_trips(prepared, update, {"x": 1.0, "id": 1}, begin=True)  # prepares
    _round_trips(prepared, select, {"id": 1}, begin=False)
    # BEGIN + statement in one write, then COMMIT; a read is BEGIN + SELECT, then ROLLBACK
    assert _round_trips(prepared, update, {"x": 2.0, "id": 1}, begin=True) == 2
    assert _round_trips(prepared, select, {"id": 1}, begin=False) == 2
    # autocommit: the statement alone, and switching the pooled connection costs nothing
    assert _round_trips(autocommit, update, {"x": 2.5, "id": 1}, begin=False) == 1
    assert _round_trips(autocommit, select, {"id": 1}, begin=False) == 1
    # the stock dialect: BEGIN, Parse, Describe, Bind+Execute, then COMMIT as three more
    assert _round_trips(stock, update, {"x": 3.0, "id": 1}, begin=True) == 7
    with prepared.connect() as conn:
        conn.execution_options(isolation_level="SERIALIZABLE")
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "serializable"
    with prepared.connect() as conn:  # reset on return, as with the stock dialect
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    prepared.dispose()


def test_a_statement_invalidated_by_a_schema_change_is_prepared_again(
    engines: tuple[Engine, Engine],
) -> None:
    stock, prepared = engines
    query = text("SELECT * FROM t WHERE id > :id")
    with prepared.connect() as conn:
        assert conn.execute(query, {"id": 0}).all() == []
        conn.rollback()  # release the table for the ALTER
        with stock.begin() as admin:
            admin.execute(text("ALTER TABLE t ADD COLUMN extra int"))
        with pytest.raises(exc.DBAPIError, match="cached plan must not change result type"):
            conn.execute(query, {"id": 0})
        conn.rollback()
        assert conn.execute(query, {"id": 0}).keys() == ["id", "name", "doc", "at", "x", "extra"]


@pytest.mark.parametrize("driver", [PG_DRIVER, "postgresql+pg8000"])
def test_a_connection_dropped_while_idle_is_replaced_on_checkout(
    postgres_url: str, driver: str
) -> None:
    engine = create_engine(f"{driver}://{postgres_url.split('://', 1)[1]}", pool_size=1)
    ping_when_idle(engine, idle_seconds=0.05)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    time.sleep(0.1)
    with engine.connect() as conn:  # pinged and alive: the same connection
        raw: Any = conn.connection.dbapi_connection
        assert not raw._in_transaction  # the stock ping's transaction was closed
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
    with create_engine(postgres_url).begin() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    time.sleep(0.1)
    with engine.connect() as conn:  # pinged, found dead, reconnected: no error here
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()


def test_the_statement_cache_is_bounded(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, prepared = engines
    monkeypatch.setattr(pg8000_dialect, "STATEMENT_CACHE", 4)
    with prepared.connect() as conn:
        for i in range(10):
            value = conn.execute(text(f"SELECT {i} + :n"), {"n": 1}).scalar()
            assert value == i + 1
        raw = conn.connection.dbapi_connection
        names = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    assert len(pg8000_dialect._caches[raw]) == 4
    assert names == 4


def test_statements_that_vary_with_their_values_are_not_cached(
    engines: tuple[Engine, Engine],
) -> None:
    _, prepared = engines
    table = sa.table("t", sa.column("id"), sa.column("name"))
    with prepared.begin() as conn:
        conn.execute(sa.insert(table), [{"id": i, "name": str(i)} for i in range(6)])
    with prepared.connect() as conn:
        for n in range(1, 6):
            ids = list(range(n))
            found = conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids))).scalars()
            assert sorted(found) == ids
        raw = conn.connection.dbapi_connection
        cached = list(pg8000_dialect._caches.get(raw, {}))
    assert not any("IN (" in sql for sql in cached), cached


@pytest.mark.filterwarnings("ignore:tzname BC identified")  # pg8000's reading of BC
@pytest.mark.parametrize("prepared", [True, False], ids=["pg8000_prepared", "stock"])
def test_timestamps_read_as_pg8000_reads_them(postgres_url: str, prepared: bool) -> None:
    """make_engine parses timestamps with datetime.fromisoformat; every value reads as
    pg8000's own converter reads it, including those fromisoformat cannot read (infinity,
    BC, years past 9999: pg8000 gives them as text), except a UTC offset with seconds,
    which pg8000 cannot read (it gives the text) and this reads right."""
    values = [
        "2026-11-22 09:45:13.123456",
        "2026-11-22 09:45:13.1",
        "2026-11-22 09:45:13",
        "1999-12-31 23:59:59.99999",
        "1850-06-01 00:00:00",  # local mean time in Kathmandu: +05:41:16
        "infinity",
        "-infinity",
        "0044-03-15 12:00:00 BC",
        "12000-01-01 00:00:00",
    ]
    zones = ["UTC", "Asia/Kolkata", "America/Los_Angeles"]
    query = text(
        "SELECT CAST(v AS timestamp), CAST(v AS timestamp) AT TIME ZONE z "
        "FROM unnest(CAST(:values AS text[])) AS v, unnest(CAST(:zones AS text[])) AS z"
    )
    params = {"values": values, "zones": zones}
    stock = create_engine(postgres_url)
    native = make_engine(postgres_url, prepared_statements=prepared)
    try:
        with native.connect() as conn:
            conn.exec_driver_sql("SET TIME ZONE 'Asia/Kathmandu'")
            # timestamptz reads in the session's zone: +05:45, and +05:41:16 before 1920
            got = conn.execute(query, params).all()
        with stock.connect() as conn:
            conn.exec_driver_sql("SET TIME ZONE 'Asia/Kathmandu'")
            want = conn.execute(query, params).all()
    finally:
        stock.dispose()
        native.dispose()
    assert len(got) == len(values) * len(zones) == len(want)
    assert any(isinstance(row[0], datetime) for row in got)
    assert any(isinstance(row[0], str) for row in got)  # beyond Python's datetime
    differ = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
    lmt = timezone(timedelta(hours=5, minutes=41, seconds=16))
    assert differ and all(
        g[0] == w[0] and isinstance(w[1], str) and w[1].endswith("+05:41:16") for g, w in differ
    )
    # 1850-06-01 00:00 UTC is 05:41:16 in Kathmandu's local mean time
    assert (datetime(1850, 6, 1), datetime(1850, 6, 1, 5, 41, 16, tzinfo=lmt)) in got
