"""The two ways to run a transition of ``transitions.py``: one PostgreSQL statement of
data-modifying CTEs, or SQLite statements in one transaction. Chosen once per engine
(``runner_for``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    cast,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from quantrun.adapters.sql.direct import DirectStatements
from quantrun.adapters.sql.schema import job_events, jobs, outbox
from quantrun.adapters.sql.transitions import (
    CREATE_COLUMNS,
    EVENT_COLUMNS,
    OUTBOX_COLUMNS,
    SQL,
    Bind,
    counted_submit,
    create_statements,
    guard,
    released_quota,
)
from quantrun.domain.jobs import INITIAL_STATUS

# a writer that keeps moving the job between our read and our write (SQLite)
RACE_RETRIES = 5


class TransitionRunner(Protocol):
    def run(self, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The moved row (its columns and ``from_status``), or None when nothing moved."""
        ...

    def create(self, params: dict[str, Any]) -> bool:
        """Count a new job toward its user's quotas and insert it, its ``submitted`` event
        and (with the outbox) its outbox row; False (nothing written) when a quota is full."""
        ...

    def run_in(self, conn: Connection, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """``run`` inside the caller's transaction (its other writes commit with it)."""
        ...

    def create_sharded(self, params: dict[str, Any], shards: list[dict[str, Any]]) -> bool:
        """``create`` for a sharded job, which is not queued itself, and its shards, each
        queued (outbox rows) but counted toward no quota: one transaction."""
        ...


class PostgresRunner:
    """Every transition as one statement, in autocommit, run direct (``direct.py``)."""

    def __init__(self, engine: Engine, *, outbox: bool) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._outbox = outbox
        self._direct = DirectStatements(engine.dialect)

    def run(self, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        with self._autocommit.connect() as conn:
            return self.run_in(conn, name, params)

    def run_in(self, conn: Connection, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        return self._direct[pg_statement(name, self._outbox)].first(conn, params)

    def create(self, params: dict[str, Any]) -> bool:
        with self._autocommit.connect() as conn:
            created = self._direct[pg_create_statement(self._outbox)].first(conn, params)
            return created is not None

    def create_sharded(self, params: dict[str, Any], shards: list[dict[str, Any]]) -> bool:
        with self._engine.begin() as conn:
            if self._direct[pg_create_statement(False)].first(conn, params) is None:
                return False
            for statement in create_statements(self._outbox):
                conn.execute(statement, shards)
        return True


@functools.cache
def pg_statement(name: str, with_outbox: bool) -> Any:
    t = SQL[name]
    rule = t.rule
    where = [guard(rule)]
    if len(rule.sources) > 1:
        previous = (
            select(jobs.c.id, jobs.c.status, jobs.c.lease_owner)
            .where(jobs.c.id == Bind.job_id)
            .with_for_update()
            .cte("previous")
        )
        # the row by its key as well as through the join: a generic plan made without
        # statistics (a new or fast-growing table) otherwise found it through the status
        # index, reading every queued job on each claim
        where.append(jobs.c.id == previous.c.id)
        from_status: Any = previous.c.status
        owner: Any = previous.c.lease_owner
    else:
        (only,) = rule.sources
        from_status, owner = literal(only.value, String), literal(None, String)
    moved = (
        update(jobs)
        .where(*where)
        .values(**t.values())
        .returning(*t.columns(), from_status.label("from_status"), owner.label("from_owner"))
        .cte("moved")
    )
    statement = select(*moved.c)
    if rule.records_event:
        reason = t.reason(moved.c, moved.c.from_owner)
        event = select(moved.c.id, Bind.now, moved.c.from_status, moved.c.status, reason)
        if not rule.event_on_same_status:
            event = event.where(moved.c.from_status != moved.c.status)
        statement = statement.add_cte(
            insert(job_events).from_select(EVENT_COLUMNS, event).cte("event")
        )
    if with_outbox and rule.enqueues:
        row = select(moved.c.id, Bind.now, literal(0, Integer))
        statement = statement.add_cte(insert(outbox).from_select(OUTBOX_COLUMNS, row).cte("queued"))
    if rule.ends_job:
        # a shard is not counted toward its user's quota (its job is)
        user = select(moved.c.user_id).where(moved.c.parent_id.is_(None)).scalar_subquery()
        statement = statement.add_cte(released_quota(user).cte("released"))
    return statement


@functools.cache
def pg_create_statement(with_outbox: bool) -> Any:
    """The quota upsert, and the job with its event (and outbox row) only if it counted
    the job: one statement. Without it no row comes back."""
    counted = counted_submit(pg_insert).cte("counted")
    # typed: in INSERT ... SELECT a parameter takes no type from its column
    values = [cast(Bind.of(name), jobs.c[name].type) for name in CREATE_COLUMNS]
    new_job = (
        insert(jobs)
        .from_select(CREATE_COLUMNS, select(*values).where(exists(select(counted.c.user_id))))
        .returning(jobs.c.id, jobs.c.created_at)
        .cte("new_job")
    )
    event = select(
        new_job.c.id,
        new_job.c.created_at,
        literal(None, String),
        literal(INITIAL_STATUS.value, String),
        literal("submitted", String),
    )
    statement = select(new_job.c.id).add_cte(
        insert(job_events).from_select(EVENT_COLUMNS, event).cte("new_event")
    )
    if with_outbox:
        row = select(new_job.c.id, new_job.c.created_at, literal(0, Integer))
        queued = insert(outbox).from_select(OUTBOX_COLUMNS, row)
        statement = statement.add_cte(queued.cte("new_outbox_row"))
    return statement


@dataclass(frozen=True)
class SqliteStatements:
    previous: Any
    update: Any
    event: Any
    outbox: Any
    release: Any


@functools.cache
def sqlite_statements(name: str) -> SqliteStatements:
    t = SQL[name]
    where = guard(t.rule)
    reason = t.reason(jobs.c, Bind.previous_owner)
    event = select(jobs.c.id, Bind.now, Bind.previous, jobs.c.status, reason).where(
        jobs.c.id == Bind.job_id
    )
    return SqliteStatements(
        previous=select(jobs.c.status, jobs.c.lease_owner).where(where),
        update=update(jobs)
        .where(where, jobs.c.status == Bind.previous)
        .values(**t.values())
        .returning(*t.columns()),
        event=insert(job_events).from_select(EVENT_COLUMNS, event),
        outbox=insert(outbox).from_select(
            OUTBOX_COLUMNS, select(Bind.job_id, Bind.now, literal(0, Integer))
        ),
        release=released_quota(
            select(jobs.c.user_id)
            .where(jobs.c.id == Bind.job_id, jobs.c.parent_id.is_(None))
            .scalar_subquery()
        ),
    )


class SqliteRunner:
    """Every transition as a read, a guarded UPDATE and its inserts in one transaction."""

    def __init__(self, engine: Engine, *, outbox: bool) -> None:
        self._engine = engine
        self._outbox = outbox

    def run(self, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        for _ in range(RACE_RETRIES):
            with self._engine.begin() as conn:
                moved = self._attempt(conn, name, params)
            if moved is not _RACED:
                return moved  # type: ignore[return-value]
        return None

    def run_in(self, conn: Connection, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        for _ in range(RACE_RETRIES):
            moved = self._attempt(conn, name, params)
            if moved is not _RACED:
                return moved  # type: ignore[return-value]
        return None

    def _attempt(self, conn: Connection, name: str, params: dict[str, Any]) -> object:
        rule = SQL[name].rule
        s = sqlite_statements(name)
        found = conn.execute(s.previous, params).first()
        if found is None:
            return None
        previous = found.status
        given = {**params, "p_previous": previous, "p_previous_owner": found.lease_owner}
        row = conn.execute(s.update, given).first()
        if row is None:
            return _RACED  # another writer moved the job in between: look again
        moved = {**row._mapping, "from_status": previous, "from_owner": found.lease_owner}
        if rule.records_event and (rule.event_on_same_status or previous != row.status):
            conn.execute(s.event, given)
        if self._outbox and rule.enqueues:
            conn.execute(s.outbox, given)
        if rule.ends_job:
            conn.execute(s.release, given)
        return moved

    def create(self, params: dict[str, Any]) -> bool:
        with self._engine.begin() as conn:
            if conn.execute(_sqlite_counted(), params).first() is None:
                return False
            for statement in create_statements(self._outbox):
                conn.execute(statement, params)
        return True

    def create_sharded(self, params: dict[str, Any], shards: list[dict[str, Any]]) -> bool:
        with self._engine.begin() as conn:
            if conn.execute(_sqlite_counted(), params).first() is None:
                return False
            for statement in create_statements(False):
                conn.execute(statement, params)
            for statement in create_statements(self._outbox):
                conn.execute(statement, shards)
        return True


_RACED = object()


@functools.cache
def _sqlite_counted() -> Any:
    return counted_submit(sqlite_insert)


def runner_for(engine: Engine, *, outbox: bool) -> TransitionRunner:
    """The dialect is chosen here, once."""
    if engine.dialect.name == "postgresql":
        return PostgresRunner(engine, outbox=outbox)
    return SqliteRunner(engine, outbox=outbox)
