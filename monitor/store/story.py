"""The story side of the store: reducer, thread and deadline state, developments, and the outbox.

Split out of :mod:`monitor.store.db` to keep each module to one job: ``monitor.store.db`` owns the connection and the
feed side (feeds, items, meta); this module owns what the story reducer writes and the delivery worker reads.
:class:`StoryQueries` is a mixin of ``monitor.store.Tx``: callers keep calling ``tx.enqueue(...)`` and import
nothing from here. :class:`TxBase` and the small statement helpers live here too, so both modules share them
without an import cycle (``monitor.store.db`` imports this module, never the other way round).

Same contract as the rest of the store: every method runs inside the caller's transaction, values crossing the
API are frozen dataclasses or domain types, and every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.domain import Confidence, DeliveryStatus, Development
from monitor.store import models as m
from monitor.store.models import (
    DeadlineRow,
    DevelopmentRecord,
    OutboxRow,
    ThreadRow,
    development_from_row,
    development_values,
    dumps,
    loads,
    outbox_row,
)
from monitor.store.raw import Raw

__all__ = ["STORY_PARTS_VERSION", "StaleStoryState", "StoryQueries", "TxBase", "chunks", "dialect_insert", "rowcount"]
STORY_PARTS_VERSION = 2  # a stored core whose "version" is this has its parts in story_part
_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Raw] = {}  # see TxBase._upsert_many
# Built once, not once a poll: the statements of every save of a story state (SQLAlchemy caches their compiled
# form by statement; building one costs about as much as running it on SQLite)
_DELETE_PARTS = delete(m.STORY_PART).where(m.STORY_PART.c.story_id == bindparam("story"),
                                           m.STORY_PART.c.part.in_(bindparam("names", expanding=True)))
# and the hottest of them run on the driver's cursor (monitor.store.raw)
_CONFIDENCE = Raw(select(m.DEVELOPMENT.c.confidence).where(m.DEVELOPMENT.c.key == bindparam("b_key")))
_UPDATE_DEVELOPMENTS: dict[tuple[str, ...], Raw] = {}  # SET columns -> UPDATE development .. WHERE key
_INSERT_DEVELOPMENT: dict[tuple[str, ...], Raw] = {}  # columns -> INSERT .. ON CONFLICT DO NOTHING RETURNING 1
_REVISION = Raw(select(m.STORY_STATE.c.revision).where(m.STORY_STATE.c.story_id == bindparam("story")))
_SAVE_CORE = Raw(update(m.STORY_STATE)
                 .where(m.STORY_STATE.c.story_id == bindparam("story"),
                        m.STORY_STATE.c.revision == bindparam("expected"))
                 .values(state_json=bindparam("core", type_=m.STORY_STATE.c.state_json.type),
                         updated_at=bindparam("now", type_=m.STORY_STATE.c.updated_at.type),
                         revision=bindparam("revision", type_=m.STORY_STATE.c.revision.type)))


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT supporting ``on_conflict_do_nothing/update`` (both SQLite and PostgreSQL have them)."""
    if dialect == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(result.rowcount)


def chunks(values: Sequence[Any], size: int = 400) -> Iterator[Sequence[Any]]:
    """``values`` in slices of ``size``: keeps IN lists under SQLite's bound-parameter limit."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class TxBase:
    """One transaction on a connection, and the statement helpers every query mixin uses."""

    def __init__(self, connection: Connection) -> None:
        # Core on the connection, not an ORM Session: the store maps no objects, and the Session's layers
        # (its transaction states, autoflush, finding the connection) cost a sizeable share of a small
        # statement and of a short transaction on the poll's hot path. Named ``session`` for the callers and
        # tests that run a statement of their own on it (``execute``, ``scalar``, ``scalars``, ``begin_nested``).
        self.session = connection
        self._dialect = connection.dialect.name

    def _execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.session.execute(statement, parameters)

    def _inserted(self, statement: Any) -> bool:
        """Run an INSERT that yields to an existing row; True if it inserted.

        RETURNING rather than rowcount: psycopg reports -1 for INSERT .. ON CONFLICT DO NOTHING.
        """
        returning = statement.on_conflict_do_nothing().returning(literal_column("1"))
        return self._execute(returning).first() is not None

    def _upsert(self, table: Any, keys: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        statement = dialect_insert(self._dialect, table).values(**keys, **values)
        self._execute(statement.on_conflict_do_update(index_elements=list(keys), set_=dict(values)))

    def _upsert_many(self, table: Any, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (each with the same columns), each one updating the stored row with the same ``keys``.

        One statement for all of them (executemany), built once per table, columns and dialect: a save of a
        few small rows costs a few rows, not the building and compiling of a statement for each."""
        if not rows:
            return
        columns = tuple(rows[0])
        cache_key = (self._dialect, table.name, tuple(keys), columns)
        statement = _UPSERTS.get(cache_key)
        if statement is None:
            insert = dialect_insert(self._dialect, table).values({c: bindparam(c) for c in columns})
            statement = Raw(insert.on_conflict_do_update(
                index_elements=list(keys), set_={c: insert.excluded[c] for c in columns if c not in keys}))
            _UPSERTS[cache_key] = statement
        statement.run_many(self.session, rows)


class StaleStoryState(Exception):
    """A story's state was saved by another process between this transaction's read and its write."""


