"""The state store's data model: SQLModel tables, and the plain frozen row types the store returns.

Imported only by ``monitor.store.db`` (which re-exports the row types), its query mixins (``monitor.store.feeds``,
``.items``, ``.story``), the migrations and tests. The tables describe the schema; every query lives in those
modules and uses the Core ``Table`` objects (``FEED``, ``ITEM``...), so no live ORM object ever leaves the store.
Schema changes are made by an Alembic migration in ``monitor/store/migrations/versions`` *and* here; a test
checks that the migrated database and these models agree.

Datetimes are stored through :class:`UTCDateTime`: always UTC, always returned timezone-aware (SQLite has no
time zone type and would otherwise hand back naive values). JSON payloads are stored as text so the same
schema works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import DateTime, Dialect, Index, Table, Text, TypeDecorator, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from monitor.domain import (
    Confidence,
    DeliveryStatus,
    Development,
    DevelopmentKind,
    Item,
    Severity,
    Source,
    SourceKind,
)

__all__ = [
    "DEADLINE_STATE",
    "DEVELOPMENT",
    "FEED",
    "FEED_FIELDS",
    "ITEM",
    "LINK_KEY_CHARS",
    "META",
    "OUTBOX",
    "STORY_PART",
    "STORY_STATE",
    "THREAD_STATE",
    "DeadlineRow",
    "DevelopmentRecord",
    "FeedRow",
    "OutboxRow",
    "ThreadRow",
    "UTCDateTime",
    "metadata",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware UTC on every backend.

    Naive datetimes are refused on the way in (DESIGN.md invariant 3): guessing their zone would silently
    shift deadlines. SQLite stores the UTC wall time as text (same width, so text order is time order);
    PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = cast(datetime, value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ts(*, index: bool = False, nullable: bool = True) -> Any:
    """A UTC timestamp field."""
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


def _text(default: str = "") -> Any:
    return Field(default=default, sa_type=Text, nullable=False)


class FeedTable(SQLModel, table=True):
    """One configured feed: its validators, health and next poll time."""

    __tablename__ = "feed"

    id: str = Field(primary_key=True)
    url: str
    current_url: str | None = None  # after a permanent redirect; None means ``url``
    enabled: bool = True
    disabled_reason: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    conditional_supported: bool | None = None
    last_attempt_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = _ts(index=True)
    retry_after_until: datetime | None = _ts()
    cache_floor_s: int | None = None
    seeded: bool = False
    items_seen: int = 0
    failing_reported: bool = False
    notice: str | None = Field(default=None, sa_type=Text)  # caps its last document went over; None: within


LINK_KEY_CHARS = 200
"""How much of a link ``ix_item_feed_link`` holds: lookups by link search this prefix and compare the whole."""


class ItemTable(SQLModel, table=True):
    """One entry of one feed, kept for dedupe, clustering and evidence."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("feed_id", "item_id", name="uq_item_feed_item"),
        # a feed's entries by link (a prefix: a btree entry must stay small); see migration 0005
        Index("ix_item_feed_link", "feed_id", text(f"substr(link, 1, {LINK_KEY_CHARS})")),
    )

    id: int | None = Field(default=None, primary_key=True)
    feed_id: str = Field(foreign_key="feed.id", ondelete="CASCADE")
    item_id: str
    title: str = _text()
    summary: str = _text()
    link: str | None = Field(default=None, sa_type=Text)
    outlet: str = ""
    source_kind: str = "ordinary"
    published: datetime = _ts(index=True, nullable=False)
    first_seen: datetime = _ts(nullable=False)
    # last poll whose body listed it: retention prunes by this, so an item a feed still lists is never
    # pruned and can never come back as "new"
    last_seen: datetime = _ts(index=True, nullable=False)
    is_seed: bool = False


class StoryStateTable(SQLModel, table=True):
    """The story reducer's stored state (opaque JSON to the store)."""

    __tablename__ = "story_state"

    story_id: str = Field(primary_key=True)
    state_json: str = _text("{}")  # the core (monitor.story.parts), or the whole state before migration 0004
    updated_at: datetime = _ts(nullable=False)
    revision: int = 0  # saves so far: a cached copy is current while this has not moved


