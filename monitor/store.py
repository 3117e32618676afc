"""The state store: the only owner of the database. Every query of the project lives here.

``Store.open(url)`` builds the engine, applies the SQLite pragmas and runs the Alembic migrations. Work is
done in transactions: ``with store.write() as tx:`` (SQLite ``BEGIN IMMEDIATE``: the write lock is taken up
front, so a read-then-write never fails half way with "database is locked") or ``with store.read() as tx:``
(plain deferred ``BEGIN``; in WAL mode readers never wait for the writer). The transaction commits when
the block ends normally and rolls back on an exception. Several ``Tx`` methods combined in one block are
atomic together, which is how a development and its outbox rows are recorded at once (invariant 1).

Values crossing the API are frozen dataclasses or domain types, never live ORM objects; every datetime
goes in and comes out timezone-aware UTC. The same code runs on PostgreSQL (``postgresql+psycopg://``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from monitor import models as m
from monitor.config import DEFAULT_DATABASE_URL, FeedConfig, mask_database_url
from monitor.domain import Confidence, DeliveryStatus, Development, Item
from monitor.errors import StoreError
from monitor.models import (
    FEED_FIELDS,
    DeadlineRow,
    DevelopmentRecord,
    FeedRow,
    OutboxRow,
    ThreadRow,
    development_from_row,
    development_values,
    dumps,
    feed_row,
    item_from_row,
    loads,
    outbox_row,
)

__all__ = ["DeadlineRow", "DevelopmentRecord", "FeedRow", "OutboxRow", "Store", "ThreadRow", "Tx"]

_BEGIN_OPTION = "monitor_begin"
_MIGRATION_LOCK = 0x6D6F6E69  # PostgreSQL advisory lock id serialising concurrent migrations ("moni")


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
        """Upgrade to head. Checked first without the write lock, so an up-to-date open does not wait."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        from monitor.migrations import LOCATION

        config = Config()
        config.set_main_option("script_location", str(LOCATION))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self._engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        with self._writer.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


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


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT supporting ``on_conflict_do_nothing/update`` (both SQLite and PostgreSQL have them)."""
    if dialect == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(result.rowcount)


def _brief(exc: BaseException, url: str) -> str:
    """A one-line reason without SQL, parameters or the password."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return mask_database_url(reason[0] if reason else type(exc).__name__).replace(url, mask_database_url(url))


