"""The state store: the only owner of the database. Every query of the project lives here.

``Store.open(url)`` builds the engine, applies the SQLite pragmas and runs the Alembic migrations. Work is
done in transactions: ``with store.write() as tx:`` (SQLite ``BEGIN IMMEDIATE``: the write lock is taken up
front, so a read-then-write never fails half way with "database is locked") or ``with store.read() as tx:``
(plain deferred ``BEGIN``; in WAL mode readers never wait for the writer). The transaction commits when
the block ends normally and rolls back on an exception. Several ``Tx`` methods combined in one block are
atomic together, which is how a development and its outbox rows are recorded at once (invariant 1).

Values crossing the API are frozen dataclasses or domain types, never live ORM objects; every datetime
goes in and comes out timezone-aware UTC. The same code runs on PostgreSQL (``postgresql+psycopg://``).

This module holds the connection and the feed side (feeds, items, meta); the story side (reducer and deadline
state, developments, the outbox) is in :mod:`monitor.store.story`, mixed into :class:`Tx`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, event, func, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from monitor.config.masking import mask_database_url
from monitor.config.schema import DEFAULT_DATABASE_URL, FeedConfig
from monitor.domain import DeliveryStatus, Item
from monitor.errors import StoreError
from monitor.store import models as m
from monitor.store.locking import migration_lock, sqlite_file
from monitor.store.migrations import LOCATION
from monitor.store.models import (
    FEED_FIELDS,
    DeadlineRow,
    DevelopmentRecord,
    FeedRow,
    OutboxRow,
    ThreadRow,
    dumps,
    feed_row,
    item_from_row,
    loads,
)
from monitor.store.story import StoryQueries, chunks, dialect_insert, rowcount

__all__ = ["DeadlineRow", "DevelopmentRecord", "FeedRow", "OutboxRow", "Store", "ThreadRow", "Tx", "database_unusable"]
__all__ += ["dialect_insert", "rowcount"]  # helpers now in monitor.store.story, still importable from here

_BEGIN_OPTION = "monitor_begin"
_MIGRATION_LOCK = 0x6D6F6E69  # PostgreSQL advisory lock id serialising concurrent migrations ("moni")


# The newest migration under store/migrations/versions (a test keeps the two equal): a database at it needs no
# migration, which Store.open checks with one query instead of importing Alembic.
HEAD_REVISION = "0004"


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
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield Tx(session)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """One read transaction (deferred ``BEGIN``): a consistent snapshot; writes are not meant here."""
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield Tx(session)

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
class Tx(StoryQueries):
    """The queries of one ``Session`` transaction: feeds, items and meta here, the story side from the mixin."""

    # ------------------------------------------------------------------ feeds
    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> None:
        """Make the feed table match the config, keeping the state of feeds already known.

        New feeds are due at ``now``. A changed URL is a new source: validators, the redirect target and the
        seed flag are cleared and it is due at once. ``enabled`` follows the config; feeds no longer in the
        config are disabled (rows are kept: their items and history refer to them).
        """
        known = {r.id: r for r in self._execute(select(m.FEED.c.id, m.FEED.c.url, m.FEED.c.enabled))}
        for feed in feeds:
            row = known.pop(feed.id, None)
            reason = None if feed.enabled else "disabled in config"
            if row is None:
                self._execute(
                    m.FEED.insert().values(
                        id=feed.id, url=feed.url, enabled=feed.enabled, disabled_reason=reason, next_poll_at=now
                    )
                )
                continue
            values: dict[str, Any] = {"enabled": feed.enabled, "disabled_reason": reason}
            if row.url != feed.url:
                values.update(
                    url=feed.url, current_url=None, etag=None, last_modified=None, body_sha256=None,
                    conditional_supported=None, seeded=False, next_poll_at=now,
                )  # fmt: skip
            self._execute(update(m.FEED).where(m.FEED.c.id == feed.id).values(**values))
        for feed_id in known:
            self._execute(
                update(m.FEED)
                .where(m.FEED.c.id == feed_id)
                .values(enabled=False, disabled_reason="removed from config")
            )

    def feeds(self) -> list[FeedRow]:
        return [feed_row(r) for r in self._execute(select(m.FEED).order_by(m.FEED.c.id))]

    def feed(self, feed_id: str) -> FeedRow | None:
        row = self._execute(select(m.FEED).where(m.FEED.c.id == feed_id)).first()
        return None if row is None else feed_row(row)

    def due_feeds(self, now: datetime) -> list[FeedRow]:
        """Enabled feeds whose next poll time has come, the most overdue first."""
        due = or_(m.FEED.c.next_poll_at.is_(None), m.FEED.c.next_poll_at <= now)
        query = select(m.FEED).where(m.FEED.c.enabled.is_(True), due).order_by(m.FEED.c.next_poll_at, m.FEED.c.id)
        return [feed_row(r) for r in self._execute(query)]

    def update_feed(self, feed_id: str, **values: Any) -> None:
        """Set health/validator fields (names as in FeedRow). Unknown names or feed raise KeyError."""
        unknown = set(values) - FEED_FIELDS
        if unknown:
            raise KeyError(f"unknown feed fields {sorted(unknown)}; known: {sorted(FEED_FIELDS)}")
        if values and rowcount(self._execute(update(m.FEED).where(m.FEED.c.id == feed_id).values(**values))) == 0:
            raise KeyError(f"unknown feed {feed_id!r}")

    def update_feeds(self, changes: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """``update_feed`` for many feeds at once: one executemany per set of field names (a poll pass's feeds
        with nothing new share one), so PostgreSQL gets a batch, not a round trip per feed. One change per feed:
        two changes of one feed in different groups would apply in group order."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for feed_id, values in changes:
            unknown = set(values) - FEED_FIELDS
            if unknown:
                raise KeyError(f"unknown feed fields {sorted(unknown)}; known: {sorted(FEED_FIELDS)}")
            groups.setdefault(tuple(sorted(values)), []).append({"feed_key": feed_id, **values})
        for names, rows in groups.items():
            if names:
                statement = update(m.FEED).where(m.FEED.c.id == bindparam("feed_key"))
                self.session.connection().execute(statement.values({n: bindparam(n) for n in names}), rows)

    # ------------------------------------------------------------------ items
    def insert_items(self, items: Sequence[Item], *, seed: bool, limit: int | None = None,
                     over_limit: list[Item] | None = None, fresh: bool = False) -> list[Item]:
        """Store items; return only those not seen before, in the given order.

        Seen before: a stored ``(feed_id, item_id)``, or a stored ``(feed_id, link)`` where the link names one
        entry: a feed that changes an entry's guid (a CMS move, a revision in the guid) while its canonical link
        stays the same is not news again. Where several entries share a link (in this batch or in the store: a
        live blog's posts, a homepage link on every entry), the link identifies nothing and only the id counts.
        An item seen again (even with an edited title or a new guid) is not stored again and keeps its first
        text; its stored row's ``last_seen`` moves to this poll. ``seed`` marks the items of a feed's first
        poll (known, never news). The poll time is the items' ``fetched_at``. The feed's ``items_seen``
        counter is the caller's (``update_feed``).

        New means inserted by this call, so of two writers racing with the same items (PostgreSQL, or
        ``monitor poll`` beside the daemon) exactly one gets them as new. ``limit`` caps how many new items
        are stored: the newest; the others are not stored (so not seen), are appended to ``over_limit`` when
        given, and come up again in a later poll. ``fresh``: the caller knows these feeds have no stored item
        (a first poll), so the lookups of stored ids and links are skipped; a row a concurrent writer stored
        meanwhile is still skipped by the insert itself.
        """
        if not items:
            return []
        known = set() if fresh else self._existing_keys({(i.feed_id, i.item_id) for i in items})
        by_link = {} if fresh else self._identifying_links(items)
        candidates: dict[tuple[str, str], Item] = {}
        for item in items:
            key = (item.feed_id, item.item_id)
            if key in known or key in candidates:  # the same entry twice in one body counts once
                continue
            if item.link is not None and (item.feed_id, item.link) in by_link:  # a known entry with a new guid
                continue
            candidates[key] = item
        if limit is not None and len(candidates) > limit:
            newest = sorted(candidates.items(), key=lambda pair: pair[1].published, reverse=True)[:limit]
            kept = {key for key, _ in newest}
            if over_limit is not None:
                over_limit.extend(item for key, item in candidates.items() if key not in kept)
            candidates = {key: item for key, item in candidates.items() if key in kept}
        inserted = self._insert_rows(list(candidates.values()), seed)
        if not fresh:  # a fresh feed's rows were all just inserted with this poll's last_seen
            self._mark_listed(items, by_link)
        return [item for key, item in candidates.items() if key in inserted]

    def _insert_rows(self, items: Sequence[Item], seed: bool) -> set[tuple[str, str]]:
        """Insert ``items``; return the keys this statement inserted."""
        if not items:
            return set()
        rows = [dict(
            feed_id=item.feed_id, item_id=item.item_id, title=item.title, summary=item.summary,
            link=item.link, outlet=item.outlet, source_kind=item.source_kind.value, published=item.published,
            first_seen=item.fetched_at, last_seen=item.fetched_at, is_seed=seed,
        ) for item in items]  # fmt: skip
        # One multi-row statement (executemany, batched by SQLAlchemy), not one INSERT per item: a 1,000-feed
        # cold poll took half the time. RETURNING names the rows really inserted: an item a concurrent writer
        # committed after _existing_keys looked is skipped by ON CONFLICT, and is not new here.
        statement = (
            dialect_insert(self._dialect, m.ITEM).on_conflict_do_nothing().returning(m.ITEM.c.feed_id, m.ITEM.c.item_id)
        )
        return {(r.feed_id, r.item_id) for r in self.session.execute(statement, rows)}

    def _identifying_links(self, items: Sequence[Item]) -> dict[tuple[str, str], str]:
        """``(feed_id, link) -> item_id`` of stored items whose link names one entry, here and in the store."""
        ids_by_link: dict[tuple[str, str], set[str]] = {}
        for item in items:
            if item.link is not None:
                ids_by_link.setdefault((item.feed_id, item.link), set()).add(item.item_id)
        stored: dict[tuple[str, str], list[str]] = {}
        col = m.ITEM.c
        for feed_id in sorted({feed_id for feed_id, _ in ids_by_link}):
            links = sorted(link for (f, link), ids in ids_by_link.items() if f == feed_id and len(ids) == 1)
            for chunk in chunks(links):
                # per feed, so the (feed_id, item_id) index narrows the scan to one feed's items
                query = select(col.link, col.item_id).where(col.feed_id == feed_id, col.link.in_(chunk))
                for row in self._execute(query):
                    stored.setdefault((feed_id, row.link), []).append(row.item_id)
        return {key: ids[0] for key, ids in stored.items() if len(ids) == 1}

    def _mark_listed(self, items: Sequence[Item], by_link: Mapping[tuple[str, str], str]) -> None:
        """Move ``last_seen`` of every stored row this listing names (by id, or by link for a new guid)."""
        for feed_id in sorted({i.feed_id for i in items}):
            listed = [i for i in items if i.feed_id == feed_id]
            seen_at = max(i.fetched_at for i in listed)
            ids = {i.item_id for i in listed} | {by_link.get((feed_id, i.link or ""), i.item_id) for i in listed}
            for chunk in chunks(sorted(ids)):
                self._execute(
                    update(m.ITEM)
                    .where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.item_id.in_(chunk))
                    .values(last_seen=seen_at)
                )

    def _existing_keys(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        # per feed: SQLite answers ``(feed_id, item_id) IN (VALUES ..)`` with a scan of the whole index
        found: set[tuple[str, str]] = set()
        for feed_id in sorted({f for f, _ in keys}):
            for chunk in chunks(sorted(i for f, i in keys if f == feed_id)):
                query = select(m.ITEM.c.item_id).where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.item_id.in_(chunk))
                found.update((feed_id, item_id) for item_id in self.session.scalars(query))
        return found

    def touch_items(self, feed_id: str, now: datetime) -> int:
        """A poll answered "not modified": the items of the last body are still listed; move their last_seen."""
        latest = select(func.max(m.ITEM.c.last_seen)).where(m.ITEM.c.feed_id == feed_id).scalar_subquery()
        statement = update(m.ITEM).where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.last_seen == latest)
        return rowcount(self._execute(statement.values(last_seen=now)))

    def item(self, feed_id: str, item_id: str) -> Item | None:
        row = self._execute(select(m.ITEM).where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.item_id == item_id)).first()
        return None if row is None else item_from_row(row)

    def recent_items(
        self, since: datetime, *, feed_ids: Collection[str] | None = None, limit: int | None = None
    ) -> list[Item]:
        """Items published at or after ``since``, oldest first (``limit``: the newest that many)."""
        query = select(m.ITEM).where(m.ITEM.c.published >= since)
        if feed_ids is not None:
            query = query.where(m.ITEM.c.feed_id.in_(list(feed_ids)))
        query = query.order_by(m.ITEM.c.published.desc(), m.ITEM.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [item_from_row(r) for r in reversed(self._execute(query).all())]

    def count_items(self, feed_id: str | None = None) -> int:
        query = select(func.count()).select_from(m.ITEM)
        if feed_id is not None:
            query = query.where(m.ITEM.c.feed_id == feed_id)
        return int(self.session.scalar(query) or 0)

    def prune_items(self, older_than: datetime, keep_keys: Collection[tuple[str, str]] = ()) -> int:
        """Delete items no poll has listed since ``older_than``; returns how many.

        Kept whatever their age: evidence of any stored development (its sources), ``keep_keys``, and the
        items of each feed's latest stored listing (a feed answering "not modified" for a month still lists
        them; pruned, they would come back as news when the feed next changes).
        """
        keep = set(keep_keys) | self._evidence_keys()
        other = m.ITEM.alias("other")
        latest = select(func.max(other.c.last_seen)).where(other.c.feed_id == m.ITEM.c.feed_id).scalar_subquery()
        rows = self._execute(select(m.ITEM.c.id, m.ITEM.c.feed_id, m.ITEM.c.item_id).where(
            m.ITEM.c.last_seen < older_than, m.ITEM.c.last_seen < latest
        ))  # fmt: skip
        doomed = [r.id for r in rows if (r.feed_id, r.item_id) not in keep]
        for chunk in chunks(doomed):
            self._execute(m.ITEM.delete().where(m.ITEM.c.id.in_(chunk)))
        if doomed:  # the polls keep items_seen by adding what they store; pruning recounts
            stored = select(func.count()).select_from(m.ITEM).where(m.ITEM.c.feed_id == m.FEED.c.id)
            self._execute(update(m.FEED).values(items_seen=stored.scalar_subquery()))
        return len(doomed)

    def _evidence_keys(self) -> set[tuple[str, str]]:
        keys: set[tuple[str, str]] = set()
        for text in self.session.scalars(select(m.DEVELOPMENT.c.sources_json)):
            keys.update((s.get("feed_id", ""), s.get("item_id", "")) for s in loads(text))
        return keys

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
