"""A poll pass writes its first polls with no news (seeds) many feeds to a transaction (``monitor.app.seeds``).

Real peers: feeds served on 127.0.0.1, a real SQLite file (and PostgreSQL when MONITOR_TEST_POSTGRES_URL is set);
the store's refusal of one feed's item is a real trigger in the database, not a mock. The clock is injected.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from monitor.app.seeds import SEED_BATCH_ITEMS
from monitor.app.service import Service
from monitor.clock import FixedClock
from monitor.config.load import load_settings
from monitor.store.db import Store
from tests.databases import BACKENDS, database_url_for
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, write_config

NOW = at("2030-05-30T12:00")
PER_FEED = 50
FEEDS = SEED_BATCH_ITEMS // PER_FEED + 5  # more items than one batch holds: two batches and the end of the pass
POISON_FEED = 7
BAD_LINK = "https://hostile.example.test/poison"
POISON = ("CREATE TRIGGER poison BEFORE INSERT ON item WHEN NEW.link = "
          f"'{BAD_LINK}' BEGIN SELECT RAISE(ABORT, 'poisoned item'); END")


def listing(feed: int) -> bytes:
    items = [(f"Story {n} of feed {feed}", f"https://feed{feed}.example.test/{n}", NOW - timedelta(hours=n + 1))
             for n in range(PER_FEED)]
    return rss(f"Feed {feed}", items)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        for feed in range(FEEDS):
            srv.route(f"/{feed}.xml", body=listing(feed), etag=f'"v1-{feed}"')
        yield srv


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url_for(request.param, tmp_path) as url:
        yield url


def make_service(tmp_path: Path, server: FeedServer, database_url: str, clock: FixedClock) -> Service:
    feeds = [(f"feed-{n}", server.url(f"/{n}.xml"), "ordinary") for n in range(FEEDS)]
    settings = load_settings(write_config(tmp_path, feeds=feeds), env={"MONITOR_DATABASE_URL": database_url})
    return Service(settings, Store.open(database_url), clock=clock, rng=random.Random(1))


def commits_of(store: Store) -> list[int]:
    counted = [0]
    event.listen(store.engine, "commit", lambda _conn: counted.__setitem__(0, counted[0] + 1))
    return counted


def test_a_cold_pass_stores_every_seed_in_a_few_transactions_and_the_next_pass_reads_news(
    tmp_path: Path, server: FeedServer, database_url: str
) -> None:
    clock = FixedClock(NOW)
    service = make_service(tmp_path, server, database_url, clock)
    commits = commits_of(service.store)

    report = service.tick(force=True)

    assert {p.feed_id: (p.outcome, p.new_items) for p in report.polls} == {
        f"feed-{n}": ("seeded", 0) for n in range(FEEDS)}
    # one per feed before; now two batches, the end of the pass, sync, deadlines, the blind check, delivery
    assert commits[0] < 10 < FEEDS
    with service.store.read() as tx:
        rows = {row.id: row for row in tx.feeds()}
        assert tx.count_items() == FEEDS * PER_FEED
        assert tx.developments() == []  # seeds are not news
    assert {feed_id: (row.seeded, row.items_seen, row.etag) for feed_id, row in rows.items()} == {
        f"feed-{n}": (True, PER_FEED, f'"v1-{n}"') for n in range(FEEDS)}

    # the next pass: one feed lists a new entry on top of its seeds, the others answer 304
    items = [("Riverton city council bans Acme delivery drones", "https://feed3.example.test/ban", NOW)]
    items += [(f"Story {n} of feed 3", f"https://feed3.example.test/{n}", NOW - timedelta(hours=n + 1))
              for n in range(PER_FEED)]
    server.route("/3.xml", body=rss("Feed 3", items), etag='"v2-3"')
    clock.set(NOW + timedelta(minutes=30))
    second = service.tick(force=True)

    outcomes = {p.feed_id: (p.outcome, p.new_items) for p in second.polls}
    assert outcomes.pop("feed-3") == ("ok", 1)
    assert set(outcomes.values()) == {("not modified", 0)}
    with service.store.read() as tx:
        assert tx.feed("feed-3").items_seen == PER_FEED + 1  # type: ignore[union-attr]
        assert tx.count_items() == FEEDS * PER_FEED + 1
    service.store.close()


def test_a_seed_the_store_refuses_fails_alone_and_the_rest_of_its_batch_is_stored(
    tmp_path: Path, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    items = [(f"Story {n} of feed {POISON_FEED}", f"https://feed{POISON_FEED}.example.test/{n}", NOW)
             for n in range(PER_FEED - 1)] + [("A poisoned entry", BAD_LINK, NOW)]
    server.route(f"/{POISON_FEED}.xml", body=rss("Poisoned", items))
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    service = make_service(tmp_path, server, url, FixedClock(NOW))
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        db.execute(POISON)

    with caplog.at_level(logging.ERROR, logger="monitor.app.service"):
        report = service.tick(force=True)

    outcomes = {p.feed_id: (p.outcome, p.error) for p in report.polls}
    error = "internal error: IntegrityError: (sqlite3.IntegrityError) poisoned item"
    assert outcomes.pop(f"feed-{POISON_FEED}") == ("failed", error)
    assert set(outcomes.values()) == {("seeded", None)}
    assert [r.getMessage() for r in caplog.records if r.exc_info] == [
        f"feed feed-{POISON_FEED}: internal error while processing its fetch (contained to this feed)"]
    with service.store.read() as tx:
        poisoned = tx.feed(f"feed-{POISON_FEED}")
        assert tx.count_items(f"feed-{POISON_FEED}") == 0  # even its good entries: rolled back with the feed
        assert tx.count_items() == (FEEDS - 1) * PER_FEED
        others = [row for row in tx.feeds() if row.id != f"feed-{POISON_FEED}"]
    assert poisoned is not None and not poisoned.seeded and poisoned.etag is None
    assert (poisoned.consecutive_failures, poisoned.last_error, poisoned.items_seen) == (1, error, 0)
    assert all(row.seeded and row.items_seen == PER_FEED for row in others)
    service.store.close()
