"""The state store against real databases: SQLite files, and PostgreSQL when MONITOR_TEST_POSTGRES_URL is set.

Each PostgreSQL test gets its own schema (dropped afterwards), so runs never collide.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from monitor.config.schema import FeedConfig
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
from monitor.errors import StoreError
from monitor.store import models
from monitor.store.db import HEAD_REVISION, Store
from monitor.store.items import _lookup_sql
from monitor.store.raw import run_sql

T0 = datetime(2026, 2, 24, 15, 0, tzinfo=UTC)


def feed_config(feed_id: str = "wire", url: str = "https://example.org/feed.xml", enabled: bool = True) -> FeedConfig:
    return FeedConfig(id=feed_id, url=url, enabled=enabled)


def make_item(item_id: str, title: str = "Pentagon sets Friday deadline", *, feed_id: str = "wire",
              published: datetime = T0, fetched_at: datetime = T0) -> Item:  # fmt: skip
    return Item(
        feed_id=feed_id, item_id=item_id, title=title, summary="summary", link=f"https://news.example/{item_id}",
        outlet="Example News", published=published, fetched_at=fetched_at, source_kind=SourceKind.WIRE,
    )  # fmt: skip


def make_development(key: str = "dev-1", *, at: datetime = T0, confidence: Confidence = Confidence.REPORTED,
                     title: str = "Pentagon designates Anthropic a supply chain risk") -> Development:  # fmt: skip
    source = Source(
        outlet="Reuters", title=title, link="https://reuters.example/a", published=at + timedelta(microseconds=123),
        feed_id="wire", item_id="a", source_kind=SourceKind.WIRE,
    )  # fmt: skip
    return Development(
        key=key, kind=DevelopmentKind.THREAD_CHANGE, story_id="anthropic", at=at, title=title,
        severity=Severity.CRITICAL, confidence=confidence, thread_id="scr", from_state="threatened",
        to_state="designated", summary="It happened.", sources=(source,), cues=("designates",),
        details={"deadline": "friday", "n": 2},
    )  # fmt: skip


# -------------------------------------------------------------------------------------------- opening
def test_open_twice_leaves_schema_at_head(database_url: str) -> None:
    first = Store.open(database_url)
    first.close()
    second = Store.open(database_url)
    assert second.schema_version() == HEAD_REVISION
    second.close()


def test_migrated_schema_matches_the_models(store: Store) -> None:
    with store.engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect the expression index on links, so Alembic skips it there (checked below)
        warnings.filterwarnings("ignore", message=".*expression-based index.*ix_item_feed_link")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, models.metadata) == []


def test_a_lookup_by_link_searches_the_link_index_not_the_feeds_rows(store: Store) -> None:
    """The poll's lookup of a listing's links (migration 0005): an index search on every backend."""
    sql = _lookup_sql(1, 2)
    with store.read() as tx:
        if store.dialect == "sqlite":
            plan = " ".join(str(row[-1]) for row in run_sql(tx.session, f"EXPLAIN QUERY PLAN {sql}",
                                                            ["wire", "a", "wire", "b", "c"]))
        else:  # a planner free to scan an empty table must still be able to use the index
            tx.session.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in run_sql(tx.session, f"EXPLAIN {sql}", ["wire", "a", "wire", "b", "c"]))
    assert "ix_item_feed_link" in plan and "SCAN item" not in plan and "Seq Scan" not in plan, plan


def test_a_sqlite_url_creates_its_folder(tmp_path: Path) -> None:
    opened = Store.open(f"sqlite:///{tmp_path / 'state' / 'monitor.db'}")
    opened.close()
    assert (tmp_path / "state" / "monitor.db").is_file()


def test_sqlite_connections_get_wal_busy_timeout_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    opened = Store.open(f"sqlite:///{tmp_path}/m.db")
    with opened.engine.connect() as conn:
        pragmas = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                   ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")}  # fmt: skip
    opened.close()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": 1}


def test_sqlite_write_transaction_holds_the_write_lock_from_its_first_statement(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    opened = Store.open(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with opened.read() as tx:
            tx.feeds()
            other.execute("BEGIN IMMEDIATE")  # a reader does not block a writer
            other.execute("ROLLBACK")
        with opened.write() as tx:
            tx.feeds()  # only a read so far, yet the write lock is taken (BEGIN IMMEDIATE)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        opened.close()


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://monitor:s3cret-pw@127.0.0.1:1/none", "sqlite:////proc/no/such/dir/monitor.db"],
)
def test_unusable_database_raises_store_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "s3cret-pw" not in str(caught.value)
    assert "cannot open" in str(caught.value)


def test_url_property_masks_the_password() -> None:
    opened = Store.__new__(Store)
    opened._url = "postgresql+psycopg://monitor:s3cret@db/monitor"
    assert opened.url == "postgresql+psycopg://monitor:***@db/monitor"


def test_write_rolls_back_when_the_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.set_meta("heartbeat", "1", T0)
        raise RuntimeError("boom")
    with store.read() as tx:
        assert tx.get_meta("heartbeat") is None


# ----------------------------------------------------------------------------------------------- feeds
def test_sync_feeds_inserts_new_feeds_due_now(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config("wire"), feed_config("docket", "https://courts.example/rss")], T0)
    with store.read() as tx:
        feeds = tx.feeds()
    assert [(f.id, f.enabled, f.next_poll_at, f.seeded, f.consecutive_failures) for f in feeds] == [
        ("docket", True, T0, False, 0),
        ("wire", True, T0, False, 0),
    ]


def test_feed_health_fields_round_trip(store: Store) -> None:
    health = {
        "current_url": "https://example.org/moved.xml", "etag": '"abc"', "last_modified": "Tue, 24 Feb 2026",
        "body_sha256": "f" * 64, "conditional_supported": True, "last_attempt_at": T0, "last_success_at": T0,
        "last_status": 200, "last_error": None, "consecutive_failures": 3, "next_poll_at": T0 + timedelta(minutes=15),
        "retry_after_until": T0 + timedelta(hours=1), "cache_floor_s": 300, "seeded": True, "items_seen": 7,
        "failing_reported": True,
    }  # fmt: skip
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.update_feed("wire", **health)
    with store.read() as tx:
        row = tx.feed("wire")
    assert row is not None
    assert {name: getattr(row, name) for name in health} == health
    assert row.effective_url == "https://example.org/moved.xml"


def test_sync_feeds_keeps_state_but_resets_validators_when_the_url_changes(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config(), feed_config("gone", "https://gone.example/rss")], T0)
        tx.update_feed("wire", etag='"x"', current_url="https://example.org/new", seeded=True, items_seen=4,
                       next_poll_at=T0 + timedelta(hours=1))  # fmt: skip
    later = T0 + timedelta(minutes=5)
    with store.write() as tx:
        tx.sync_feeds([feed_config(url="https://example.org/other.xml")], later)
    with store.read() as tx:
        wire, gone = tx.feed("wire"), tx.feed("gone")
    assert wire is not None and gone is not None
    assert (wire.url, wire.current_url, wire.etag, wire.seeded, wire.items_seen, wire.next_poll_at) == (
        "https://example.org/other.xml", None, None, False, 4, later,
    )  # fmt: skip
    assert (gone.enabled, gone.disabled_reason) == (False, "removed from config")


def test_sync_feeds_with_unchanged_url_keeps_validators_and_follows_enabled_flag(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.update_feed("wire", etag='"x"', next_poll_at=T0 + timedelta(hours=1))
        tx.sync_feeds([feed_config(enabled=False)], T0 + timedelta(minutes=1))
    with store.read() as tx:
        row = tx.feed("wire")
    assert row is not None
    assert (row.etag, row.next_poll_at, row.enabled, row.disabled_reason) == (
        '"x"', T0 + timedelta(hours=1), False, "disabled in config",
    )  # fmt: skip


def test_due_feeds_lists_enabled_feeds_whose_time_has_come_most_overdue_first(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config(n, f"https://{n}.example/rss") for n in ("a", "b", "c", "off")], T0)
        tx.update_feed("a", next_poll_at=T0 + timedelta(minutes=2))
        tx.update_feed("b", next_poll_at=T0 - timedelta(minutes=2))
        tx.update_feed("c", next_poll_at=T0 + timedelta(minutes=20))
        tx.update_feed("off", enabled=False)
    with store.read() as tx:
        assert [f.id for f in tx.due_feeds(T0 + timedelta(minutes=5))] == ["b", "a"]


@pytest.mark.parametrize(("feed_id", "fields"), [("wire", {"colour": "red"}), ("nope", {"etag": "x"})])
def test_update_feed_rejects_unknown_fields_and_feeds(store: Store, feed_id: str, fields: dict[str, str]) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        with pytest.raises(KeyError):
            tx.update_feed(feed_id, **fields)


# ----------------------------------------------------------------------------------------------- items
def test_insert_items_returns_only_unseen_items_and_an_edited_title_is_not_new(store: Store) -> None:
    later = T0 + timedelta(minutes=15)
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        first = tx.insert_items([make_item("a"), make_item("b"), make_item("a")], seed=True)
        second = tx.insert_items(
            [make_item("a", "EDITED: Pentagon sets deadline", fetched_at=later), make_item("c", fetched_at=later)],
            seed=False,
        )
    assert [i.item_id for i in first] == ["a", "b"]
    assert [i.item_id for i in second] == ["c"]
    with store.read() as tx:
        stored = tx.item("wire", "a")
        seeds = dict(tx.session.execute(select(models.ITEM.c.item_id, models.ITEM.c.is_seed)).all())
    assert stored == make_item("a")  # first text and first-seen time kept
    assert seeds == {"a": True, "b": True, "c": False}


def linked(item_id: str, link: str | None, feed_id: str = "wire", fetched_at: datetime = T0) -> Item:
    return dataclasses.replace(make_item(item_id, feed_id=feed_id, fetched_at=fetched_at), link=link)


L, M = "https://news.example/story", "https://news.example/other"


@pytest.mark.parametrize(
    ("first", "second", "new"),
    [
        pytest.param([linked("g1", L)], [linked("g2", L)], [], id="new guid, same link: not news"),
        pytest.param([linked("g1", L)], [linked("g2", M)], ["g2"], id="new guid, new link: news"),
        pytest.param([linked("p1", L)], [linked("p1", L), linked("p2", L)], ["p2"], id="link shared in the body"),
        pytest.param([linked("p1", L), linked("p2", L)], [linked("p3", L)], ["p3"], id="link shared in the store"),
        pytest.param([linked("g1", L, "other")], [linked("g2", L)], ["g2"], id="links count per feed"),
        pytest.param([linked("g1", None)], [linked("g2", None)], ["g2"], id="no link: the id alone counts"),
        pytest.param([], [linked("g1", L), linked("g2", L)], ["g1", "g2"], id="two new entries, one link"),
    ],
)
def test_a_known_link_is_seen_only_where_it_names_one_entry(
    store: Store, first: list[Item], second: list[Item], new: list[str]
) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config(), feed_config("other", "https://o.example/rss")], T0)
        tx.insert_items(first, seed=False)
    with store.write() as tx:
        assert [i.item_id for i in tx.insert_items(second, seed=False)] == new


def test_an_entry_whose_guid_changed_keeps_its_stored_row_listed_and_its_first_text(store: Store) -> None:
    day = timedelta(days=1)
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.insert_items([linked("g1", L), linked("gone", M)], seed=False)
        assert tx.insert_items([linked("g2", L, fetched_at=T0 + 20 * day)], seed=False) == []
    with store.write() as tx:  # g1 is in the latest listing (as g2), so retention keeps it
        assert tx.prune_items(T0 + 29 * day) == 1
        assert tx.insert_items([linked("g2", L, fetched_at=T0 + 30 * day)], seed=False) == []
        rows = tx.session.execute(select(models.ITEM.c.item_id, models.ITEM.c.last_seen)).all()
        assert tx.item("wire", "g1") == linked("g1", L)
    assert [tuple(r) for r in rows] == [("g1", T0 + 30 * day)]


def test_items_of_unknown_feeds_are_refused_by_the_foreign_key(store: Store) -> None:
    with pytest.raises(IntegrityError), store.write() as tx:
        tx.insert_items([make_item("a", feed_id="unknown")], seed=False)


def test_recent_items_and_count_items(store: Store) -> None:
    items = [make_item(f"i{n}", published=T0 + timedelta(hours=n)) for n in range(5)]
    with store.write() as tx:
        tx.sync_feeds([feed_config(), feed_config("other", "https://o.example/rss")], T0)
        tx.insert_items(items, seed=False)
        tx.insert_items([make_item("x", feed_id="other", published=T0 + timedelta(hours=3))], seed=False)
    with store.read() as tx:
        assert [i.item_id for i in tx.recent_items(T0 + timedelta(hours=2))] == ["i2", "i3", "x", "i4"]
        assert [i.item_id for i in tx.recent_items(T0, feed_ids=["wire"], limit=2)] == ["i3", "i4"]
        assert (tx.count_items(), tx.count_items("other")) == (6, 1)


def test_prune_keeps_evidence_kept_keys_and_each_feeds_latest_listing(store: Store) -> None:
    day = timedelta(days=1)
    with store.write() as tx:
        tx.sync_feeds([feed_config(), feed_config("quiet", "https://quiet.example/rss")], T0)
        tx.insert_items([make_item(n) for n in ("old", "a", "kept", "listed")], seed=False)
        tx.insert_items([make_item("listed", fetched_at=T0 + 20 * day)], seed=False)  # a later, shorter listing
        tx.insert_items([make_item("q1", feed_id="quiet")], seed=False)  # polled once, then only 304s
        tx.upsert_development(make_development(), T0)  # cites ("wire", "a") as evidence
    with store.write() as tx:
        assert tx.prune_items(T0 + 29 * day, keep_keys={("wire", "kept")}) == 1
    with store.read() as tx:
        assert sorted(i.item_id for i in tx.recent_items(T0)) == ["a", "kept", "listed", "q1"]
        feeds = {f.id: f.items_seen for f in tx.feeds()}
    assert feeds == {"wire": 3, "quiet": 1}  # pruning recounts what the polls keep by adding
    with store.write() as tx:  # kept items are still known; the pruned one would count as new again
        known = [make_item(n) for n in ("a", "kept", "listed")] + [make_item("q1", feed_id="quiet")]
        assert tx.insert_items(known, seed=False) == []
        assert [i.item_id for i in tx.insert_items([make_item("old")], seed=False)] == ["old"]


def test_touch_items_refreshes_only_the_latest_listing(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.insert_items([make_item("gone"), make_item("listed")], seed=False)
        tx.insert_items([make_item("listed", fetched_at=T0 + timedelta(hours=1))], seed=False)
        assert tx.touch_items("wire", T0 + timedelta(hours=2)) == 1
        seen = dict(tx.session.execute(select(models.ITEM.c.item_id, models.ITEM.c.last_seen)).all())
    assert seen == {"gone": T0, "listed": T0 + timedelta(hours=2)}


# ------------------------------------------------------------------------------------------ state
def test_story_and_thread_state_round_trip(store: Store) -> None:
    state = {"threads": {"scr": "threatened"}, "evidence": [1, 2], "note": "ünïcode"}
    with store.write() as tx:
        assert tx.load_story_state("anthropic") is None
        tx.save_story_state("anthropic", state, {"scr": ("threatened", T0, "k1"), "dpa": ("none", None, None)}, T0)
        tx.save_story_state("anthropic", state, {"scr": ("designated", T0 + timedelta(hours=1), "k2")}, T0)
    with store.read() as tx:
        assert tx.load_story_state("anthropic") == state
        threads = tx.thread_states("anthropic")
    assert {k: (v.state, v.since, v.development_key) for k, v in threads.items()} == {
        "scr": ("designated", T0 + timedelta(hours=1), "k2"),
        "dpa": ("none", None, None),
    }


def test_deadline_state_round_trip(store: Store) -> None:
    due = datetime(2026, 2, 27, 22, 1, tzinfo=UTC)
    with store.write() as tx:
        tx.save_deadline_state("anthropic", "ultimatum", due, {"fired": ["24h"]}, T0)
        tx.save_deadline_state("anthropic", "ultimatum", due + timedelta(days=7), {"fired": ["24h", "3h"]}, T0)
    with store.read() as tx:
        assert tx.load_deadline_state("anthropic", "ultimatum") == {"fired": ["24h", "3h"]}
        assert tx.load_deadline_state("anthropic", "other") is None
        [row] = tx.deadline_states("anthropic")
    assert (row.deadline_id, row.due_at, row.updated_at) == ("ultimatum", due + timedelta(days=7), T0)


def test_meta_round_trip(store: Store) -> None:
    with store.write() as tx:
        tx.set_meta("heartbeat", "tick-1", T0)
        tx.set_meta("heartbeat", "tick-2", T0 + timedelta(seconds=30))
    with store.read() as tx:
        assert tx.get_meta("heartbeat") == ("tick-2", T0 + timedelta(seconds=30))
        assert tx.get_meta("missing") is None


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    with store.write() as tx:
        tx.set_meta("started", "x", datetime(2026, 2, 27, 17, 1, tzinfo=eastern))
    with store.read() as tx:
        meta = tx.get_meta("started")
    assert meta is not None and meta[1] == datetime(2026, 2, 27, 22, 1, tzinfo=UTC) and meta[1].tzinfo is UTC
    with pytest.raises(StatementError, match="naive datetime"), store.write() as tx:
        tx.set_meta("started", "x", datetime(2026, 2, 27, 17, 1))


# -------------------------------------------------------------------------------------- developments
def test_development_round_trips_exactly(store: Store) -> None:
    dev = make_development()
    with store.write() as tx:
        assert tx.upsert_development(dev, T0) == (True, None)
    with store.read() as tx:
        assert tx.development("dev-1") == dev
        assert tx.development("nope") is None


def test_upsert_development_updates_in_place_and_confidence_never_drops(store: Store) -> None:
    with store.write() as tx:
        tx.upsert_development(make_development(), T0)
        assert tx.upsert_development(make_development(confidence=Confidence.CONFIRMED), T0) == (
            False, Confidence.REPORTED,
        )  # fmt: skip
        assert tx.upsert_development(make_development(title="later wording"), T0) == (False, Confidence.CONFIRMED)
    with store.read() as tx:
        stored = tx.development("dev-1")
        assert len(tx.developments()) == 1
    assert stored is not None and (stored.confidence, stored.title) == (Confidence.CONFIRMED, "later wording")


def test_developments_are_ordered_by_time_and_filtered(store: Store) -> None:
    with store.write() as tx:
        for n, hours in enumerate([3, 1, 2, 1]):
            tx.upsert_development(make_development(f"d{n}", at=T0 + timedelta(hours=hours)), T0)
        tx.upsert_development(dataclasses.replace(make_development("elsewhere"), story_id="tiktok"), T0)
    with store.read() as tx:
        assert [d.key for d in tx.developments("anthropic")] == ["d1", "d3", "d2", "d0"]
        assert [d.key for d in tx.developments("anthropic", since=T0 + timedelta(hours=2))] == ["d2", "d0"]
        assert [d.key for d in tx.developments("anthropic", limit=2)] == ["d2", "d0"]
        assert [d.key for d in tx.developments("tiktok")] == ["elsewhere"]
        assert (tx.count_developments(), tx.count_developments("tiktok")) == (5, 1)


def test_acknowledge_by_key_or_number_keeps_the_first_time(store: Store) -> None:
    with store.write() as tx:
        tx.upsert_development(make_development("a"), T0)
        tx.upsert_development(make_development("b"), T0)
        record = tx.development_record("b")
        assert record is not None
        assert tx.acknowledge(str(record.seq), T0 + timedelta(minutes=1))
        assert tx.acknowledge("b", T0 + timedelta(minutes=9))
        assert not tx.acknowledge("missing", T0)
        assert (tx.is_acknowledged("b"), tx.is_acknowledged("a"), tx.is_acknowledged("missing")) == (True, False, False)
    with store.read() as tx:
        acked, not_acked = tx.development_record("b"), tx.development_record("a")
    assert acked is not None and acked.acknowledged_at == T0 + timedelta(minutes=1)
    assert not_acked is not None and not_acked.acknowledged_at is None


# -------------------------------------------------------------------------------------------- outbox
def _queue(store: Store, *channels: str, release_at: datetime = T0) -> None:
    with store.write() as tx:
        tx.upsert_development(make_development(), T0)
        for channel in channels:
            assert tx.enqueue("dev-1", channel, confidence=Confidence.REPORTED, release_at=release_at, now=T0,
                              targets=["mailto://***@example.org/***", "json://***"])  # fmt: skip


def test_enqueue_is_idempotent_per_development_channel_confidence_and_repeat(store: Store) -> None:
    _queue(store, "email")
    with store.write() as tx:

        def again(confidence: Confidence, repeat_seq: int = 0) -> bool:
            return tx.enqueue("dev-1", "email", confidence=confidence, release_at=T0, now=T0, targets=2,
                              repeat_seq=repeat_seq)  # fmt: skip

        assert not again(Confidence.REPORTED)
        assert again(Confidence.CONFIRMED)
        assert again(Confidence.REPORTED, repeat_seq=1)
    with store.read() as tx:
        rows = tx.outbox()
    assert [(r.confidence, r.repeat_seq, r.status) for r in rows] == [
        (Confidence.REPORTED, 0, DeliveryStatus.PENDING),
        (Confidence.CONFIRMED, 0, DeliveryStatus.PENDING),
        (Confidence.REPORTED, 1, DeliveryStatus.PENDING),
    ]
    assert rows[0].targets[0] == {"target": "mailto://***@example.org/***", "ok": False, "attempts": 0, "error": None}
    assert [t["target"] for t in rows[1].targets] == ["#0", "#1"]
    assert json.loads(rows[1].targets_json) == list(rows[1].targets)


def test_repeat_enqueues_the_next_copy_marked_until_acknowledged(store: Store) -> None:
    _queue(store, "pager")
    with store.write() as tx:
        for _ in range(2):
            assert tx.enqueue("dev-1", "pager", confidence=Confidence.REPORTED, release_at=T0 + timedelta(minutes=30),
                              now=T0, targets=1, repeat=True)  # fmt: skip
        rows = tx.outbox(development_key="dev-1")
    assert [(r.repeat_seq, r.repeat_until_ack) for r in rows] == [(0, False), (1, True), (2, True)]


def test_outbox_rows_need_a_stored_development(store: Store) -> None:
    with pytest.raises(IntegrityError), store.write() as tx:
        tx.enqueue("no-such-dev", "email", confidence=Confidence.REPORTED, release_at=T0, now=T0, targets=1)


def test_claim_respects_release_time_and_next_attempt(store: Store) -> None:
    _queue(store, "email")
    _queue(store, "digest", release_at=T0 + timedelta(hours=8))
    with store.write() as tx:
        assert [r.channel_id for r in tx.claim_due(T0 + timedelta(hours=1), "w1", 10)] == ["email"]


def test_finish_delivery_records_results_only_for_the_claiming_worker(store: Store) -> None:
    _queue(store, "email")
    results = [{"target": "mailto://***", "ok": True, "attempts": 1, "error": None},
               {"target": "json://***", "ok": False, "attempts": 1, "error": "HTTP 500"}]  # fmt: skip
    with store.write() as tx:
        [row] = tx.claim_due(T0, "w1", 10)
        assert (row.status, row.claimed_by, row.attempts) == (DeliveryStatus.SENDING, "w1", 1)
        assert not tx.finish_delivery(row.id, "w2", targets=[], status=DeliveryStatus.SENT, now=T0)
        retry_at = T0 + timedelta(minutes=1)
        assert tx.finish_delivery(row.id, "w1", targets=results, status=DeliveryStatus.RETRYING,
                                  next_attempt_at=retry_at, last_error="json://***: HTTP 500", now=T0)  # fmt: skip
        assert tx.claim_due(T0 + timedelta(seconds=30), "w1", 10) == []
        [again] = tx.claim_due(T0 + timedelta(minutes=1), "w1", 10)
        assert (again.attempts, again.targets, again.last_error) == (2, tuple(results), "json://***: HTTP 500")
        assert tx.finish_delivery(again.id, "w1", targets=results, status=DeliveryStatus.SENT, now=T0)
    with store.read() as tx:
        [done] = tx.outbox([DeliveryStatus.SENT])
        assert tx.outbox([DeliveryStatus.PENDING, DeliveryStatus.RETRYING]) == []
    assert (done.sent_at, done.status) == (T0, DeliveryStatus.SENT)


def test_a_stale_claim_is_recovered_by_another_worker(store: Store) -> None:
    _queue(store, "email")
    with store.write() as tx:
        [row] = tx.claim_due(T0, "crashed", 10)
    with store.write() as tx:
        assert tx.claim_due(T0 + timedelta(minutes=4), "w2", 10) == []
        [recovered] = tx.claim_due(T0 + timedelta(minutes=6), "w2", 10)
    assert (recovered.id, recovered.claimed_by, recovered.attempts) == (row.id, "w2", 2)
    with store.write() as tx:
        assert not tx.finish_delivery(row.id, "crashed", targets=[], status=DeliveryStatus.SENT, now=T0)
        assert tx.finish_delivery(row.id, "w2", targets=[], status=DeliveryStatus.SENT, now=T0)


def test_head_revision_constant_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from monitor.store.db import HEAD_REVISION, LOCATION

    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_update_feeds_writes_many_feeds_with_different_fields_in_one_call(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config("a", "https://a.example/rss"), feed_config("b", "https://b.example/rss")], T0)
        tx.update_feeds([("a", {"etag": '"1"', "consecutive_failures": 0}),
                         ("b", {"last_status": 304}), ("a", {"last_status": 200})])
    with store.read() as tx:
        a, b = tx.feed("a"), tx.feed("b")
    assert a is not None and b is not None
    assert (a.etag, a.last_status, b.last_status, b.etag) == ('"1"', 200, 304, None)
    with pytest.raises(KeyError), store.write() as tx:
        tx.update_feeds([("a", {"no_such_field": 1})])
