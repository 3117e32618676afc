"""What a delivered message looks like at a real webhook receiver (apprise ``json://`` posts): apprise's notify type
follows the severity (chat targets colour critical and warning messages), and every message kind names the thread
and its states by their configured titles, never by their ids. The clock is injected and moved by the test."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.app.service import Service
from monitor.clock import FixedClock
from monitor.domain import Confidence, Development, DevelopmentKind, Severity
from monitor.store.db import Store
from tests.pipeline import at, settings_for, write_config
from tests.receivers import HttpReceiver

NOW = "2030-05-30T11:00"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as rec:
        yield rec


def channel(channel_id: str, url: str, extra: str = "") -> str:
    return f'[[channels]]\nid = "{channel_id}"\nurls = ["{url}"]\nmin_severity = "info"\n{extra}\n'


def service_with(tmp_path: Path, channels: str, clock: FixedClock) -> Service:
    settings = settings_for(write_config(tmp_path, feeds=[], channels=channels))
    return Service(settings, Store.open(settings.monitor.database_url), clock=clock, rng=random.Random(3))


def ban(key: str, severity: Severity = Severity.CRITICAL) -> Development:
    """The drone ban thread moving from "threatened" to "banned" (titled "ban threatened" and "drones banned")."""
    return Development(
        key=key, kind=DevelopmentKind.THREAD_CHANGE, story_id="acme-ban", at=at(NOW), title=f"Council votes ({key})",
        severity=severity, confidence=Confidence.REPORTED, thread_id="ban", from_state="threatened", to_state="banned",
    )


def record_and_deliver(service: Service, clock: FixedClock, *devs: Development, deliver_at: str = NOW) -> None:
    for dev in devs:
        with service.store.write() as tx:
            service.record(tx, dev, dev.at)
    clock.set(at(deliver_at))
    service.tick()
    service.store.close()


# -------------------------------------------------------------------------------------------- notify type
def test_critical_and_warning_developments_arrive_as_apprise_failure_and_warning_types_the_rest_as_info(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = FixedClock(at(NOW))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook")), clock)
    record_and_deliver(service, clock, ban("fire", Severity.CRITICAL), ban("smoke", Severity.WARNING),
                       ban("news", Severity.NOTICE))
    types = {key: r.json()["type"] for r in receiver.delivered("/hook") for key in ("fire", "smoke", "news")
             if key in r.json()["title"]}
    assert types == {"fire": "failure", "smoke": "warning", "news": "info"}


def test_a_digest_arrives_with_the_notify_type_of_its_most_severe_development(tmp_path: Path,
                                                                             receiver: HttpReceiver) -> None:
    clock = FixedClock(at(NOW))
    digest = channel("daily", receiver.json_url("/daily"), 'mode = "digest"\ndigest_cron = "0 12 * * *"')
    service = service_with(tmp_path, digest, clock)
    record_and_deliver(service, clock, ban("smoke", Severity.WARNING), ban("fire", Severity.CRITICAL),
                       deliver_at="2030-05-30T12:00")
    [message] = receiver.delivered("/daily")
    assert message.json()["type"] == "failure"


# ------------------------------------------------------------------------------------------- state titles
@pytest.mark.parametrize(
    ("fmt", "moved"),
    [
        ("text", "\nDrone ban: ban threatened -> drones banned\n"),
        ("markdown", "\n**Drone ban**: ban threatened → **drones banned**\n"),
        ("html", "<p><strong>Drone ban</strong>: ban threatened &rarr; <strong>drones banned</strong></p>"),
    ],
    ids=["text", "markdown", "html"],
)
def test_a_message_in_every_format_names_the_thread_and_states_by_their_titles_not_their_ids(
    tmp_path: Path, receiver: HttpReceiver, fmt: str, moved: str
) -> None:
    clock = FixedClock(at(NOW))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook"), f'format = "{fmt}"'), clock)
    record_and_deliver(service, clock, ban("vote"))
    [message] = receiver.delivered("/hook")
    body = message.json()["message"]
    assert moved in body
    assert "ban: threatened" not in body and "threatened -> banned" not in body


def test_a_channel_title_template_gets_the_state_titles_too(tmp_path: Path, receiver: HttpReceiver) -> None:
    clock = FixedClock(at(NOW))
    title = "templates = { title = \"{{ moved.thread }}: {{ moved.old }} to {{ moved.new }}\" }"
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook"), f'format = "text"\n{title}'), clock)
    record_and_deliver(service, clock, ban("vote"))
    [message] = receiver.delivered("/hook")
    assert message.json()["title"] == "Drone ban: ban threatened to drones banned"


def test_a_digest_names_the_thread_and_states_of_each_development_by_their_titles(tmp_path: Path,
                                                                                 receiver: HttpReceiver) -> None:
    clock = FixedClock(at(NOW))
    digest = channel("daily", receiver.json_url("/daily"),
                     'format = "text"\nmode = "digest"\ndigest_cron = "0 12 * * *"')
    service = service_with(tmp_path, digest, clock)
    record_and_deliver(service, clock, ban("first"), ban("second"), deliver_at="2030-05-30T12:00")
    [message] = receiver.delivered("/daily")
    body = message.json()["message"]
    assert body.count("\n  Drone ban: ban threatened -> drones banned") == 2
    assert "ban: threatened" not in body
