"""SQLAlchemy's pg8000 dialect with fewer round trips to PostgreSQL.

pg8000 (pure Python, fixed by the design) talks the extended query protocol one message
group at a time: a parameterised statement costs three round trips (Parse, Describe,
Bind+Execute), ``commit()`` three more (it goes through the same path), and the implicit
``BEGIN`` of a transaction one. On Cloud SQL, or on a busy machine, round trips are most
of a short transaction's time. This dialect keeps pg8000's wire format and type handling
and changes only how the messages are grouped:

- each connection keeps its statements prepared (named, an LRU of ``STATEMENT_CACHE``
  per connection), so a statement seen before is one Bind+Execute round trip; left to
  pg8000's own path are statements whose text varies with their values (``IN`` lists,
  which would fill the cache with one entry per length) and those with more than
  ``MAX_CACHED_PARAMS`` parameters;
- the ``BEGIN`` a transaction needs goes out in the same write as its first statement;
- ``COMMIT``, ``ROLLBACK`` and the pool's liveness ping use the simple protocol (one
  round trip each);
- switching a pooled connection to ``AUTOCOMMIT`` and back to the server's default
  isolation level is a flag on the connection, not two statements.

A transaction of one statement is thus two round trips instead of seven, and a single
statement in autocommit one. Parameter types
come from the statement text (SQLAlchemy renders casts for pg8000), so a statement
prepared once is valid for any values. A prepared statement that the server dropped or
that a schema change invalidated is evicted, and the error is raised as usual.

It relies on pg8000's connection internals (pinned in ``requirements.lock``);
``tests/integration/test_pg8000_dialect.py`` holds it to the stock dialect's results.
Selected by ``make_engine`` and ``cloudsql_engine`` as ``postgresql+pg8000_prepared``.
"""

from __future__ import annotations

import functools
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pg8000.converters import make_params
from pg8000.core import SYNC_MSG, Context, _flush, _write
from pg8000.dbapi import IntegrityError, InterfaceError, ProgrammingError, convert_paramstyle
from pg8000.exceptions import DatabaseError
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

STATEMENT_CACHE = 128
MAX_CACHED_PARAMS = 64
# SQLSTATEs meaning a prepared statement is gone or stale: invalid_sql_statement_name,
# feature_not_supported ("cached plan must not change result type").
_STALE_STATEMENT = {"26000", "0A000"}

_Prepared = tuple[bytes, Any, Any]  # statement name, result columns, column decoders
_caches: weakref.WeakKeyDictionary[Any, OrderedDict[str, _Prepared]] = weakref.WeakKeyDictionary()
# connections whose session isolation level was set away from the server default
_custom_level: weakref.WeakSet[Any] = weakref.WeakSet()


@functools.lru_cache(maxsize=1024)
def _numbered(statement: str) -> str:
    """``%s`` placeholders as ``$n`` (pg8000 scans the text character by character in
    Python on every execute; the result depends on the text alone)."""
    return str(convert_paramstyle("format", statement, ())[0])


def _prepared(conn: Any, sql: str) -> _Prepared:
    cache = _caches.get(conn)
    if cache is None:
        cache = _caches[conn] = OrderedDict()
    entry: _Prepared | None = cache.get(sql)
    if entry is not None:
        cache.move_to_end(sql)
        return entry
    if len(cache) >= STATEMENT_CACHE:
        _, (old_name, _, _) = cache.popitem(last=False)
        conn.close_prepared_statement(old_name)
    entry = cache[sql] = conn.prepare_statement(sql, ())
    return entry


def _evict(conn: Any, sql: str) -> None:
    # the name stays reserved on the connection, so a stale name is never reused
    cache = _caches.get(conn)
    if cache is not None:
        cache.pop(sql, None)


def _expands(context: Any) -> bool:
    compiled = getattr(context, "compiled", None)
    return compiled is not None and any(b.expanding for b in compiled.binds.values())


