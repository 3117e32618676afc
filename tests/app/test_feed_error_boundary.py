"""One error boundary per feed: an exception while processing one feed's fetch is that feed's failure, not the tick's.

The failure is real, not a mock: the database itself refuses one item of the hostile feed (a SQLite trigger that
aborts the insert of its link), so processing that feed raises an IntegrityError inside its transaction. (It used
to be an item whose ``<link>`` was ``http://[zz/``; the parser now reads that item without raising.) Feeds are
served on 127.0.0.1, the store is a real SQLite file, deliveries go to a local webhook receiver; the clock is
injected and moved by the test, never slept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import IntegrityError, OperationalError

from monitor.app.service import Service
from monitor.cli.main import main
from monitor.clock import FixedClock
from monitor.domain import DevelopmentKind
from monitor.ingest.fetch import FetchRequest
from monitor.store.db import Store
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, settings_for, write_config
from tests.receivers import HttpReceiver

BAD_LINK = "https://hostile.example.test/poison"  # the trigger below makes the database refuse this item
ERROR = "internal error: IntegrityError: (sqlite3.IntegrityError) poisoned item"
POISON = ("CREATE TRIGGER IF NOT EXISTS poison BEFORE INSERT ON item WHEN NEW.link = "
          f"'{BAD_LINK}' BEGIN SELECT RAISE(ABORT, 'poisoned item'); END")
BACKGROUND = [("Acme Robotics opens a warehouse in Riverton", "https://old.example.test/1", at("2030-05-01T10:00"))]
NEWS = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban", at("2030-05-30T12:30"))
HOSTILE_ITEMS = [
    ("Acme Robotics hires in Riverton", "https://hostile.example.test/fine", at("2030-05-29T09:00")),
    ("Acme Robotics and the Riverton mayor", BAD_LINK, at("2030-05-29T10:00")),
]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.route("/hostile.xml", body=rss("Hostile Gazette", HOSTILE_ITEMS))
        srv.route("/good.xml", body=rss("City News", BACKGROUND))
        yield srv


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as rec:
        yield rec


def write_two_feed_config(tmp_path: Path, server: FeedServer, receiver: HttpReceiver | None = None,
                          monitor: str = "") -> Path:
    channels = "" if receiver is None else (
        f'[[channels]]\nid = "hook"\nurls = ["{receiver.json_url("/hook")}"]\nformat = "markdown"\n'
        'min_severity = "info"\n'
    )
    feeds = [("hostile", server.url("/hostile.xml"), "ordinary"), ("city-news", server.url("/good.xml"), "ordinary")]
    return write_config(tmp_path, feeds=feeds, channels=channels, monitor=monitor)


def poisoned_store(url: str) -> Store:
    """The configured database, migrated, with the trigger that refuses the hostile feed's poisoned item."""
    store = Store.open(url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        db.execute(POISON)
    return store


def make_service(path: Path, clock: FixedClock) -> Service:
    settings = settings_for(path)
    return Service(settings, poisoned_store(settings.monitor.database_url), clock=clock, rng=random.Random(1))


def test_a_feed_whose_body_raises_fails_alone_while_the_tick_processes_the_good_feed_deadlines_and_delivery(
    tmp_path: Path, server: FeedServer, receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = make_service(write_two_feed_config(tmp_path, server, receiver), clock)

    with caplog.at_level(logging.ERROR, logger="monitor.app.service"):
        first = service.tick(force=True)  # raised out of the tick before the boundary existed

    outcomes = {p.feed_id: (p.outcome, p.error) for p in first.polls}
    assert outcomes == {"hostile": ("failed", ERROR), "city-news": ("seeded", None)}
    traces = [r for r in caplog.records if r.name == "monitor.app.service" and r.exc_info]
    assert [(r.levelno, r.exc_info[0]) for r in traces if r.exc_info] == [(logging.ERROR, IntegrityError)]
    with service.store.read() as tx:
        assert tx.load_deadline_state("acme-ban", "permit") is not None  # deadlines were checked
        assert tx.get_meta("monitor.first_tick_at") is not None  # so was the blind check

    server.route("/good.xml", body=rss("City News", [*BACKGROUND, NEWS]))
    clock.set(at("2030-05-30T12:40"))
    second = service.tick(force=True)

    assert {p.feed_id: (p.outcome, p.new_items) for p in second.polls} == {
        "hostile": ("failed", 0), "city-news": ("ok", 1)
    }
    with service.store.read() as tx:
        devs = tx.developments()
        hostile = tx.feed("hostile")
        hostile_items = tx.count_items("hostile")
        good_item = tx.item("city-news", NEWS[1])
    assert good_item is not None
    assert [(d.kind, d.thread_id, d.to_state) for d in devs] == [(DevelopmentKind.THREAD_CHANGE, "ban", "banned")]
    assert len(receiver.delivered("/hook")) == 1  # delivery ran in the same tick
    assert hostile is not None
    assert (hostile.last_error, hostile.consecutive_failures, hostile.last_status) == (ERROR, 2, 200)
    assert hostile.last_success_at is None and hostile.body_sha256 is None and not hostile.seeded
    assert hostile.next_poll_at is not None and hostile.next_poll_at > clock()  # backed off
    assert hostile_items == 0  # nothing of it stored: even its parseable item stays unseen, for the next poll
    service.store.close()


def test_a_feed_failing_internally_raises_the_feed_failing_alert_after_failure_alert_after_polls_and_recovers(
    tmp_path: Path, server: FeedServer
) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = make_service(write_two_feed_config(tmp_path, server, monitor="failure_alert_after = 3"), clock)

    def failing_alerts() -> list[str]:
        with service.store.read() as tx:
            return [d.title for d in tx.developments() if d.kind == DevelopmentKind.FEED_FAILING]

    for tick in range(3):
        assert failing_alerts() == []
        clock.set(at("2030-05-30T12:00") + tick * timedelta(minutes=30))
        service.tick(force=True)

    assert failing_alerts() == [f"Feed hostile is failing: {ERROR}"]
    with service.store.read() as tx:
        row = tx.feed("hostile")
    assert row is not None and row.consecutive_failures == 3 and row.failing_reported

    # the feed's publisher fixes the link: the items that were rolled back are stored now (a first poll: a seed)
    fixed = [HOSTILE_ITEMS[0], ("Acme Robotics and the Riverton mayor", "https://hostile.example.test/mayor",
                                HOSTILE_ITEMS[1][2])]
    server.route("/hostile.xml", body=rss("Hostile Gazette", fixed))
    clock.set(at("2030-05-30T13:30"))
    report = service.tick(force=True)

    assert {p.feed_id: p.outcome for p in report.polls}["hostile"] == "seeded"
    with service.store.read() as tx:
        row = tx.feed("hostile")
        stored = tx.count_items("hostile")
        kinds = [d.kind for d in tx.developments()]
    assert row is not None and (row.consecutive_failures, row.last_error, row.failing_reported) == (0, None, False)
    assert stored == 2
    assert kinds.count(DevelopmentKind.FEED_FAILING) == 1 and DevelopmentKind.FEED_RECOVERED in kinds
    service.store.close()


def test_a_result_ingested_without_its_row_is_one_transaction_that_fails_whole_and_is_recorded_as_the_feeds(
    tmp_path: Path, server: FeedServer
) -> None:
    """``ingest`` without a feed row (a replay, a test) reads the row in the feed's own write transaction: the
    poisoned item rolls back everything the result wrote, then the failure is recorded; a good feed's result is
    stored whole."""
    clock = FixedClock(at("2030-05-30T12:00"))
    service = make_service(write_two_feed_config(tmp_path, server), clock)
    service.sync_feeds(clock())
    results = service.fetcher.fetch_all([FetchRequest("hostile", server.url("/hostile.xml"), None, None),
                                         FetchRequest("city-news", server.url("/good.xml"), None, None)])

    reports = {r.feed_id: service.ingest(r, body_time=clock()) for r in results}

    assert {f: (r.outcome, r.error) for f, r in reports.items()} == {"hostile": ("failed", ERROR),
                                                                     "city-news": ("seeded", None)}
    with service.store.read() as tx:
        hostile, good = tx.feed("hostile"), tx.feed("city-news")
        counts = (tx.count_items("hostile"), tx.count_items("city-news"))
    assert counts == (0, len(BACKGROUND))
    assert hostile is not None and (hostile.consecutive_failures, hostile.last_error, hostile.seeded) == (1, ERROR,
                                                                                                         False)
    assert good is not None and good.seeded and good.last_success_at == clock()
    service.store.close()


def test_a_database_that_fails_during_a_feed_is_not_blamed_on_the_feed_and_propagates(
    tmp_path: Path, server: FeedServer
) -> None:
    path = write_two_feed_config(tmp_path, server)
    clock = FixedClock(at("2030-05-30T12:00"))
    service = make_service(path, clock)
    service.tick(force=True)
    [result] = service.fetcher.fetch_all([FetchRequest("hostile", server.url("/hostile.xml"), None, None)])
    # the database becomes unusable: its file is gone and a directory stands in its place
    database = tmp_path / "monitor.db"
    service.store.close()
    moved = tmp_path / "moved"
    moved.mkdir()
    for file in tmp_path.glob("monitor.db*"):
        shutil.move(file, moved / file.name)
    database.mkdir()

    with pytest.raises(OperationalError, match="unable to open database file"):
        service.ingest(result, body_time=clock())

    database.rmdir()
    for file in moved.iterdir():
        shutil.move(file, tmp_path / file.name)
    with service.store.read() as tx:
        row = tx.feed("hostile")
    assert row is not None and row.consecutive_failures == 1  # the first tick's failure only
    service.store.close()


@contextlib.contextmanager
def no_logging_configured() -> Iterator[None]:
    """Logging as in a terminal running ``monitor``: no handler on the root logger (pytest's, added for the test's
    call phase, are put back after), so what Python would print to stderr lands in the CliRunner's output."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        yield
    finally:
        root.handlers[:] = saved


def test_monitor_poll_with_a_hostile_feed_exits_0_names_its_error_and_prints_no_traceback(
    tmp_path: Path, server: FeedServer
) -> None:
    config = str(write_two_feed_config(tmp_path, server))
    env = {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}"}  # the config's, whatever the shell has
    poisoned_store(env["MONITOR_DATABASE_URL"]).close()

    with no_logging_configured():
        result = CliRunner().invoke(main, ["--config", config, "poll"], env=env)

    assert result.exception is None, result.output
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith(("hostile", "city-"))}
    assert lines["hostile"].split()[1] == "failed" and lines["hostile"].endswith(ERROR)
    assert lines["city-news"].split()[1] == "seeded"
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["feed hostile: internal error while processing its fetch "
                                          "(contained to this feed)"]

    health = CliRunner().invoke(main, ["--config", config, "feeds", "--json"], env=env)
    assert health.exit_code == 0, health.output
    rows = {row["id"]: row for row in map(json.loads, health.stdout.splitlines())}
    assert (rows["hostile"]["state"], rows["hostile"]["last_error"], rows["hostile"]["consecutive_failures"]) == (
        "failing", ERROR, 1
    )
    assert rows["city-news"]["state"] == "ok"
