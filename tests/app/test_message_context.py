"""A message shows the story as it stood when its development was recorded: the thread line, the deadline countdown
and the titles are frozen on the outbox row, so a retry sent after the thread moved on still tells the old state.
Rows queued before migration 0002 (no frozen context) are rendered from the live state, as before.

Real peers: feeds served on 127.0.0.1, a webhook receiver taking apprise ``json://`` posts, SQLite files and
PostgreSQL (when MONITOR_TEST_POSTGRES_URL is set). The clock is injected and moved by the test.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from monitor.app.service import Service
from monitor.clock import FixedClock
from monitor.store.db import HEAD_REVISION, Store
from monitor.store.migrations import LOCATION
from tests.databases import BACKENDS, database_url_for
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, settings_for, write_config
from tests.receivers import HttpReceiver, Received

BACKGROUND = [("Acme Robotics opens a warehouse in Riverton", "https://old.example.test/1", at("2030-05-01T10:00"))]
THREAT = ("Riverton city council threatens to ban Acme delivery drones", "https://citynews.example.test/threat",
          at("2030-05-30T12:30"))
BAN = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban", at("2030-05-30T13:00"))



@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as rec:
        yield rec


def make_service(tmp_path: Path, database_url: str, server: FeedServer, receiver: HttpReceiver,
                 clock: FixedClock) -> Service:
    channels = (f'[[channels]]\nid = "hook"\nurls = ["{receiver.json_url("/hook")}"]\nformat = "text"\n'
                'min_severity = "info"\n')
    path = write_config(tmp_path, feeds=[("city-news", server.url("/a.xml"), "ordinary")], channels=channels)
    settings = settings_for(path)
    settings = settings.model_copy(
        update={"monitor": settings.monitor.model_copy(update={"database_url": database_url})}
    )
    return Service(settings, Store.open(database_url), clock=clock, rng=random.Random(1))


def poll(service: Service, clock: FixedClock, server: FeedServer, when: str, *items: tuple[str, str, object]) -> None:
    server.route("/a.xml", body=rss("City News", [*BACKGROUND, *items]))  # type: ignore[list-item]
    clock.set(at(when))
    service.tick(force=True)


def deliver_for_hours(service: Service, clock: FixedClock, hours: int) -> None:
    start = clock()
    for hour in range(1, hours + 1):
        clock.set(start + timedelta(hours=hour))
        service.tick()


def about(receiver: HttpReceiver, headline: str) -> list[Received]:
    return [r for r in receiver.delivered("/hook") if r.json()["title"].endswith(headline)]


def test_a_retry_sent_after_the_thread_moved_on_shows_the_thread_and_countdown_as_of_its_development(
    tmp_path: Path, database_url: str, server: FeedServer, receiver: HttpReceiver
) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = make_service(tmp_path, database_url, server, receiver, clock)
    poll(service, clock, server, "2030-05-30T12:00")  # the first poll seeds
    receiver.script("/hook", 500)  # the first message about the threat fails and is retried later
    poll(service, clock, server, "2030-05-30T12:40", THREAT)
    assert [r.answer for r in receiver.requests] == [500]
    poll(service, clock, server, "2030-05-30T13:10", THREAT, BAN)  # the thread moves on: drones banned
    deliver_for_hours(service, clock, 3)
    service.store.close()

    [threat] = about(receiver, "Drone ban: ban threatened (was: none)")
    text = threat.json()["message"]
    assert text.endswith("Threads: Drone ban: ban threatened")  # not "drones banned": that came later
    assert "Deadline: Acme permit deadline: in 2 d 9 h\n" in text  # 12:40 to Jun 1 22:00Z; at 13:10 it was 2 d 8 h
    [ban] = about(receiver, "Drone ban: drones banned (was: ban threatened) (unconfirmed, one outlet)")
    assert ban.json()["message"].endswith("Threads: Drone ban: drones banned")
    assert "Deadline: Acme permit deadline: in 2 d 8 h\n" in ban.json()["message"]


def test_a_message_queued_before_migration_0002_is_rendered_from_the_live_state(
    tmp_path: Path, database_url: str, server: FeedServer, receiver: HttpReceiver
) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = make_service(tmp_path, database_url, server, receiver, clock)
    poll(service, clock, server, "2030-05-30T12:00")
    receiver.default = 500  # nothing is accepted while the database goes back to schema 0001
    poll(service, clock, server, "2030-05-30T12:40", THREAT)
    service.store.close()
    downgrade_to_0001(database_url)  # the queued row loses its frozen context, as a row written by 0001 never had one

    receiver.default = 200
    service = make_service(tmp_path, database_url, server, receiver, clock)  # opening migrates to head again
    assert service.store.schema_version() == HEAD_REVISION
    with service.store.read() as tx:
        assert [row.context for row in tx.outbox()] == [None]
    poll(service, clock, server, "2030-05-30T13:10", THREAT, BAN)
    deliver_for_hours(service, clock, 3)
    service.store.close()

    [threat] = about(receiver, "Drone ban: ban threatened (was: none)")
    text = threat.json()["message"]
    assert text.endswith("Threads: Drone ban: drones banned")  # the live state at delivery
    assert "Drone ban: none -> ban threatened" in text  # titles from today's config


def downgrade_to_0001(database_url: str) -> None:
    store = Store.open(database_url)
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    try:
        with store.engine.connect() as conn, conn.begin():
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        assert store.schema_version() == "0001"
    finally:
        store.close()