class StoryPartTable(SQLModel, table=True):
    """One part of a story's stored state (a development, a pool cluster, a bucket of seen links)."""

    __tablename__ = "story_part"

    story_id: str = Field(primary_key=True)
    part: str = Field(primary_key=True)
    part_json: str = _text("{}")


class ThreadStateTable(SQLModel, table=True):
    """Each thread's current state, queryable without decoding the story JSON."""

    __tablename__ = "thread_state"

    story_id: str = Field(primary_key=True)
    thread_id: str = Field(primary_key=True)
    state: str
    since: datetime | None = _ts()
    development_key: str | None = None


class DeadlineStateTable(SQLModel, table=True):
    """A deadline's current due time and the reminders already fired (opaque JSON)."""

    __tablename__ = "deadline_state"

    story_id: str = Field(primary_key=True)
    deadline_id: str = Field(primary_key=True)
    due_at: datetime = _ts(nullable=False)
    state_json: str = _text("{}")
    updated_at: datetime = _ts(nullable=False)


class DevelopmentTable(SQLModel, table=True):
    """A development; ``key`` is its deterministic identity, ``seq`` a short number for ``monitor ack``."""

    __tablename__ = "development"
    __table_args__ = (UniqueConstraint("key", name="uq_development_key"),)

    seq: int | None = Field(default=None, primary_key=True)
    key: str
    kind: str
    story_id: str = Field(index=True)
    thread_id: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    confidence: str
    severity: int
    at: datetime = _ts(index=True, nullable=False)
    title: str = _text()
    summary: str = _text()
    sources_json: str = _text("[]")
    cues_json: str = _text("[]")
    details_json: str = _text("{}")
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    acknowledged_at: datetime | None = _ts()


class OutboxTable(SQLModel, table=True):
    """One message to deliver: a development on a channel at a confidence (and repeat number)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("development_key", "channel_id", "confidence", "repeat_seq", name="uq_outbox_message"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    development_key: str = Field(foreign_key="development.key", ondelete="CASCADE")
    channel_id: str
    status: str
    created_at: datetime = _ts(nullable=False)
    release_at: datetime = _ts(nullable=False)  # not before
    attempts: int = 0
    next_attempt_at: datetime = _ts(nullable=False)
    claimed_by: str | None = None
    claimed_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_type=Text)
    targets_json: str = _text("[]")
    confidence: str
    repeat_until_ack: bool = False
    repeat_seq: int = 0
    # what the message shows beyond the development (thread line, countdown, titles) as of when it was recorded;
    # NULL on rows queued before migration 0002: delivery then reads the live state
    context_json: str | None = Field(default=None, sa_type=Text)


class MetaTable(SQLModel, table=True):
    """Small key/value facts: heartbeat, daemon start time, owner id."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str = _text()
    updated_at: datetime = _ts(nullable=False)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, getattr(model, "__table__"))  # noqa: B009 - SQLModel does not type __table__


metadata = SQLModel.metadata
FEED = _table(FeedTable)
ITEM = _table(ItemTable)
STORY_STATE = _table(StoryStateTable)
STORY_PART = _table(StoryPartTable)
THREAD_STATE = _table(ThreadStateTable)
DEADLINE_STATE = _table(DeadlineStateTable)
DEVELOPMENT = _table(DevelopmentTable)
OUTBOX = _table(OutboxTable)
META = _table(MetaTable)


def dumps(value: Any) -> str:
    """JSON text for the ``*_json`` columns: sorted keys, so equal states store equal text.

    orjson, about six times faster than ``json`` on a story's parts (a new item rewrites some 20 kB of them);
    compact, UTF-8 as written. What orjson refuses (a key that is not a string, an integer beyond 64 bits) goes
    through ``json`` as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)


def loads(text: str) -> Any:
    return json.loads(text)


# ------------------------------------------------------------------------------------------- row types
@dataclass(frozen=True, slots=True)
class FeedRow:
    """A feed's stored state. ``effective_url`` is where to fetch (after a permanent redirect)."""

    id: str
    url: str
    current_url: str | None
    enabled: bool
    disabled_reason: str | None
    etag: str | None
    last_modified: str | None
    body_sha256: str | None
    conditional_supported: bool | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    next_poll_at: datetime | None
    retry_after_until: datetime | None
    cache_floor_s: int | None
    seeded: bool
    items_seen: int
    failing_reported: bool
    notice: str | None = None

    @property
    def effective_url(self) -> str:
        return self.current_url or self.url


