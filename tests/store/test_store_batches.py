"""The store's batched paths, on SQLite and PostgreSQL: many feeds' items in one insert (PostgreSQL's column
arrays), listings longer than one lookup, a start-up sync that writes nothing when nothing changed, savepoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, StatementError

from monitor.store import models
from monitor.store.db import Store
from tests.store.test_store import T0, feed_config, linked, make_item


@pytest.fixture
def writes(store: Store) -> Iterator[list[str]]:
    """The INSERT/UPDATE/DELETE statements the store sends from now on."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine, "before_cursor_execute", record)


def test_one_insert_of_many_feeds_stores_each_feeds_entries_and_looks_each_up_in_its_own_feed(store: Store) -> None:
    feeds = [feed_config(f"f{n}", f"https://f{n}.example/rss") for n in range(3)]
    listing = [make_item(f"i{k}", feed_id=f"f{n}") for n in range(3) for k in range(4)]
    with store.write() as tx:
        tx.sync_feeds(feeds, T0)
        first = tx.insert_items(listing, seed=True, fresh=True)
    with store.write() as tx:  # the same ids again, one new in f1: only that one, whatever other feeds hold
        again = tx.insert_items([*listing, make_item("i9", feed_id="f1")], seed=False)
    with store.read() as tx:
        counts = [tx.count_items(f"f{n}") for n in range(3)]
        seeds = set(tx.session.scalars(select(models.ITEM.c.is_seed).where(models.ITEM.c.item_id != "i9")))
    assert [(i.feed_id, i.item_id) for i in first] == [(i.feed_id, i.item_id) for i in listing]
    assert [(i.feed_id, i.item_id) for i in again] == [("f1", "i9")]
    assert counts == [4, 5, 4] and seeds == {True}


def test_a_listing_longer_than_one_lookup_finds_every_stored_id_and_identifying_link(store: Store) -> None:
    count = 450  # lookups go a few hundred ids and links at a time
    stored = [make_item(f"old-{k}") for k in range(count)]
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.insert_items(stored, seed=True)
    later = T0 + timedelta(hours=1)
    # the first 100 entries under their ids, the other 350 under new guids (same links), and two new ones
    moved = [linked(f"new-{k}", item.link, fetched_at=later) for k, item in enumerate(stored) if k >= 100]
    relisted = [dataclasses.replace(item, fetched_at=later) for item in stored[:100]]
    fresh = [linked("fresh-1", "https://news.example/fresh-1", fetched_at=later),
             linked("fresh-2", "https://news.example/fresh-2", fetched_at=later)]
    with store.write() as tx:
        new = tx.insert_items([*moved, *relisted, *fresh], seed=False)
    with store.read() as tx:
        last_seen = set(tx.session.scalars(select(models.ITEM.c.last_seen)))
        total = tx.count_items()
    assert [i.item_id for i in new] == ["fresh-1", "fresh-2"]
    assert total == count + 2 and last_seen == {later}  # every stored entry is still listed, under either name


def test_a_listing_of_only_news_writes_no_update_and_a_relisted_entry_still_moves(
        store: Store, writes: list[str]) -> None:
    """The rows a poll inserts already carry its ``last_seen``: a listing of only news (the common changed feed)
    is one INSERT, no UPDATE; an entry listed again (by id or under a new guid) still has its ``last_seen``
    moved, and a new row keeps the ``last_seen`` it was stored with."""
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.insert_items([make_item("old"), make_item("moved")], seed=True)
    later = T0 + timedelta(hours=1)
    writes.clear()
    with store.write() as tx:
        assert [i.item_id for i in tx.insert_items([make_item("news", fetched_at=later)], seed=False)] == ["news"]
    assert [w.split()[0].upper() for w in writes] == ["INSERT"]
    latest = T0 + timedelta(hours=2)
    writes.clear()
    relisting = [make_item("old", fetched_at=latest), linked("guid-2", "https://news.example/moved", fetched_at=latest),
                 make_item("news-2", fetched_at=latest)]
    with store.write() as tx:
        assert [i.item_id for i in tx.insert_items(relisting, seed=False)] == ["news-2"]
    assert sorted(w.split()[0].upper() for w in writes) == ["INSERT", "UPDATE"]
    with store.read() as tx:
        seen = dict(tx.session.execute(select(models.ITEM.c.item_id, models.ITEM.c.last_seen)).all())
    assert {k: v.astimezone(UTC) for k, v in seen.items()} == {"old": latest, "moved": latest, "news": later,
                                                                "news-2": latest}


def test_item_times_keep_their_instant_and_naive_ones_are_refused(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    published = datetime(2026, 2, 24, 10, 0, tzinfo=eastern)
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.insert_items([make_item("a", published=published)], seed=True, fresh=True)
    with store.read() as tx:
        item = tx.item("wire", "a")
    assert item is not None and item.published == datetime(2026, 2, 24, 15, 0, tzinfo=UTC)
    assert item.published.tzinfo is UTC
    with pytest.raises((StatementError, ValueError), match="naive datetime"), store.write() as tx:
        tx.insert_items([make_item("b", published=datetime(2026, 2, 24, 10, 0))], seed=True, fresh=True)
    with store.read() as tx:
        assert tx.count_items() == 1


def test_sync_feeds_writes_only_what_changed(store: Store, writes: list[str]) -> None:
    feeds = [feed_config(f"f{n}", f"https://f{n}.example/rss") for n in range(5)]
    with store.write() as tx:
        tx.sync_feeds(feeds, T0)
    assert len(writes) == 1  # five new feeds, one statement
    with store.write() as tx:
        tx.update_feed("f1", enabled=False, disabled_reason="HTTP 410 Gone")  # the server said gone
    writes.clear()

    with store.write() as tx:
        tx.sync_feeds(feeds, T0 + timedelta(hours=1))  # the same config again (a new `monitor poll`)
    assert len(writes) == 1  # f1 is enabled again; nothing else is written
    writes.clear()
    with store.write() as tx:
        tx.sync_feeds(feeds, T0 + timedelta(hours=2))
    assert writes == []

    edited = [*feeds[:2], feed_config("f2", "https://moved.example/rss"), feeds[3]]  # f2 moved, f4 removed
    with store.write() as tx:
        tx.sync_feeds(edited, T0 + timedelta(hours=3))
    with store.read() as tx:
        rows = {row.id: row for row in tx.feeds()}
    assert (rows["f1"].enabled, rows["f1"].disabled_reason) == (True, None)
    assert (rows["f2"].url, rows["f2"].next_poll_at) == ("https://moved.example/rss", T0 + timedelta(hours=3))
    assert (rows["f4"].enabled, rows["f4"].disabled_reason) == (False, "removed from config")
    assert rows["f0"].next_poll_at == T0
    writes.clear()
    with store.write() as tx:
        tx.sync_feeds(edited, T0 + timedelta(hours=4))
    assert writes == []  # a removed feed is disabled once


def test_a_savepoint_rolls_back_only_its_block_and_the_transaction_goes_on(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
        tx.insert_items([make_item("kept")], seed=True)
        with pytest.raises(IntegrityError), tx.savepoint():  # on PostgreSQL it would abort the transaction
            tx.insert_items([make_item("dropped")], seed=True)
            tx.insert_items([make_item("orphan", feed_id="no-such-feed")], seed=True)
        with tx.savepoint():
            tx.insert_items([make_item("also kept")], seed=True)
    with store.read() as tx:
        ids = set(tx.session.scalars(select(models.ITEM.c.item_id)))
    assert ids == {"kept", "also kept"}
