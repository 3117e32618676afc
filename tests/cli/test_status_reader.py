"""``monitor status`` and ``monitor feeds`` read through ``monitor.store.status.StatusReader`` (plain queries, no
ORM): on SQLite and PostgreSQL it must return what the store's own queries return, fall back to the full store
for a database that needs a migration, and report damage in one line."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.app.health import HEARTBEAT_KEY, STARTED_KEY, STOPPED_KEY
from monitor.cli.status import status_report
from monitor.config.load import load_settings
from monitor.domain import Confidence, DeliveryStatus
from monitor.store.db import HEAD_REVISION, Store
from monitor.store.locking import sqlite_file
from monitor.store.status import SCHEMA_REVISION, StatusReader, plain_psycopg_params, plain_sqlite_file
from tests.clirunner import ARCHIVE, FICTIONAL, copy_database, monitor
from tests.databases import BACKENDS, database_url_for

NOW = datetime(2031, 1, 1, tzinfo=UTC)
THREAD_GONE = "gone"  # a thread row whose development is no longer stored


@pytest.fixture(params=BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path: Path, fixture_replay: object) -> Iterator[str]:
    """The fixture archive replayed into a fresh database of each backend, plus what a replay does not leave:
    daemon marks, a failing, a disabled and a noted feed, a dead and a pending delivery, a thread whose
    development is gone."""
    with database_url_for(request.param, tmp_path) as url:
        if request.param == "sqlite":
            target = Path(str(sqlite_file(url)))
            target.parent.mkdir(parents=True)
            copy_database(fixture_replay.db, target)  # type: ignore[attr-defined]
        else:
            done = monitor("--config", str(FICTIONAL), "replay", str(ARCHIVE), "--db", url, "--json")
            assert done.exit_code == 0, done.stderr
        store = Store.open(url)
        try:
            with store.write() as tx:
                tx.set_meta(STARTED_KEY, (NOW - timedelta(hours=2)).isoformat(), NOW - timedelta(hours=2))
                tx.set_meta(HEARTBEAT_KEY, NOW.isoformat(), NOW - timedelta(seconds=30))
                tx.set_meta(STOPPED_KEY, "clean", NOW - timedelta(days=1, microseconds=7))
                feeds = [row.id for row in tx.feeds()]
                tx.update_feed(feeds[0], consecutive_failures=3, last_error="HTTP 500", last_status=500,
                               conditional_supported=True)
                tx.update_feed(feeds[1], enabled=False, disabled_reason="gone (410)", conditional_supported=False)
                tx.update_feed(feeds[2], notice="over the item cap", next_poll_at=NOW + timedelta(minutes=7))
                [dev, *_] = tx.developments()
                for channel in ("desk", "pager"):
                    assert tx.enqueue(dev.key, channel, confidence=Confidence.REPORTED, release_at=NOW, now=NOW,
                                      targets=2)
                [claimed] = [row for row in tx.claim_due(NOW, "worker", limit=100) if row.channel_id == "desk"]
                assert tx.finish_delivery(claimed.id, "worker", targets=[], status=DeliveryStatus.DEAD,
                                          last_error="gave up after 3 days", now=NOW)
                story = load_settings(FICTIONAL).stories[0]
                tx.save_story_parts(story.id, {}, {}, {THREAD_GONE: ("threatened", NOW, "no-such-development")},
                                    NOW)
        finally:
            store.close()
        yield url


def test_the_reader_returns_what_the_stores_own_queries_return(filled: str) -> None:
    settings = load_settings(FICTIONAL)
    store = Store.open(filled)
    try:
        with store.read() as tx:
            feeds = {row.id: row for row in tx.feeds()}
            metas = {key: tx.get_meta(key) for key in (HEARTBEAT_KEY, STARTED_KEY, STOPPED_KEY, "nothing")}
            threads = {story.id: tx.thread_states(story.id) for story in settings.stories}
            known = {key: tx.development_record(key) is not None
                     for rows in threads.values() for row in rows.values() if (key := row.development_key)}
            deadlines = {(s.id, d.id): tx.load_deadline_state(s.id, d.id) for s in settings.stories
                         for d in s.deadlines}  # fmt: skip
            outbox = tx.outbox()
        reader = StatusReader.open(filled)
        assert reader is not None
        with reader:
            read_feeds = reader.feeds()
            assert [row.id for row in read_feeds] == sorted(feeds)
            for health in read_feeds:
                stored = feeds[health.id]
                for name in health.__slots__:
                    assert getattr(health, name) == getattr(stored, name), (health.id, name)
                    assert type(getattr(health, name)) is type(getattr(stored, name)), (health.id, name)
            assert {key: reader.meta(key) for key in metas} == metas
            for story_id, rows in threads.items():
                read = reader.threads(story_id)
                assert set(read) == set(rows) and THREAD_GONE in read
                for thread_id, row in rows.items():
                    now = read[thread_id]
                    assert (now.state, now.since) == (row.state, row.since)
                    expected = row.development_key if row.development_key and known[row.development_key] else None
                    assert now.development_key == expected
            assert {key: reader.deadline_state(*key) for key in deadlines} == deadlines
            assert any(deadlines.values())
            assert reader.delivery_counts() == Counter(row.status.value for row in outbox)
            dead = [(r.id, r.channel_id, r.development_key, r.last_error) for r in outbox
                    if r.status == DeliveryStatus.DEAD]
            assert [(d.id, d.channel_id, d.development_key, d.last_error) for d in reader.dead_letters()] == dead
        # the same queries on the store's own engine (SQLAlchemy Core), and on SQLite through an engine of the
        # reader's own (a URL with a query is not read with sqlite3 directly)
        assert status_report(settings, store, NOW) == _report_through_reader(settings, filled)
        if filled.startswith("sqlite:///"):
            assert _report_through_reader(settings, f"{filled}?timeout=30") == status_report(settings, store, NOW)
    finally:
        store.close()


def _report_through_reader(settings: object, url: str) -> dict[str, object]:
    reader = StatusReader.open(url)
    assert reader is not None
    with reader:
        return status_report(settings, reader, NOW)  # type: ignore[arg-type]


def test_status_shows_health_threads_feeds_and_deliveries_read_without_the_orm(filled: str) -> None:
    report = json.loads(monitor("--config", str(FICTIONAL), "status", "--json",
                                env={"MONITOR_DATABASE_URL": filled}).stdout)
    assert report["health"]["started_at"] is not None and report["health"]["last_tick_at"] is not None
    threads = {t["id"]: t for t in report["stories"][0]["threads"]}
    assert THREAD_GONE not in threads  # not configured: not shown
    # claimed and left sending: the replay's 10 console deliveries and the pager one
    assert report["deliveries"]["dead"] == 1 and report["deliveries"]["sending"] == 11
    [dead] = report["dead_letters"]
    assert dead["last_error"] == "gave up after 3 days" and len(dead["development_id"]) == 8
    feeds = {f["id"]: f for f in report["feeds"]}
    assert [f["state"] for f in feeds.values()].count("failing") == 1
    assert [f["state"] for f in feeds.values()].count("disabled") == 1
    assert sum(1 for f in feeds.values() if f["notice"] == "over the item cap") == 1
    listed = [json.loads(line) for line in monitor("--config", str(FICTIONAL), "feeds", "--json",
                                                   env={"MONITOR_DATABASE_URL": filled}).stdout.splitlines()]
    assert listed == report["feeds"]
    text = monitor("--config", str(FICTIONAL), "status", env={"MONITOR_DATABASE_URL": filled}).stdout
    assert "DEAD #" in text and "gave up after 3 days" in text and "(note: over the item cap)" in text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_that_needs_a_migration_is_opened_as_the_full_store_which_migrates_it(
        backend: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from monitor.store.migrations import LOCATION

    with database_url_for(backend, tmp_path) as url:
        if backend == "sqlite":
            Path(str(sqlite_file(url))).parent.mkdir(parents=True)
        engine = create_engine(url)
        with engine.begin() as conn:  # the schema as the previous migration left it
            config = Config()
            config.set_main_option("script_location", str(LOCATION))
            config.attributes["connection"] = conn
            command.upgrade(config, "0003")
        engine.dispose()
        assert StatusReader.open(url) is None  # its queries may not fit an older schema: it declines
        done = monitor("--config", str(FICTIONAL), "status", "--json", env={"MONITOR_DATABASE_URL": url})
        assert done.exit_code == 0, done.stderr
        assert [f["state"] for f in json.loads(done.stdout)["feeds"]] == ["new"] * 7
        store = Store.open(url)
        assert store.schema_version() == HEAD_REVISION
        store.close()
        reader = StatusReader.open(url)  # at head now: read the light way
        assert reader is not None
        reader.close()


def test_the_reader_is_written_for_the_newest_migration() -> None:
    # when a migration changes the tables, check the reader's queries and move SCHEMA_REVISION with it
    assert SCHEMA_REVISION == HEAD_REVISION


def test_the_reader_declines_a_file_that_is_not_a_database_and_the_store_says_why(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    assert StatusReader.open(f"sqlite:///{junk}") is None
    done = monitor("--config", str(FICTIONAL), "status", db=junk)
    assert done.exit_code == 1 and "database" in done.stderr and "Traceback" not in done.stderr


def test_a_damaged_stored_time_is_one_line_and_exit_1(fixture_replay: object, tmp_path: Path) -> None:
    db = copy_database(fixture_replay.db, tmp_path / "damaged.db")  # type: ignore[attr-defined]
    with sqlite3.connect(db) as conn:
        assert conn.execute("UPDATE feed SET last_success_at = 'yesterday-ish'").rowcount >= 1
    for command in ("status", "feeds"):
        done = monitor("--config", str(FICTIONAL), command, db=db)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.exit_code == 1 and len(lines) == 1 and "the database cannot be read" in lines[0], done.stderr


def test_a_table_gone_from_a_database_at_the_newest_revision_is_one_line_and_exit_1(filled: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(filled)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE thread_state")  # the driver's own error reaches the error boundary
    engine.dispose()
    done = monitor("--config", str(FICTIONAL), "status", env={"MONITOR_DATABASE_URL": filled})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.exit_code == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the database cannot be read or written (") and "thread_state" in lines[0]


def test_a_missing_database_is_named_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "state" / "none.db"
    for url in (f"sqlite:///{missing}", f"sqlite:///{missing}?timeout=5"):  # the light reader's URL, and not
        for command in ("status", "feeds"):
            done = monitor("--config", str(FICTIONAL), command, env={"MONITOR_DATABASE_URL": url})
            assert done.exit_code == 1 and f"no database at {missing.resolve()} yet" in done.stderr, (url, done.stderr)
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("url", [
    "sqlite:///state/monitor.db", "sqlite:////tmp/x/../y.db", "sqlite+pysqlite:///rel.db", "sqlite:///a@b.db",
    "sqlite:///:memory:", "sqlite://", "sqlite:///file:x.db?mode=ro&uri=true", "sqlite:///x.db?timeout=5",
    "sqlite:///caf%C3%A9.db", "postgresql+psycopg://u:p@h/db", "sqlite:///", "mysql:///x.db",
])  # fmt: skip
def test_plain_sqlite_file_agrees_with_the_stores_reading_of_a_url_or_leaves_it_to_the_store(url: str) -> None:
    plain = plain_sqlite_file(url)
    if plain is not None:
        assert plain == sqlite_file(url)
    if "?" in url or "%" in url or not url.startswith("sqlite") or url.endswith((":memory:", "//", "///")):
        assert plain is None


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:5432/test", "postgresql+psycopg://u:p%40ss@h/db", "postgresql+psycopg://",
    "postgresql+psycopg:///db?host=/var/run/postgresql", "postgresql+psycopg://:pw@h/d", "postgresql+psycopg://u:@h/d",
    "postgresql+psycopg://u@h:5432/test?options=-csearch_path%3Dmonitor_test_abc",
    "postgresql+psycopg://u@h/d%20x?sslmode=&application_name=m", "postgresql+psycopg://h1,h2/db",
    "postgresql+psycopg://[::1]/db", "postgresql+psycopg://u@h:abc/db", "postgresql://u@h/db",
    "postgresql+psycopg://u@h/db?a=1&a=2", "sqlite:///x.db",
])  # fmt: skip
def test_plain_psycopg_params_are_the_connect_arguments_sqlalchemys_dialect_gives_or_left_to_it(url: str) -> None:
    from sqlalchemy.dialects.postgresql.psycopg import dialect
    from sqlalchemy.engine import make_url

    params = plain_psycopg_params(url)
    if params is not None:
        assert params == dialect().create_connect_args(make_url(url))[1]
    if any(mark in url for mark in (",", "[", ":abc", "a=1&a=2")) or not url.startswith("postgresql+psycopg"):
        assert params is None
