"""The light read path of ``monitor status`` and ``monitor feeds``: what they show, in a handful of plain queries.

:class:`StatusReader` runs a few SQL statements in one read transaction, without the ORM models, SQLModel or
Alembic (importing those costs more than the whole report: ``monitor status`` is meant to answer in well under a
second on 5,000 feeds). Two ways in:

- :meth:`StatusReader.open` on a database URL. A plain SQLite file URL (``sqlite:///path``) is read through the
  standard ``sqlite3`` module, a plain PostgreSQL one (``postgresql+psycopg://user:pass@host:port/db?options``)
  through ``psycopg`` itself, with the connection arguments SQLAlchemy's psycopg dialect would give it; any other
  URL (several hosts, a SQLite URI filename or query, ...) through SQLAlchemy Core's engine with ``text()`` (no
  ORM; importing SQLAlchemy alone costs as much as the rest of ``monitor status``). It returns None, reading
  nothing, when the database is not at
  :data:`SCHEMA_REVISION` (older: it must be migrated first; newer: these queries may not fit it) or cannot be
  read at all: the caller then opens the full :class:`monitor.store.db.Store`, which migrates or reports the
  failure as every other command does.
- :meth:`StatusReader.on_store` on an open ``Store``: the same queries on its engine (tests, embedding code).

Values come out as in the store's row types: datetimes timezone-aware UTC, booleans ``bool``, JSON decoded. A
stored value that cannot be read (damaged text where a time belongs) raises :class:`~monitor.errors.StoreError`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from monitor.config.masking import mask_database_url
from monitor.errors import StoreError

if TYPE_CHECKING:
    from monitor.store.db import Store

SCHEMA_REVISION = "0005"
"""The migration these queries were written for. It must equal ``monitor.store.db.HEAD_REVISION`` (a test checks
it): when a migration changes the tables, check the queries below and move this with it."""

Run = Callable[[str, Mapping[str, Any]], Sequence[Sequence[Any]]]
"""Run one SQL statement (``:name`` parameters) and return its rows as tuples."""

_DAMAGED = ("the database cannot be read ({detail}); if the file is damaged, restore a backup or move it aside "
            "to start afresh")
_FEED_COLUMNS = ("id", "url", "current_url", "enabled", "disabled_reason", "last_status", "consecutive_failures",
                 "last_attempt_at", "last_success_at", "next_poll_at", "last_error", "items_seen",
                 "conditional_supported", "notice")


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """The stored columns of a feed that status and ``monitor feeds`` show (a subset of ``store.db.FeedRow``)."""

    id: str
    url: str
    current_url: str | None
    enabled: bool
    disabled_reason: str | None
    last_status: int | None
    consecutive_failures: int
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    last_error: str | None
    items_seen: int
    conditional_supported: bool | None
    notice: str | None


@dataclass(frozen=True, slots=True)
class ThreadNow:
    """A thread's stored state; ``development_key`` only when that development is still stored."""

    thread_id: str
    state: str
    since: datetime | None
    development_key: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An outbox row that gave up (status ``dead``)."""

    id: int
    channel_id: str
    development_key: str
    last_error: str | None


def plain_sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL, resolved as ``store.locking.sqlite_file`` resolves it (absolute, symlinks
    and ``..`` followed, relative to the working directory); None for any other URL: another backend, an
    in-memory database, a URI filename (``file:``), query parameters or %-escapes. Needs no SQLAlchemy."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            database = url[len(prefix):]
            break
    else:
        return None
    if database in ("", ":memory:") or database.startswith("file:") or any(c in database for c in "?#%"):
        return None
    return os.path.realpath(database)


def plain_psycopg_params(url: str) -> dict[str, Any] | None:
    """The ``psycopg.connect`` keywords of a plain ``postgresql+psycopg://`` URL, as SQLAlchemy's psycopg dialect
    builds them from its parsed URL (``host``, ``dbname``, ``user``, ``password``, ``port`` when given and not
    empty, the user, password and database %-decoded; then each query parameter, blank ones left out); None for
    any other URL: another driver, several hosts, an IPv6 address, a %-escape in the host, a query parameter given
    twice. Needs no SQLAlchemy."""
    prefix = "postgresql+psycopg://"
    if not url.startswith(prefix):
        return None
    rest, _, query = url[len(prefix):].partition("?")
    authority, _, database = rest.partition("/")
    if authority.count("@") > 1 or "#" in url:
        return None
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        userinfo, hostport = "", authority
    if any(c in hostport for c in ",[]%"):
        return None
    host, colon, port = hostport.partition(":")
    if colon and port and not port.isdigit():
        return None
    user, _, password = userinfo.partition(":")
    params: dict[str, Any] = {}
    for key, value in (("host", host), ("dbname", unquote(database)), ("user", unquote(user)),
                       ("password", unquote(password))):
        if value:
            params[key] = value
    if port:
        params["port"] = int(port)
    pairs = parse_qsl(query)
    if len({key for key, _ in pairs}) != len(pairs):
        return None
    params.update(pairs)
    return params


def _utc(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime: SQLite holds UTC wall-time text, PostgreSQL ``timestamptz``."""
    if value is None:
        return None
    if isinstance(value, str):
        try:  # the store's text: UTC wall time without an offset; parsed with its zone at once (status reads 15k)
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            value = datetime.fromisoformat(value)  # one with an offset after all (or damage: raises)
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