def _begin_if_needed(conn: Any) -> list[Context]:
    """Queue ``BEGIN`` (unflushed, so it goes out with the statement) when the connection
    needs a transaction and has none; the reply to read for it, if any."""
    if conn._in_transaction or conn.autocommit:
        return []
    conn.send_QUERY("begin transaction")
    return [Context("begin transaction")]


def _read_replies(conn: Any, contexts: Sequence[Context]) -> None:
    """Read one reply per context, in order, even when an earlier one failed (the socket
    must be left at a message boundary); then raise the first error."""
    first_error: Exception | None = None
    for context in contexts:
        try:
            conn.handle_messages(context)
        except Exception as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error


def _as_dbapi_error(error: DatabaseError) -> Exception:
    """The exception class pg8000's own cursor raises for a server error (SQLAlchemy maps
    these to its IntegrityError, ProgrammingError, ...)."""
    details = error.args[0] if error.args else None
    code = details.get("C") if isinstance(details, dict) else None
    cls: type[Exception] = ProgrammingError
    if code == "28000":
        cls = InterfaceError
    elif code == "23505":
        cls = IntegrityError
    return cls(details)


def _set_result(cursor: Any, context: Context) -> None:
    cursor._context = context
    cursor._row_iter = iter([] if context.rows is None else context.rows)
    cursor._input_oids = ()


class PreparingPG8000Dialect(PGDialect_pg8000):
    """``postgresql+pg8000_prepared``: see the module docstring."""

    driver = "pg8000_prepared"
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if (
            not parameters
            or len(parameters) > MAX_CACHED_PARAMS
            or cursor._input_oids
            or not isinstance(parameters, tuple | list)
            or _expands(context)
        ):
            if not parameters:
                self.do_execute_no_params(cursor, statement, context)
            else:
                cursor.execute(statement, parameters)
            return
        conn = cursor._c
        sql = _numbered(statement)
        try:
            name, columns, decoders = _prepared(conn, sql)
            result = Context(sql, columns=columns, input_funcs=decoders)
            replies = [*_begin_if_needed(conn), result]
            conn.send_BIND(name, make_params(conn.py_types, parameters))
            conn.send_EXECUTE()
            _write(conn._sock, SYNC_MSG)
            _flush(conn._sock)
            _read_replies(conn, replies)
        except DatabaseError as exc:
            details = exc.args[0] if exc.args else None
            if isinstance(details, dict) and details.get("C") in _STALE_STATEMENT:
                _evict(conn, sql)
            raise _as_dbapi_error(exc) from None
        _set_result(cursor, result)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        conn = cursor._c
        result = Context(statement)
        replies = [*_begin_if_needed(conn), result]
        conn.send_QUERY(statement)
        _flush(conn._sock)
        try:
            _read_replies(conn, replies)
        except DatabaseError as exc:
            raise _as_dbapi_error(exc) from None
        _set_result(cursor, result)

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        # pg8000 runs executemany row by row anyway; each row is now one round trip
        rowcount = 0
        for row in parameters:
            self.do_execute(cursor, statement, row, context)
            rowcount += max(cursor._context.row_count, 0)
        cursor._context.row_count = rowcount

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        level = level.replace("_", " ")
        if level == "AUTOCOMMIT":
            dbapi_connection.autocommit = True
        elif level == self.default_isolation_level and dbapi_connection not in _custom_level:
            dbapi_connection.autocommit = False
        else:
            super().set_isolation_level(dbapi_connection, level)  # type: ignore[no-untyped-call]
            if level == self.default_isolation_level:
                _custom_level.discard(dbapi_connection)
            else:
                _custom_level.add(dbapi_connection)

    def do_commit(self, dbapi_connection: Any) -> None:
        dbapi_connection.execute_simple("commit")

    def do_rollback(self, dbapi_connection: Any) -> None:
        if dbapi_connection._in_transaction:
            dbapi_connection.execute_simple("rollback")

    def do_ping(self, dbapi_connection: Any) -> bool:
        # the simple protocol opens no transaction (the stock ping leaves one open)
        dbapi_connection.execute_simple("SELECT 1")
        return True


registry.register("postgresql.pg8000_prepared", __name__, "PreparingPG8000Dialect")
