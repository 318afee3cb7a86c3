"""The hot statements (a job's submit, its transitions, the read of one job), compiled
once and run on the driver's connection.

``Connection.execute`` does, on every call, work whose result depends on the statement
alone: its cache key, an execution context, the compiled parameters looked up by name,
result metadata. For the statements a job runs on its submit, claim and finish that was
0.13-0.22 ms of CPU a statement on the developers' 2-core machine, 30-35% of the
submit's ``create_job`` (``python -m benchmarks store`` measures it).
``DirectStatement`` does that work once, for one dialect: the SQL text, the bind names
in the driver's positional order with their type processors and fixed values, the
result's column names with theirs. ``first`` then binds, executes through
the dialect's ``do_execute`` (the prepared-statement path of ``pg8000_dialect.py``) and
reads one row.

The statement runs on the ``Connection`` it is given, so the pool, the isolation level
and the transaction are SQLAlchemy's as usual (it begins one as ``execute`` would); an
error goes through the connection's own handling (``handle_error`` hooks such as
``unavailable_is_transient``, invalidation of a lost connection, SQLAlchemy's exception
classes), so a caller sees what ``execute`` would raise. Statements whose text depends
on their values (expanding ``IN`` lists, literal-rendered parameters) are refused. The
engine's ``before_cursor_execute``/``after_cursor_execute`` events (and its ``echo``) do
not see these statements; nothing here listens to them.
``tests/integration/test_direct_statements.py`` holds it to ``execute`` on both
PostgreSQL dialects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

_REQUIRED = object()


class DirectStatement:
    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: a positional paramstyle is needed")
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a statement whose text depends on its values is not direct")
        self._dialect = dialect
        self.sql: str = compiled.string
        processors = compiled._bind_processors
        if any(compiled.binds[name].callable is not None for name in compiled.positiontup):
            raise ValueError("a parameter whose value is computed at execution is not direct")
        self._binds: list[tuple[str, Callable[[Any], Any] | None, Any]] = [
            (
                name,
                processors.get(name),
                _REQUIRED if compiled.binds[name].required else compiled.binds[name].value,
            )
            for name in compiled.positiontup
        ]
        self._result_columns = compiled._result_columns
        # a column's processor may depend on the type the server sends (its OID): found
        # from the first result's description
        self._columns: list[tuple[str, Callable[[Any], Any] | None]] | None = None

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        """The driver's positional parameters for ``values`` (by bind name)."""
        given = []
        for name, process, fixed in self._binds:
            value = values[name] if fixed is _REQUIRED else fixed
            given.append(value if process is None else process(value))
        return given

    def first(self, conn: Connection, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Execute on ``conn``; the first row (by column name), or None for no row."""
        parameters = self.parameters(values)
        if conn.get_transaction() is None:
            # as ``execute`` autobegins: else ``commit()`` would find nothing to commit
            # and the pool's reset would roll the statement back
            conn.begin()
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = None
        try:
            cursor = dbapi_connection.cursor()
            self._dialect.do_execute(cursor, self.sql, parameters, None)
            row = cursor.fetchone()
            columns = self._columns or self._read_columns(cursor.description)
        except Exception as error:
            conn._handle_dbapi_exception(error, self.sql, parameters, cursor, None)
        if row is None:
            return None
        return {
            name: value if process is None else process(value)
            for (name, process), value in zip(columns, row, strict=True)
        }

    def _read_columns(
        self, description: Sequence[tuple[Any, ...]]
    ) -> list[tuple[str, Callable[[Any], Any] | None]]:
        columns = [
            (column.keyname, column.type._cached_result_processor(self._dialect, described[1]))
            for column, described in zip(self._result_columns, description, strict=True)
        ]
        self._columns = columns
        return columns


class DirectStatements:
    """One dialect's direct statements, each compiled the first time it is asked for
    (keyed by the statement object: the callers build theirs once, ``functools.cache``)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[ClauseElement, DirectStatement] = {}

    def __getitem__(self, statement: ClauseElement) -> DirectStatement:
        found = self._compiled.get(statement)
        if found is None:
            # two threads may both compile it first: the same result, either kept
            found = self._compiled[statement] = DirectStatement(statement, self._dialect)
        return found