class StoryQueries(TxBase):
    """Story, thread and deadline state; developments; the outbox. Mixed into ``monitor.store.Tx``."""

    # ------------------------------------------------------------------ story, thread and deadline state
    def load_story_state(self, story_id: str) -> dict[str, Any] | None:
        """The reducer's stored state (opaque JSON): as stored whole (before migration 0004, or by
        ``save_story_state``), or the core stored by ``save_story_parts`` (``version`` 2) with its parts under
        ``"parts"`` (part name -> JSON); ``monitor.app.story_parts.whole_state`` puts those together."""
        text = self.session.scalar(select(m.STORY_STATE.c.state_json).where(m.STORY_STATE.c.story_id == story_id))
        if text is None:
            return None
        core = dict(loads(text))
        if core.get("version") == STORY_PARTS_VERSION:
            rows = self._execute(select(m.STORY_PART.c.part, m.STORY_PART.c.part_json)
                                 .where(m.STORY_PART.c.story_id == story_id))
            core["parts"] = {row.part: loads(row.part_json) for row in rows}
        return core

    def story_revision(self, story_id: str) -> int | None:
        """How many times the story's state was saved (None: never); one small query."""
        row = _REVISION.run(self.session, {"story": story_id}).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def save_story_parts(
        self,
        story_id: str,
        core: Mapping[str, Any],
        parts: Mapping[str, Any | None],
        threads: Mapping[str, tuple[str, datetime | None, str | None]],
        now: datetime,
        *,
        replace: bool = False,
        expected: int | None = None,
    ) -> int:
        """Store the state's core and the given parts (None deletes a part; ``replace`` deletes every other
        part first), bump the revision and store the row of each thread given; returns the new revision.

        ``expected`` is the revision the caller read its state at: if another process saved since (two writers
        on PostgreSQL), :class:`StaleStoryState` is raised and the caller's transaction must roll back."""
        if replace:
            self._execute(delete(m.STORY_PART).where(m.STORY_PART.c.story_id == story_id))
        gone = [name for name, value in parts.items() if value is None]
        for names in chunks(gone):
            self._execute(_DELETE_PARTS, {"story": story_id, "names": list(names)})
        self._upsert_many(m.STORY_PART, ("story_id", "part"),
                          [{"story_id": story_id, "part": name, "part_json": dumps(value)}
                           for name, value in parts.items() if value is not None])
        values = {"state_json": dumps(core), "updated_at": now}
        if expected is None:
            revision = (self.story_revision(story_id) or 0) + 1
            self._upsert(m.STORY_STATE, {"story_id": story_id}, {**values, "revision": revision})
        else:
            revision = expected + 1
            saved = _SAVE_CORE.run(self.session, {"story": story_id, "expected": expected, "revision": revision,
                                                  "core": values["state_json"], "now": now})
            if rowcount(saved) != 1:
                raise StaleStoryState(f"story {story_id!r} was saved by another process meanwhile; retried next poll")
        self._save_threads(story_id, threads)
        return revision

    def save_story_state(
        self,
        story_id: str,
        state_json: Mapping[str, Any],
        threads: Mapping[str, tuple[str, datetime | None, str | None]],
        now: datetime,
    ) -> None:
        """Store the reducer's state whole (no parts) and each thread's ``(state, since, development_key)``."""
        self._execute(delete(m.STORY_PART).where(m.STORY_PART.c.story_id == story_id))
        revision = (self.story_revision(story_id) or 0) + 1
        self._upsert(m.STORY_STATE, {"story_id": story_id},
                     {"state_json": dumps(state_json), "updated_at": now, "revision": revision})
        self._save_threads(story_id, threads)

    def _save_threads(self, story_id: str, threads: Mapping[str, tuple[str, datetime | None, str | None]]) -> None:
        self._upsert_many(m.THREAD_STATE, ("story_id", "thread_id"),
                          [{"story_id": story_id, "thread_id": thread_id, "state": state, "since": since,
                            "development_key": development_key}
                           for thread_id, (state, since, development_key) in threads.items()])

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
        # Most calls update a development a poll extended: read its confidence first (two statements then, not
        # an INSERT that conflicts, a read and an update). New means inserted here: RETURNING (psycopg reports -1
        # for rowcount of INSERT .. ON CONFLICT DO NOTHING), and a row a concurrent writer inserted after the
        # read is updated as if it had been found.
        stored = _CONFIDENCE.run(self.session, {"b_key": dev.key}).fetchone()
        if stored is None:
            row = {"key": dev.key, "created_at": now, "updated_at": now, **values}
            names = (self._dialect, *row)
            insert = _INSERT_DEVELOPMENT.get(names)
            if insert is None:  # its columns are the parameters' (every column but the identity)
                insert = Raw(dialect_insert(self._dialect, m.DEVELOPMENT).values({c: bindparam(c) for c in row})
                             .on_conflict_do_nothing().returning(literal_column("1")))
                _INSERT_DEVELOPMENT[names] = insert
            if insert.run(self.session, row).fetchone() is not None:
                return True, None
            stored = _CONFIDENCE.run(self.session, {"b_key": dev.key}).fetchone()
        previous = Confidence(str(stored[0]))
        values["confidence"] = max(previous, dev.confidence, key=lambda c: c.rank).value
        columns = ("updated_at", *values)
        statement = _UPDATE_DEVELOPMENTS.get(columns)
        if statement is None:
            statement = Raw(update(m.DEVELOPMENT).where(m.DEVELOPMENT.c.key == bindparam("b_key"))
                            .values({c: bindparam(c) for c in columns}))
            _UPDATE_DEVELOPMENTS[columns] = statement
        statement.run(self.session, {"b_key": dev.key, "updated_at": now, **values})
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
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue a message; False if this (development, channel, confidence, repeat_seq) is already queued.

        ``targets`` is the number of apprise URLs or their masked labels; each gets a result slot.
        ``repeat=True`` queues one more copy (a critical alert repeating until acknowledged): the next
        ``repeat_seq`` after those queued, marked ``repeat_until_ack``. ``context`` is what the message shows
        beyond the development, frozen now (stored as JSON; None: delivery reads the live state).
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
            context_json=None if context is None else dumps(dict(context)),
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