class StatusReader:
    """The queries of ``monitor status`` in one read transaction. Use as a context manager, or call ``close``."""

    def __init__(self, run: Run, close: Callable[[], None] = lambda: None) -> None:
        self._run = run
        self._close = close

    # ------------------------------------------------------------------------------------- opening
    @classmethod
    def open(cls, url: str) -> StatusReader | None:
        """A reader on the database at ``url``, in a read transaction; None when it is not at
        :data:`SCHEMA_REVISION` or cannot be read (then open the full store instead: it migrates, or says why
        the database cannot be used)."""
        path = plain_sqlite_file(url)
        params = None if path is not None else plain_psycopg_params(url)
        if path is not None:
            reader = cls._sqlite(path)
        elif params is not None:
            reader = cls._psycopg(url, params)
        else:
            reader = cls._engine(url)
        try:
            current = [row[0] for row in reader._run("SELECT version_num FROM alembic_version", {})]
        except Exception:  # no version table (a fresh file), not a database, damaged: the full store decides
            reader.close()
            return None
        if current != [SCHEMA_REVISION]:
            reader.close()
            return None
        return reader

    @classmethod
    def _sqlite(cls, path: str) -> StatusReader:
        import sqlite3
        from urllib.parse import quote

        # mode=rw: a missing file is an error, never created empty; autocommit mode, so BEGIN is ours: one
        # deferred read transaction, a consistent snapshot (in WAL mode it never waits for the writer); the 30 s
        # busy timeout is the store's
        try:
            conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error:
            return cls(_failing)
        try:
            conn.execute("BEGIN")
        except sqlite3.Error:
            conn.close()
            return cls(_failing)

        def run(sql: str, params: Mapping[str, Any]) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        def close() -> None:
            conn.rollback()  # nothing was written; ends the read transaction
            conn.close()

        return cls(run, close)

    @classmethod
    def _psycopg(cls, url: str, params: Mapping[str, Any]) -> StatusReader:
        import psycopg

        try:
            conn = psycopg.connect(**params)  # not autocommit: the first query opens the read transaction
        except psycopg.Error as exc:  # the server does not answer: say so now rather than wait for it twice
            raise _cannot_open(url, exc) from None

        def run(sql: str, values: Mapping[str, Any]) -> list[Any]:
            return conn.execute(_pyformat(sql), values).fetchall()

        def close() -> None:
            conn.rollback()  # nothing was written; ends the read transaction
            conn.close()

        return cls(run, close)

    @classmethod
    def _engine(cls, url: str) -> StatusReader:
        from sqlalchemy import create_engine

        try:
            engine = create_engine(url)
        except Exception:  # a URL SQLAlchemy cannot use: the full store says why
            return cls(_failing)
        try:
            conn = engine.connect()
        except Exception as exc:  # the server does not answer: say so now rather than wait for it twice
            engine.dispose()
            raise _cannot_open(url, exc) from None
        conn.begin()

        def close() -> None:
            conn.close()
            engine.dispose()

        return cls(_core_runner(conn), close)

    @classmethod
    @contextmanager
    def on_store(cls, store: Store) -> Iterator[StatusReader]:
        """The same queries on an open store's engine, in one read transaction."""
        with store.engine.connect() as conn, conn.begin():
            yield cls(_core_runner(conn))

    def close(self) -> None:
        self._close()

    def __enter__(self) -> StatusReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- queries
    def meta(self, key: str) -> tuple[str, datetime] | None:
        """A meta row's value and when it was written (``Tx.get_meta``)."""
        rows = self._run("SELECT value, updated_at FROM meta WHERE key = :key", {"key": key})
        if not rows:
            return None
        value, updated_at = rows[0]
        moment = self._time(updated_at)
        if moment is None:  # NOT NULL in the schema
            raise StoreError(_DAMAGED.format(detail=f"meta {key!r} has no time"))
        return value, moment

    def feeds(self) -> list[FeedHealth]:
        """Every stored feed (also one no longer configured), by id."""
        rows = self._run(f"SELECT {', '.join(_FEED_COLUMNS)} FROM feed ORDER BY id", {})
        out = []
        for (feed_id, url, current_url, enabled, disabled_reason, last_status, failures, attempt, success, next_poll,
             last_error, items_seen, conditional, notice) in rows:
            out.append(FeedHealth(
                feed_id, url, current_url, bool(enabled), disabled_reason, last_status, failures,
                self._time(attempt), self._time(success), self._time(next_poll), last_error, items_seen,
                _flag(conditional), notice))  # fmt: skip
        return out

    def threads(self, story_id: str) -> dict[str, ThreadNow]:
        """A story's stored thread states by thread id, each with the development that moved it there when that
        development is still stored."""
        rows = self._run(
            "SELECT t.thread_id, t.state, t.since, d.key FROM thread_state t "
            "LEFT JOIN development d ON d.key = t.development_key WHERE t.story_id = :story",
            {"story": story_id},
        )
        return {thread_id: ThreadNow(thread_id, state, self._time(since), key)
                for thread_id, state, since, key in rows}  # fmt: skip

    def deadline_state(self, story_id: str, deadline_id: str) -> dict[str, Any] | None:
        """A deadline's stored state (the JSON ``story.deadlines.DeadlineState.from_json`` reads), or None."""
        rows = self._run("SELECT state_json FROM deadline_state WHERE story_id = :story AND deadline_id = :deadline",
                         {"story": story_id, "deadline": deadline_id})  # fmt: skip
        return None if not rows or rows[0][0] is None else json.loads(rows[0][0])

    def delivery_counts(self) -> dict[str, int]:
        """How many outbox rows are in each status."""
        return {status: count for status, count in
                self._run("SELECT status, COUNT(*) FROM outbox GROUP BY status", {})}  # fmt: skip

    def dead_letters(self) -> list[DeadLetter]:
        """The outbox rows that gave up, oldest first."""
        rows = self._run("SELECT id, channel_id, development_key, last_error FROM outbox WHERE status = :dead "
                         "ORDER BY id", {"dead": "dead"})  # fmt: skip
        return [DeadLetter(*row) for row in rows]

    @staticmethod
    def _time(value: Any) -> datetime | None:
        try:
            return _utc(value)
        except (ValueError, TypeError) as exc:
            raise StoreError(_DAMAGED.format(detail=f"a stored time is damaged: {exc}")) from None


def _core_runner(conn: Any) -> Run:
    """``Run`` on a SQLAlchemy Core connection."""
    from sqlalchemy import text

    def run(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        return [tuple(row) for row in conn.execute(text(sql), dict(params))]

    return run


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=32)
def _pyformat(sql: str) -> str:
    """The queries' ``:name`` parameters in psycopg's style, ``%(name)s``."""
    return _NAMED.sub(r"%(\1)s", sql)


def _cannot_open(url: str, exc: BaseException) -> StoreError:
    """``cannot open database <masked URL>: <the driver's first line>``, the password masked everywhere."""
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    masked = mask_database_url(url)
    return StoreError(f"cannot open database {masked}: {mask_database_url(reason).replace(url, masked)}")


def _failing(sql: str, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
    raise StoreError("not connected")
