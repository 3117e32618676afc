"""The state store: the only owner of the database (every query of the project lives in this package).

``Store.open(url)`` builds the engine, applies the SQLite pragmas and runs the Alembic migrations. Work is
done in transactions: ``with store.write() as tx:`` (SQLite ``BEGIN IMMEDIATE``: the write lock is taken up
front, so a read-then-write never fails half way with "database is locked") or ``with store.read() as tx:``
(plain deferred ``BEGIN``; in WAL mode readers never wait for the writer). The transaction commits when
the block ends normally and rolls back on an exception. Several ``Tx`` methods combined in one block are
atomic together, which is how a development and its outbox rows are recorded at once (invariant 1).

Values crossing the API are frozen dataclasses or domain types, never live ORM objects; every datetime
goes in and comes out timezone-aware UTC. The same code runs on PostgreSQL (``postgresql+psycopg://``).

This module holds the connection, the transactions, meta and the outbox claims; the queries are mixed into
:class:`Tx` from one module per job: feeds (:mod:`monitor.store.feeds`), items (:mod:`monitor.store.items`) and
the story side (reducer and deadline state, developments, the outbox: :mod:`monitor.store.story`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from monitor.config.masking import mask_database_url
from monitor.config.schema import DEFAULT_DATABASE_URL
from monitor.domain import DeliveryStatus
from monitor.errors import StoreError
from monitor.store import models as m
from monitor.store.feeds import FeedQueries
from monitor.store.items import ItemQueries
from monitor.store.locking import migration_lock, sqlite_file
from monitor.store.migrations import LOCATION
from monitor.store.models import DeadlineRow, DevelopmentRecord, FeedRow, OutboxRow, ThreadRow, dumps
from monitor.store.story import StoryQueries, dialect_insert, rowcount

__all__ = ["DeadlineRow", "DevelopmentRecord", "FeedRow", "OutboxRow", "Store", "ThreadRow", "Tx", "database_unusable"]
__all__ += ["dialect_insert", "rowcount"]  # helpers now in monitor.store.story, still importable from here

_BEGIN_OPTION = "monitor_begin"
_MIGRATION_LOCK = 0x6D6F6E69  # PostgreSQL advisory lock id serialising concurrent migrations ("moni")


# The newest migration under store/migrations/versions (a test keeps the two equal): a database at it needs no
# migration, which Store.open checks with one query instead of importing Alembic.
HEAD_REVISION = "0005"


# ---------------------------------------------------------------------------------------------- store
class Store:
    """A database handle. Thread-safe; open one per process and share it."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self._url = url
        self._writer = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})

    @classmethod
    def open(cls, url: str = DEFAULT_DATABASE_URL) -> Store:
        """Connect, configure and migrate to the newest schema. Raises StoreError naming the masked URL."""
        try:
            engine = _create_engine(url)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StoreError(f"cannot open database {mask_database_url(url)}: {_brief(exc, url)}") from None
        store = cls(engine, url)
        try:
            store._migrate()
        except Exception as exc:  # any failure here means the database is unusable; say which and why
            engine.dispose()
            raise StoreError(f"cannot open or migrate database {store.url}: {_brief(exc, url)}") from None
        return store

    @property
    def url(self) -> str:
        """The database URL for display, password masked."""
        return mask_database_url(self._url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for the daemon's locks and for tests; queries belong in this module."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commit on success, rollback on error."""
        with self._writer.begin() as connection:  # Core, not an ORM Session: the store maps no objects
            yield Tx(connection)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """One read transaction (deferred ``BEGIN``): a consistent snapshot; writes are not meant here."""
        with self._engine.begin() as connection:
            yield Tx(connection)

    def schema_version(self) -> str | None:
        """The Alembic revision the database is at."""
        from alembic.runtime.migration import MigrationContext

        with self._engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def optimize(self) -> None:
        """Housekeeping: refresh planner statistics, and on SQLite fold the WAL back into the database."""
        with self._engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA optimize")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                conn.exec_driver_sql("ANALYZE")
            conn.commit()

    def _migrate(self) -> None:
        """Upgrade to head, one process at a time: on SQLite under an exclusive file lock beside the database
        (taken before the first connection, which switches a fresh file to WAL), on PostgreSQL under an
        advisory lock in the migration transaction. The version is checked before the write lock is taken,
        so an up-to-date open does not wait for writers. A database already at ``HEAD_REVISION`` is recognised
        with one query, without importing Alembic (a read-only command pays nothing for migrations)."""
        if self._at_head():
            return
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory


        config = Config()
        config.set_main_option("script_location", str(LOCATION))
        head = ScriptDirectory.from_config(config).get_current_head()
        with migration_lock(sqlite_file(self._engine.url)):
            with self._engine.connect() as conn:
                if MigrationContext.configure(conn).get_current_revision() == head:
                    return
            with self._writer.connect() as conn, conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                config.attributes["connection"] = conn
                command.upgrade(config, "head")


    def _at_head(self) -> bool:
        """Whether the database's recorded revision is this code's newest (False when it cannot tell)."""
        try:
            with self._engine.connect() as conn:
                found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        except SQLAlchemyError:
            return False  # a fresh database (no version table yet) or a damaged one: Alembic decides
        return found == [HEAD_REVISION]


def database_unusable(exc: BaseException) -> bool:
    """True if ``exc`` says the database itself failed, not the data handed to it.

    Store errors surface in two ways: ``Store.open`` raises :class:`StoreError`; inside a transaction the
    driver's error comes through as SQLAlchemy's. Of those, ``OperationalError`` (server gone or restarting,
    connection refused, disk full, I/O error, "database is locked" after the busy timeout),
    ``InterfaceError`` (a broken connection) and the pool's timeout mean the database is down or unusable:
    every other write would fail the same way. ``IntegrityError``, ``DataError`` and the like are about the
    rows being written, which came from some input. Callers that contain a bad input (one feed) let the
    former propagate."""
    return isinstance(exc, StoreError | OperationalError | InterfaceError | PoolTimeoutError)


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
    kwargs: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or each connection would see an empty database
    elif not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per connection: take BEGIN away from the sqlite3 module (SQLAlchemy's documented recipe), then pragmas.

    busy_timeout makes a writer wait for the lock instead of failing; WAL lets readers and one writer work
    at once; synchronous=NORMAL is safe with WAL (a power cut may lose the last commits, never corrupt).
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # the write engine asks for BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails at
    # once with "database is locked" when another writer got in between, whatever the busy timeout
    conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


def _brief(exc: BaseException, url: str) -> str:
    """A one-line reason without SQL, parameters or the password."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return mask_database_url(reason[0] if reason else type(exc).__name__).replace(url, mask_database_url(url))


# ------------------------------------------------------------------------------------------ transaction
class Tx(FeedQueries, ItemQueries, StoryQueries):
    """The queries of one transaction: feeds (:mod:`monitor.store.feeds`), items
    (:mod:`monitor.store.items`), the story side (:mod:`monitor.store.story`), and meta and outbox claims here."""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction (``SAVEPOINT``) inside this one: when the block raises, what it wrote is rolled
        back and the exception goes on, while the enclosing transaction stays usable (on PostgreSQL a failed
        statement would otherwise abort it). What it wrote commits with the enclosing transaction, not before."""
        with self.session.begin_nested():
            yield

    # ------------------------------------------------------------------ meta
    def set_meta(self, key: str, value: str, now: datetime) -> None:
        self._upsert(m.META, {"key": key}, {"value": value, "updated_at": now})

    def get_meta(self, key: str) -> tuple[str, datetime] | None:
        row = self._execute(select(m.META.c.value, m.META.c.updated_at).where(m.META.c.key == key)).first()
        return None if row is None else (row.value, row.updated_at)

    # ------------------------------------------------------------------ outbox claims
    # Claiming and recording are in monitor.store.story (claim_due, finish_delivery); these two keep a claim
    # honest while it is worked on and put back one whose claimant is gone (see monitor.app.deliver).
    def renew_claim(self, outbox_id: int, worker_id: str, now: datetime,
                    targets: Sequence[Mapping[str, Any]] | None = None) -> bool:
        """Just before a send: True if ``worker_id`` still holds the row's claim, which then counts from ``now``
        (a claimant working through a batch is not stale), and stores ``targets`` (the results so far, so targets
        that already accepted the message are not sent it again after a crash). The row's next attempt becomes
        ``now`` too: should this send be lost with its worker, the row is due again from when it was last tried,
        behind the rows that worker had not started on. False: the claim was released or taken over, and this
        worker must not send the row."""
        values: dict[str, Any] = {"claimed_at": now, "next_attempt_at": now}
        if targets is not None:
            values["targets_json"] = dumps(list(targets))
        statement = update(m.OUTBOX).where(
            m.OUTBOX.c.id == outbox_id,
            m.OUTBOX.c.claimed_by == worker_id,
            m.OUTBOX.c.status == DeliveryStatus.SENDING.value,
        )
        return rowcount(self._execute(statement.values(**values))) == 1

    def release_claim(self, row: OutboxRow, due_at: datetime, reason: str) -> bool:
        """Put a row left ``sending`` back to ``retrying``, due at ``due_at``, keeping its per-target results.

        A compare-and-set on the claim as ``row`` shows it (claimant and claim time): a claim renewed or taken
        over since that row was read is left alone. False then."""
        claimed_at = m.OUTBOX.c.claimed_at
        statement = update(m.OUTBOX).where(
            m.OUTBOX.c.id == row.id,
            m.OUTBOX.c.status == DeliveryStatus.SENDING.value,
            m.OUTBOX.c.claimed_by == row.claimed_by if row.claimed_by is not None else m.OUTBOX.c.claimed_by.is_(None),
            claimed_at == row.claimed_at if row.claimed_at is not None else claimed_at.is_(None),
        )
        values = {"status": DeliveryStatus.RETRYING.value, "next_attempt_at": due_at, "last_error": reason}
        return rowcount(self._execute(statement.values(**values))) == 1
