"""The whole poll path against real local peers: feeds served on 127.0.0.1, a real SQLite store, a webhook
receiver. The clock is injected (a FixedClock moved by the test), never slept."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app.service import Service
from monitor.cli.reports import feeds_report
from monitor.clock import FixedClock
from monitor.domain import DevelopmentKind
from monitor.ingest.archive import read_archive
from monitor.store.db import Store
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, settings_for, write_config
from tests.receivers import HttpReceiver

BACKGROUND = [("Acme Robotics opens a warehouse in Riverton", "https://old.example.test/1", at("2030-05-01T10:00"))]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as rec:
        yield rec


def make_service(tmp_path: Path, server: FeedServer, receiver: HttpReceiver, clock: FixedClock, *,
                 feeds: list[tuple[str, str, str]] | None = None, monitor: str = "",
                 extra_channels: str = "", **config: str) -> Service:
    feeds = feeds or [("city-news", server.url("/a.xml"), "ordinary")]
    channels = (
        f'[[channels]]\nid = "hook"\nurls = ["{receiver.json_url("/hook")}"]\nformat = "markdown"\n'
        'min_severity = "info"\n' + extra_channels
    )
    path = write_config(tmp_path, feeds=feeds, channels=channels, monitor=monitor, **config)
    settings = settings_for(path)
    store = Store.open(settings.monitor.database_url)
    return Service(settings, store, clock=clock, rng=random.Random(1))


def test_first_poll_seeds_and_a_later_act_alerts_exactly_once(tmp_path: Path, server: FeedServer,
                                                            receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", body=rss("City News", BACKGROUND))
    service = make_service(tmp_path, server, receiver, clock)

    first = service.tick(force=True)
    assert [p.outcome for p in first.polls] == ["seeded"]
    assert first.developments == [] and receiver.requests == []

    news = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban",
            at("2030-05-30T12:30"))
    server.route("/a.xml", body=rss("City News", [*BACKGROUND, news]))
    clock.set(at("2030-05-30T12:40"))
    second = service.tick(force=True)
    assert second.polls[0].new_items == 1
    with service.store.read() as tx:
        devs = tx.developments()
    assert [(d.kind, d.thread_id, d.from_state, d.to_state, d.confidence.value) for d in devs] == [
        (DevelopmentKind.THREAD_CHANGE, "ban", "none", "banned", "reported")
    ]
    assert len(receiver.delivered("/hook")) == 1
    assert "banned" in receiver.delivered("/hook")[0].body.decode()

    clock.set(at("2030-05-30T12:50"))
    third = service.tick(force=True)  # same body again: nothing new, no second alert
    assert third.polls[0].outcome in {"unchanged", "ok"} and third.polls[0].new_items == 0
    assert len(receiver.delivered("/hook")) == 1


def test_hedged_headline_does_not_move_the_thread_to_an_act(tmp_path: Path, server: FeedServer,
                                                          receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", body=rss("City News", BACKGROUND))
    service = make_service(tmp_path, server, receiver, clock)
    service.tick(force=True)
    hedged = ("Riverton council could ban Acme delivery drones", "https://citynews.example.test/could",
              at("2030-05-30T12:30"))
    server.route("/a.xml", body=rss("City News", [*BACKGROUND, hedged]))
    clock.set(at("2030-05-30T12:40"))
    service.tick(force=True)
    with service.store.read() as tx:
        states = tx.thread_states("acme-ban")
        devs = tx.developments()
    assert all(d.to_state != "banned" for d in devs)
    assert states["ban"].state in {"none", "threatened"}


def test_second_independent_outlet_confirms_a_held_move_and_raises_it_to_critical_once(tmp_path: Path,
                                                                                        server: FeedServer,
                                                                 receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", body=rss("City News", BACKGROUND))
    server.route("/b.xml", body=rss("Metro Daily", []))
    confirmed_only = (
        '[[channels]]\nid = "strict"\nurls = ["' + receiver.json_url("/strict") + '"]\nmin_severity = "info"\n'
        'min_confidence = "confirmed"\n'
    )
    service = make_service(
        tmp_path, server, receiver, clock,
        feeds=[("city-news", server.url("/a.xml"), "ordinary"), ("metro", server.url("/b.xml"), "ordinary")],
        extra_channels=confirmed_only,
    )
    service.tick(force=True)
    first = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban",
             at("2030-05-30T12:30"))
    server.route("/a.xml", body=rss("City News", [*BACKGROUND, first]))
    clock.set(at("2030-05-30T12:40"))
    service.tick(force=True)
    assert len(receiver.delivered("/hook")) == 1 and receiver.delivered("/strict") == []
    assert "unconfirmed, one outlet" in receiver.delivered("/hook")[0].json()["title"]  # one outlet: a warning

    second = ("Riverton bars Acme delivery drones from city streets", "https://metro.example.test/drones",
              at("2030-05-30T13:00"))
    server.route("/b.xml", body=rss("Metro Daily", [second]))
    clock.set(at("2030-05-30T13:10"))
    service.tick(force=True)
    with service.store.read() as tx:
        devs = tx.developments()
    assert len(devs) == 1 and devs[0].confidence.value == "confirmed"
    assert {s.outlet for s in devs[0].sources} >= {"City News", "Metro Daily"}
    hook = receiver.delivered("/hook")
    assert len(hook) == 2  # the warning, then once more when confirmation raised it to critical
    assert "unconfirmed" not in hook[1].json()["title"] and hook[1].json()["type"] == "failure"
    assert len(receiver.delivered("/strict")) == 1  # the confirmed-only channel gets it once, now


def test_a_broken_feed_is_contained_and_reported_once_then_recovery_once(tmp_path: Path, server: FeedServer,
                                                                       receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", body=rss("City News", BACKGROUND))
    server.route("/broken.xml", status=500, body=b"oops")
    service = make_service(
        tmp_path, server, receiver, clock, monitor="failure_alert_after = 2",
        feeds=[("city-news", server.url("/a.xml"), "ordinary"), ("broken", server.url("/broken.xml"), "ordinary")],
    )
    outcomes = []
    for minute in range(3):
        clock.set(at("2030-05-30T12:00") + timedelta(minutes=10 * minute))
        report = service.tick(force=True)
        outcomes.append({p.feed_id: p.outcome for p in report.polls})
    assert outcomes[0] == {"city-news": "seeded", "broken": "failed"}
    assert all(o["city-news"] in {"unchanged", "ok", "not modified"} for o in outcomes[1:])
    with service.store.read() as tx:
        kinds = [d.kind for d in tx.developments()]
    assert kinds == [DevelopmentKind.FEED_FAILING]

    server.route("/broken.xml", body=rss("Broken", []))
    clock.set(at("2030-05-30T13:00"))
    service.tick(force=True)
    with service.store.read() as tx:
        kinds = [d.kind for d in tx.developments()]
    assert kinds == [DevelopmentKind.FEED_FAILING, DevelopmentKind.FEED_RECOVERED]
    report = {r["id"]: r for r in feeds_report(service.settings, service.store, clock())}
    assert report["broken"]["state"] == "ok" and report["broken"]["consecutive_failures"] == 0


def test_a_feed_asking_to_be_left_alone_for_years_is_reported_failing_at_once_and_retried_within_the_cap(
        tmp_path: Path, server: FeedServer, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", status=429, headers={"Retry-After": "999999999999"})
    service = make_service(tmp_path, server, receiver, clock, monitor='backoff_cap = "3h"')
    service.tick(force=True)
    report = {r["id"]: r for r in feeds_report(service.settings, service.store, clock())}
    assert report["city-news"]["state"] == "failing"
    assert report["city-news"]["next_poll_at"] <= "2030-05-30T15:00:00Z"  # the cap, not a year ahead
    with service.store.read() as tx:
        assert [d.kind for d in tx.developments()] == [DevelopmentKind.FEED_FAILING]  # one failure was enough


def test_a_poll_stores_at_most_100_new_items_notes_it_once_and_stores_the_rest_next_poll(
        tmp_path: Path, server: FeedServer, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", body=rss("City News", BACKGROUND), etag='"v1"')
    service = make_service(tmp_path, server, receiver, clock)
    service.tick(force=True)
    flood = [(f"Acme warehouse note {n}", f"https://c.example.test/{n}", at("2030-05-30T11:00") + timedelta(seconds=n))
             for n in range(150)]
    server.route("/a.xml", body=rss("City News", [*BACKGROUND, *flood]), etag='"v2"')
    clock.set(at("2030-05-30T12:10"))
    first = service.tick(force=True).polls[0]
    report = {r["id"]: r for r in feeds_report(service.settings, service.store, clock())}["city-news"]
    assert first.new_items == 100
    assert report["notice"] == ("150 new items, over the cap of 100 a poll: stored the newest 100, the rest later")
    clock.set(at("2030-05-30T12:20"))
    second = service.tick(force=True).polls[0]  # the same document: not "not modified", the rest is stored now
    assert second.new_items == 50
    report = {r["id"]: r for r in feeds_report(service.settings, service.store, clock())}["city-news"]
    assert report["notice"] is None and report["items_seen"] == 151


def test_monitor_that_sees_no_feed_for_an_hour_says_it_is_blind_once(tmp_path: Path, server: FeedServer,
                                                                     receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", status=503, body=b"down")
    service = make_service(tmp_path, server, receiver, clock)
    for minutes in (0, 30, 61, 75, 90):
        clock.set(at("2030-05-30T12:00") + timedelta(minutes=minutes))
        service.tick(force=True)
    with service.store.read() as tx:
        blind = [d for d in tx.developments() if d.kind == DevelopmentKind.MONITOR_BLIND]
    assert len(blind) == 1 and blind[0].severity.label == "critical"


def test_gone_feed_is_disabled_and_permanent_redirect_updates_the_url(tmp_path: Path, server: FeedServer,
                                                                     receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/gone.xml", status=410)
    server.route("/moved.xml", status=301, location="/new.xml")
    server.route("/new.xml", body=rss("New home", BACKGROUND))
    service = make_service(
        tmp_path, server, receiver, clock,
        feeds=[("gone", server.url("/gone.xml"), "ordinary"), ("moved", server.url("/moved.xml"), "ordinary")],
    )
    service.tick(force=True)
    report = {r["id"]: r for r in feeds_report(service.settings, service.store, clock())}
    assert report["gone"]["state"] == "disabled" and "410" in report["gone"]["disabled_reason"]
    assert report["moved"]["url"] == server.url("/new.xml")
    clock.set(at("2030-05-30T13:00"))
    service.tick(force=True)
    assert len(server.hits("/gone.xml")) == 1  # disabled feeds are not polled again
    assert server.hits("/new.xml") and len(server.hits("/moved.xml")) == 1  # polled at its new URL


def test_conditional_get_uses_stored_validators(tmp_path: Path, server: FeedServer, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    server.route("/a.xml", body=rss("City News", BACKGROUND), etag='"v1"')
    service = make_service(tmp_path, server, receiver, clock)
    service.tick(force=True)
    clock.set(at("2030-05-30T12:10"))
    report = service.tick(force=True)
    assert report.polls[0].outcome == "not modified"
    assert server.hits("/a.xml")[-1].headers.get("if-none-match") == '"v1"'


def test_poll_with_record_writes_a_replay_archive(tmp_path: Path, server: FeedServer, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    body = rss("City News", BACKGROUND)
    server.route("/a.xml", body=body)
    service = make_service(tmp_path, server, receiver, clock)
    service.record_dir = tmp_path / "archive"
    service.tick(force=True)
    fetches = read_archive(tmp_path / "archive")
    assert [(f.feed_id, f.path.name) for f in fetches] == [("city-news", "20300530T120000Z.xml")]
    assert fetches[0].body() == body


def test_backfill_window_makes_recent_items_of_a_new_feed_news(tmp_path: Path, server: FeedServer,
                                                              receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    recent = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban",
              at("2030-05-30T09:00"))
    server.route("/a.xml", body=rss("City News", [*BACKGROUND, recent]))
    service = make_service(tmp_path, server, receiver, clock, feed_extra='backfill = "6h"')
    report = service.tick(force=True)
    assert report.polls[0].new_items == 1  # the 09:00 item is inside the 6 h window; the May 1 one is a seed
    with service.store.read() as tx:
        assert [d.to_state for d in tx.developments()] == ["banned"]


def test_a_deadline_that_fell_months_before_a_backfilled_first_poll_is_never_announced(
        tmp_path: Path, server: FeedServer, receiver: HttpReceiver) -> None:
    # the deadline (2030-06-01) fell 277 days before this database's first poll; the backfilled item moves a
    # thread and is read for deadline extensions, which stores a deadline state before the deadline check runs
    clock = FixedClock(at("2031-03-05T12:00"))
    recent = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban",
              at("2031-03-05T09:00"))
    server.route("/a.xml", body=rss("City News", [recent]))
    service = make_service(tmp_path, server, receiver, clock, feed_extra='backfill = "6h"')
    for hours in (0, 1, 25):
        clock.set(at("2031-03-05T12:00") + timedelta(hours=hours))
        service.tick(force=True)
    with service.store.read() as tx:
        kinds = [d.kind for d in tx.developments()]
    assert DevelopmentKind.DEADLINE_PASSED not in kinds
    assert DevelopmentKind.THREAD_CHANGE in kinds


def test_feeds_of_a_story_poll_faster_near_its_deadline(tmp_path: Path, server: FeedServer,
                                                       receiver: HttpReceiver) -> None:
    # due 2030-06-01 17:00 America/Chicago = 22:00Z; the surge window is 16:00Z to 04:00Z next day
    server.route("/a.xml", body=rss("City News", BACKGROUND))
    clock = FixedClock(at("2030-06-01T10:00"))
    service = make_service(tmp_path, server, receiver, clock, poll_interval="30m")
    service.tick(force=True)
    normal = feeds_report(service.settings, service.store, clock())[0]["next_poll_at"]
    assert normal >= "2030-06-01T10:27:00Z"
    clock.set(at("2030-06-01T21:00"))
    service.tick(force=True)
    surge = feeds_report(service.settings, service.store, clock())[0]["next_poll_at"]
    assert "2030-06-01T21:01:00Z" <= surge <= "2030-06-01T21:02:30Z"