# ------------------------------------------------------------------------------------------ transaction
class Tx:
    """The queries, all running in one transaction of a ``Session``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._dialect = session.get_bind().dialect.name

    def _execute(self, statement: Any) -> Any:
        return self.session.execute(statement)

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

    # ------------------------------------------------------------------ items
    def insert_items(self, items: Sequence[Item], *, seed: bool) -> list[Item]:
        """Store items; return only those not seen before (by ``(feed_id, item_id)``), in the given order.

        An item seen again (even with an edited title) is not new and keeps its first text; its ``last_seen``
        moves to this poll. ``seed`` marks the items of a feed's first poll (known, never news). The poll time is
        the items' ``fetched_at``. The feed's ``items_seen`` counter is the caller's (``update_feed``).
        """
        if not items:
            return []
        keys = {(i.feed_id, i.item_id) for i in items}
        existing = self._existing_keys(keys)
        new: list[Item] = []
        rows: list[dict[str, Any]] = []
        for item in items:
            key = (item.feed_id, item.item_id)
            if key in existing:
                continue
            existing.add(key)  # the same entry twice in one body counts once
            new.append(item)
            rows.append(dict(
                feed_id=item.feed_id, item_id=item.item_id, title=item.title, summary=item.summary,
                link=item.link, outlet=item.outlet, source_kind=item.source_kind.value, published=item.published,
                first_seen=item.fetched_at, last_seen=item.fetched_at, is_seed=seed,
            ))  # fmt: skip
        if rows:
            # One multi-row statement (executemany), not one INSERT per item: ~20x faster on a cold poll.
            # ON CONFLICT DO NOTHING keeps it safe; only the active instance ingests (the instance lock), so
            # "not there before this transaction" is "new".
            self.session.execute(dialect_insert(self._dialect, m.ITEM).on_conflict_do_nothing(), rows)
        for feed_id in {i.feed_id for i in items}:
            seen_at = max(i.fetched_at for i in items if i.feed_id == feed_id)
            ids = [i.item_id for i in items if i.feed_id == feed_id]
            for chunk in _chunks(ids):
                self._execute(
                    update(m.ITEM)
                    .where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.item_id.in_(chunk))
                    .values(last_seen=seen_at)
                )
        return new

    def _existing_keys(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for chunk in _chunks(sorted(keys)):
            query = select(m.ITEM.c.feed_id, m.ITEM.c.item_id).where(
                tuple_(m.ITEM.c.feed_id, m.ITEM.c.item_id).in_(chunk)
            )
            found.update((r.feed_id, r.item_id) for r in self._execute(query))
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
        for chunk in _chunks(doomed):
            self._execute(m.ITEM.delete().where(m.ITEM.c.id.in_(chunk)))
        return len(doomed)

    def _evidence_keys(self) -> set[tuple[str, str]]:
        keys: set[tuple[str, str]] = set()
        for text in self.session.scalars(select(m.DEVELOPMENT.c.sources_json)):
            keys.update((s.get("feed_id", ""), s.get("item_id", "")) for s in loads(text))
        return keys

    # ------------------------------------------------------------------ story, thread and deadline state
    def load_story_state(self, story_id: str) -> dict[str, Any] | None:
        text = self.session.scalar(select(m.STORY_STATE.c.state_json).where(m.STORY_STATE.c.story_id == story_id))
        return None if text is None else loads(text)

    def save_story_state(
        self,
        story_id: str,
        state_json: Mapping[str, Any],
        threads: Mapping[str, tuple[str, datetime | None, str | None]],
        now: datetime,
    ) -> None:
        """Store the reducer's state and each thread's ``(state, since, development_key)``."""
        self._upsert(m.STORY_STATE, {"story_id": story_id}, {"state_json": dumps(state_json), "updated_at": now})
        for thread_id, (state, since, development_key) in threads.items():
            self._upsert(
                m.THREAD_STATE,
                {"story_id": story_id, "thread_id": thread_id},
                {"state": state, "since": since, "development_key": development_key},
            )

    def thread_states(self, story_id: str) -> dict[str, ThreadRow]:
        query = select(m.THREAD_STATE).where(m.THREAD_STATE.c.story_id == story_id)
        return {r.thread_id: ThreadRow(**r._mapping) for r in self._execute(query)}

    def load_deadline_state(self, story_id: str, deadline_id: str) -> dict[str, Any] | None:
        query = select(m.DEADLINE_STATE.c.state_json).where(
            m.DEADLINE_STATE.c.story_id == story_id, m.DEADLINE_STATE.c.deadline_id == deadline_id
        )
        text = self.session.scalar(query)
        return None if text is None else loads(text)

    def save_deadline_state(
        self, story_id: str, deadline_id: str, due_at: datetime, state_json: Mapping[str, Any], now: datetime
    ) -> None:
        self._upsert(
            m.DEADLINE_STATE,
            {"story_id": story_id, "deadline_id": deadline_id},
            {"due_at": due_at, "state_json": dumps(state_json), "updated_at": now},
        )

    def deadline_states(self, story_id: str | None = None) -> list[DeadlineRow]:
        query = select(m.DEADLINE_STATE).order_by(m.DEADLINE_STATE.c.due_at, m.DEADLINE_STATE.c.deadline_id)
        if story_id is not None:
            query = query.where(m.DEADLINE_STATE.c.story_id == story_id)
        return [
            DeadlineRow(r.story_id, r.deadline_id, r.due_at, loads(r.state_json), r.updated_at)
            for r in self._execute(query)
        ]

    # ------------------------------------------------------------------ developments
    def upsert_development(self, dev: Development, now: datetime) -> tuple[bool, Confidence | None]:
        """Insert a development, or update the stored one with the same key.

        Returns ``(is_new, previous_confidence)``. Confidence never goes down: a later version that is only
        reported does not undo a confirmation. ``created_at`` and an acknowledgement are kept.
        """
        values = development_values(dev)
        inserted = dialect_insert(self._dialect, m.DEVELOPMENT).values(
            key=dev.key, created_at=now, updated_at=now, **values
        )
        if self._inserted(inserted):
            return True, None
        stored = self.session.scalar(select(m.DEVELOPMENT.c.confidence).where(m.DEVELOPMENT.c.key == dev.key))
        previous = Confidence(str(stored))
        values["confidence"] = max(previous, dev.confidence, key=lambda c: c.rank).value
        self._execute(update(m.DEVELOPMENT).where(m.DEVELOPMENT.c.key == dev.key).values(updated_at=now, **values))
        return False, previous

    def development(self, key: str) -> Development | None:
        row = self._execute(select(m.DEVELOPMENT).where(m.DEVELOPMENT.c.key == key)).first()
        return None if row is None else development_from_row(row)

    def developments(
        self, story_id: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[Development]:
        """Developments ordered by ``at`` then insertion; with ``limit``, the newest that many."""
        query = select(m.DEVELOPMENT)
        if story_id is not None:
            query = query.where(m.DEVELOPMENT.c.story_id == story_id)
        if since is not None:
            query = query.where(m.DEVELOPMENT.c.at >= since)
        query = query.order_by(m.DEVELOPMENT.c.at.desc(), m.DEVELOPMENT.c.seq.desc())
        if limit is not None:
            query = query.limit(limit)
        return [development_from_row(r) for r in reversed(self._execute(query).all())]

    def count_developments(self, story_id: str | None = None) -> int:
        query = select(func.count()).select_from(m.DEVELOPMENT)
        if story_id is not None:
            query = query.where(m.DEVELOPMENT.c.story_id == story_id)
        return int(self.session.scalar(query) or 0)

    def development_record(self, key_or_seq: str | int) -> DevelopmentRecord | None:
        """Look a development up by key or by its number (``monitor ack 12``)."""
        columns = (m.DEVELOPMENT.c[n] for n in ("seq", "key", "created_at", "updated_at", "acknowledged_at"))
        query = select(*columns)
        row = self._execute(query.where(m.DEVELOPMENT.c.key == str(key_or_seq))).first()
        if row is None and str(key_or_seq).isdigit():
            row = self._execute(query.where(m.DEVELOPMENT.c.seq == int(key_or_seq))).first()
        return None if row is None else DevelopmentRecord(**row._mapping)

    def acknowledge(self, key_or_seq: str | int, now: datetime) -> bool:
        """Mark a development acknowledged (the first time counts). False when there is no such development."""
        record = self.development_record(key_or_seq)
        if record is None:
            return False
        if record.acknowledged_at is None:
            self._execute(update(m.DEVELOPMENT).where(m.DEVELOPMENT.c.seq == record.seq).values(acknowledged_at=now))
        return True

    def is_acknowledged(self, key_or_seq: str | int) -> bool:
        record = self.development_record(key_or_seq)
        return record is not None and record.acknowledged_at is not None

    # ------------------------------------------------------------------ outbox
    def enqueue(
        self,
        development_key: str,
        channel_id: str,
        *,
        confidence: Confidence,
        release_at: datetime,
        now: datetime,
        targets: int | Sequence[str],
        repeat_until_ack: bool = False,
        repeat_seq: int = 0,
        repeat: bool = False,
    ) -> bool:
        """Queue a message; False if this (development, channel, confidence, repeat_seq) is already queued.

        ``targets`` is the number of apprise URLs or their masked labels; each gets a result slot.
        ``repeat=True`` queues one more copy (a critical alert repeating until acknowledged): the next
        ``repeat_seq`` after those queued, marked ``repeat_until_ack``.
        """
        if repeat:
            latest = self.session.scalar(
                select(func.max(m.OUTBOX.c.repeat_seq)).where(
                    m.OUTBOX.c.development_key == development_key,
                    m.OUTBOX.c.channel_id == channel_id,
                    m.OUTBOX.c.confidence == confidence.value,
                )
            )
            repeat_until_ack, repeat_seq = True, (-1 if latest is None else int(latest)) + 1
        labels = [f"#{n}" for n in range(targets)] if isinstance(targets, int) else list(targets)
        slots = [{"target": label, "ok": False, "attempts": 0, "error": None} for label in labels]
        statement = dialect_insert(self._dialect, m.OUTBOX).values(
            development_key=development_key, channel_id=channel_id, status=DeliveryStatus.PENDING.value,
            created_at=now, release_at=release_at, next_attempt_at=release_at, targets_json=dumps(slots),
            confidence=confidence.value, repeat_until_ack=repeat_until_ack, repeat_seq=repeat_seq,
        )  # fmt: skip
        return self._inserted(statement)

    def claim_due(
        self, now: datetime, worker_id: str, limit: int = 50, stale_after: timedelta = timedelta(minutes=5)
    ) -> list[OutboxRow]:
        """Claim due rows for ``worker_id`` by compare-and-set; return only the rows this call won.

        Due: pending or retrying with ``release_at`` and ``next_attempt_at`` passed, or ``sending`` but
        claimed more than ``stale_after`` ago (its worker crashed). Each claim is an UPDATE that repeats
        the due condition, so of two workers racing for a row exactly one sees its UPDATE hit a row.
        A claim counts as an attempt.
        """
        waiting = [DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value]
        due = or_(
            (m.OUTBOX.c.status.in_(waiting)) & (m.OUTBOX.c.release_at <= now) & (m.OUTBOX.c.next_attempt_at <= now),
            (m.OUTBOX.c.status == DeliveryStatus.SENDING.value) & (m.OUTBOX.c.claimed_at <= now - stale_after),
        )
        candidates = self.session.scalars(
            select(m.OUTBOX.c.id).where(due).order_by(m.OUTBOX.c.next_attempt_at, m.OUTBOX.c.id).limit(limit)
        ).all()
        won: list[int] = []
        for outbox_id in candidates:
            claim = update(m.OUTBOX).where(m.OUTBOX.c.id == outbox_id, due).values(
                status=DeliveryStatus.SENDING.value, claimed_by=worker_id, claimed_at=now,
                attempts=m.OUTBOX.c.attempts + 1,
            )  # fmt: skip
            if rowcount(self._execute(claim)) == 1:
                won.append(outbox_id)
        return self._outbox_rows(m.OUTBOX.c.id.in_(won)) if won else []

    def finish_delivery(
        self,
        outbox_id: int,
        worker_id: str,
        *,
        targets: Sequence[Mapping[str, Any]],
        status: DeliveryStatus,
        next_attempt_at: datetime | None = None,
        last_error: str | None = None,
        now: datetime,
    ) -> bool:
        """Record an attempt's outcome, only if the row is still claimed by ``worker_id`` (else False)."""
        values: dict[str, Any] = {"status": status.value, "targets_json": dumps(list(targets))}
        values["last_error"] = last_error
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if status is DeliveryStatus.SENT:
            values["sent_at"] = now
        statement = update(m.OUTBOX).where(
            m.OUTBOX.c.id == outbox_id,
            m.OUTBOX.c.claimed_by == worker_id,
            m.OUTBOX.c.status == DeliveryStatus.SENDING.value,
        )
        return rowcount(self._execute(statement.values(**values))) == 1

    def outbox(
        self, statuses: Collection[DeliveryStatus] | None = None, development_key: str | None = None
    ) -> list[OutboxRow]:
        """Outbox rows, oldest first, optionally only those in ``statuses`` or of one development."""
        condition: Any = True
        if statuses is not None:
            condition = m.OUTBOX.c.status.in_([s.value for s in statuses])
        if development_key is not None:
            condition = (m.OUTBOX.c.development_key == development_key) & condition
        return self._outbox_rows(condition)

    def _outbox_rows(self, condition: Any) -> list[OutboxRow]:
        rows = self._execute(select(m.OUTBOX).where(condition).order_by(m.OUTBOX.c.id))
        return [outbox_row(r) for r in rows]

    # ------------------------------------------------------------------ meta
    def set_meta(self, key: str, value: str, now: datetime) -> None:
        self._upsert(m.META, {"key": key}, {"value": value, "updated_at": now})

    def get_meta(self, key: str) -> tuple[str, datetime] | None:
        row = self._execute(select(m.META.c.value, m.META.c.updated_at).where(m.META.c.key == key)).first()
        return None if row is None else (row.value, row.updated_at)

    # ------------------------------------------------------------------ helpers
    def _inserted(self, statement: Any) -> bool:
        """Run an INSERT that yields to an existing row; True if it inserted.

        RETURNING rather than rowcount: psycopg reports -1 for INSERT .. ON CONFLICT DO NOTHING.
        """
        returning = statement.on_conflict_do_nothing().returning(literal_column("1"))
        return self._execute(returning).first() is not None

    def _upsert(self, table: Any, keys: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        statement = dialect_insert(self._dialect, table).values(**keys, **values)
        self._execute(statement.on_conflict_do_update(index_elements=list(keys), set_=dict(values)))


def _chunks(values: Sequence[Any], size: int = 400) -> Iterator[Sequence[Any]]:
    # keep IN lists under SQLite's bound-parameter limit
    for start in range(0, len(values), size):
        yield values[start : start + size]