FEED_FIELDS = frozenset(f.name for f in fields(FeedRow)) - {"id"}


@dataclass(frozen=True, slots=True)
class ThreadRow:
    """A thread's current state, since when, and the development that moved it there."""

    story_id: str
    thread_id: str
    state: str
    since: datetime | None
    development_key: str | None


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """A deadline's current due time and its stored state (opaque to the store)."""

    story_id: str
    deadline_id: str
    due_at: datetime
    state: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DevelopmentRecord:
    """Bookkeeping around a stored development: its short number and acknowledgement."""

    seq: int
    key: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message to deliver. ``targets`` holds per target ``{"target", "ok", "attempts", "error"}``."""

    id: int
    development_key: str
    channel_id: str
    status: DeliveryStatus
    created_at: datetime
    release_at: datetime
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    targets: tuple[dict[str, Any], ...]
    confidence: Confidence
    repeat_until_ack: bool
    repeat_seq: int
    context: dict[str, Any] | None = None  # frozen message context (see ``monitor.app.deliver.message_context``)

    @property
    def targets_json(self) -> str:
        """The per-target results as stored (JSON text)."""
        return dumps(list(self.targets))


# ------------------------------------------------------------------ row -> value conversions
def feed_row(row: Any) -> FeedRow:
    return FeedRow(**row._mapping)


def item_from_row(row: Any) -> Item:
    return Item(
        feed_id=row.feed_id, item_id=row.item_id, title=row.title, summary=row.summary, link=row.link,
        outlet=row.outlet, published=row.published, fetched_at=row.first_seen,
        source_kind=SourceKind(row.source_kind),
    )  # fmt: skip


def development_values(dev: Development) -> dict[str, Any]:
    """The development's columns (all but key and bookkeeping). Source times keep full precision."""
    sources = [
        {**s.to_json(), "published": s.published.isoformat(), "feed_id": s.feed_id, "item_id": s.item_id,
         "source_kind": s.source_kind.value}
        for s in dev.sources
    ]  # fmt: skip
    return {
        "kind": dev.kind.value, "story_id": dev.story_id, "thread_id": dev.thread_id,
        "from_state": dev.from_state, "to_state": dev.to_state, "confidence": dev.confidence.value,
        "severity": int(dev.severity), "at": dev.at, "title": dev.title, "summary": dev.summary,
        "sources_json": dumps(sources), "cues_json": dumps(list(dev.cues)), "details_json": dumps(dict(dev.details)),
    }  # fmt: skip


def development_from_row(row: Any) -> Development:
    sources = tuple(
        Source(
            outlet=s["outlet"],
            title=s["title"],
            link=s["link"],
            published=datetime.fromisoformat(s["published"]),
            feed_id=s.get("feed_id", ""),
            item_id=s.get("item_id", ""),
            source_kind=SourceKind(s.get("source_kind", SourceKind.ORDINARY.value)),
        )
        for s in loads(row.sources_json)
    )
    return Development(
        key=row.key, kind=DevelopmentKind(row.kind), story_id=row.story_id, at=row.at, title=row.title,
        severity=Severity(row.severity), confidence=Confidence(row.confidence), thread_id=row.thread_id,
        from_state=row.from_state, to_state=row.to_state, summary=row.summary, sources=sources,
        cues=tuple(loads(row.cues_json)), details=loads(row.details_json),
    )  # fmt: skip


def outbox_row(row: Any) -> OutboxRow:
    values = dict(row._mapping)
    values["targets"] = tuple(loads(values.pop("targets_json")))
    context = values.pop("context_json", None)
    values["context"] = None if context is None else loads(context)
    values["status"] = DeliveryStatus(values["status"])
    values["confidence"] = Confidence(values["confidence"])
    return OutboxRow(**values)
