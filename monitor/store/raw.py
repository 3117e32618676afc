"""The poll's hottest statements, run straight on the driver's cursor.

A new item costs about ten small statements (look its id up, insert it, save the story's changed parts, bump the
revision, record the feed's poll). Through SQLAlchemy's ``Connection.execute`` each paid 50-80 us of Python
around 10-30 us in the driver (execution context, parameter and result set-up, events): more than half of a
one-item poll's store time. :class:`Raw` keeps what SQLAlchemy is used for here - the SQL of each dialect and
each column type's conversion (``UTCDateTime``, booleans on SQLite) - computed once per dialect from the same
statement objects, and runs the statement on the transaction's own DBAPI connection. What stays the same:

- the transaction: the cursor is the connection's, inside the transaction ``Store.write`` began;
- conversions: each parameter goes through its type's bind processor, as SQLAlchemy would apply it (a naive
  datetime is refused the same way, as a ``StatementError``);
- errors: a driver error comes out as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), so
  ``database_unusable`` and every caller read it as before; a lost connection is invalidated;
- observers: ``before_cursor_execute``/``after_cursor_execute`` listeners on the engine see these statements.

Results come back as the driver gives them (``run``: the cursor), or converted by each selected column's type
as SQLAlchemy would (``rows``: datetimes aware, booleans on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, StatementError

__all__ = ["Raw", "column_values", "run_sql"]

Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order the SQL binds them (positional drivers)
    positional: bool
    convert: Mapping[str, Convert]  # parameter name -> its type's bind processor (only where there is one)
    columns: tuple[tuple[str, Convert | None], ...]  # a SELECT's columns: key, and its type's result processor


class Raw:
    """One SQLAlchemy statement, compiled once per dialect and run on the DBAPI cursor (see the module doc).

    Every parameter is a named ``bindparam`` (an UPDATE or INSERT names its columns' values in ``.values()``);
    parameters are given by bind name, as to ``Connection.execute``.
    """

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, connection: Connection) -> _Compiled:
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            done = self._statement.compile(dialect=dialect)
            if done.escaped_bind_names or done.literal_execute_params or done.post_compile_params:
                raise ValueError("Raw runs statements whose parameters bind as named, one value each")
            convert = {}
            for name, bind in done.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    convert[name] = processor
            names = tuple(done.positiontup or ()) if done.positional else tuple(done.binds)
            columns = tuple((column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
                            for column in getattr(self._statement, "selected_columns", ()))
            compiled = _Compiled(done.string, names, bool(done.positional), convert, columns)
            self._by_dialect[dialect.name] = compiled
        return compiled

    def run(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Execute with ``params``; returns the DBAPI cursor (``fetchall``, ``fetchone``, ``rowcount``)."""
        compiled = self._compiled(connection)
        return _send(connection, compiled.sql, _bound(compiled, params), many=False)

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Execute a SELECT with ``params``; each row a dict by column key, values converted by the columns' types."""
        compiled = self._compiled(connection)
        cursor = _send(connection, compiled.sql, _bound(compiled, params), many=False)
        columns = compiled.columns
        return [{key: read(value) if read else value for (key, read), value in zip(columns, row, strict=True)}
                for row in cursor.fetchall()]

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row (the driver's executemany: one call, and on PostgreSQL a pipeline)."""
        if not rows:
            return
        compiled = self._compiled(connection)
        _send(connection, compiled.sql, [_bound(compiled, row) for row in rows], many=True)


def _bound(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    convert = compiled.convert
    try:
        if compiled.positional:
            return tuple(convert[n](params[n]) if n in convert else params[n] for n in compiled.names)
        return {n: convert[n](params[n]) if n in convert else params[n] for n in compiled.names}
    except (TypeError, ValueError, KeyError) as exc:  # a conversion refused a value: SQLAlchemy's error, as before
        raise StatementError(str(exc), compiled.sql, dict(params), exc) from exc


def column_values(connection: Connection, columns: Sequence[Any], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The values of ``rows`` (by column name), row after row, each converted by its column type's bind processor
    on the connection's dialect: the parameters of a multi-row statement written for ``run_sql``."""
    dialect = connection.dialect
    convert = [(column.name, column.type.dialect_impl(dialect).bind_processor(dialect)) for column in columns]
    try:
        return [processor(row[name]) if processor else row[name] for row in rows for name, processor in convert]
    except (TypeError, ValueError) as exc:  # a conversion refused a value: SQLAlchemy's error, as before
        raise StatementError(str(exc), None, None, exc) from exc


def run_sql(connection: Connection, sql: str, values: Sequence[Any], *, many: bool = False) -> Any:
    """Run SQL written for the driver (``?`` placeholders; ``%s`` is substituted on PostgreSQL) with values that
    need no conversion (text, numbers, lists on PostgreSQL); returns the DBAPI cursor."""
    if connection.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    return _send(connection, sql, values, many=many)


def _send(connection: Connection, sql: str, params: Any, *, many: bool) -> Any:
    dbapi_connection = connection.connection  # the transaction's own DBAPI connection
    cursor = dbapi_connection.cursor()
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(connection, cursor, sql, params, None, many)
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except connection.dialect.loaded_dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, dbapi_connection.dbapi_connection, cursor)
        cursor.close()
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, connection.dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=connection.dialect) from exc
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(connection, cursor, sql, params, None, many)
    return cursor
