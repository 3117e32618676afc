"""The outbox end to end: developments recorded, delivered per target through apprise to a real local webhook
receiver, retried, dead-lettered, digested, held in quiet hours, and never lost across a restart."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from monitor.app.service import Service
from monitor.cli.reports import outbox_report
from monitor.clock import FixedClock, system_clock
from monitor.domain import Confidence, Development, DevelopmentKind, Severity
from monitor.store.db import Store
from tests.clirunner import monitor
from tests.pipeline import at, settings_for, write_config
from tests.receivers import HttpReceiver

SECRET = "s3cr3t-token-value"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as rec:
        yield rec


def development(key: str, when: str, severity: Severity = Severity.WARNING) -> Development:
    return Development(
        key=key, kind=DevelopmentKind.THREAD_CHANGE, story_id="acme-ban", at=at(when),
        title=f"Drone ban: drones banned ({key})", severity=severity, confidence=Confidence.REPORTED,
        thread_id="ban", from_state="none", to_state="banned",
    )


def service_with(tmp_path: Path, channels: str, clock: object) -> Service:
    path = write_config(tmp_path, feeds=[], channels=channels)
    settings = settings_for(path)
    return Service(settings, Store.open(settings.monitor.database_url), clock=clock,  # type: ignore[arg-type]
                   rng=random.Random(3))


def record(service: Service, dev: Development) -> None:
    with service.store.write() as tx:
        service.record(tx, dev, dev.at)


def channel(channel_id: str, *urls: str, extra: str = "") -> str:
    quoted = ", ".join(f'"{u}"' for u in urls)
    return f'[[channels]]\nid = "{channel_id}"\nurls = [{quoted}]\nmin_severity = "info"\n{extra}\n'


def test_target_failing_three_times_then_recovering_gets_exactly_one_message(tmp_path: Path,
                                                                           receiver: HttpReceiver) -> None:
    receiver.script("/hook", 500, 500, 500)
    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook")), clock)
    record(service, development("d1", "2030-05-30T12:00"))
    for hour in range(6):
        clock.set(at("2030-05-30T12:00") + timedelta(hours=hour))
        service.tick()
    assert len(receiver.requests) == 4
    assert len(receiver.delivered("/hook")) == 1
    [row] = outbox_report(service.store, include_sent=True)
    assert row["status"] == "sent" and row["targets"][0]["attempts"] == 4


def test_two_targets_on_one_channel_are_retried_independently(tmp_path: Path, receiver: HttpReceiver) -> None:
    receiver.script("/flaky", 500, 500)
    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("both", receiver.json_url("/good"), receiver.json_url("/flaky")), clock)
    record(service, development("d1", "2030-05-30T12:00"))
    for hour in range(4):
        clock.set(at("2030-05-30T12:00") + timedelta(hours=hour))
        service.tick()
    assert len(receiver.delivered("/good")) == 1  # never sent twice
    assert len(receiver.delivered("/flaky")) == 1
    assert len([r for r in receiver.requests if r.path == "/flaky"]) == 3


def test_permanently_failing_target_is_dead_lettered_after_max_age_and_reported(tmp_path: Path,
                                                                                receiver: HttpReceiver) -> None:
    with HttpReceiver(default=500) as dead_end:
        channels = channel("broken", dead_end.json_url("/x", secret=SECRET)) + channel(
            "ops", receiver.json_url("/ops"), extra='kinds = ["ops."]'
        )
        with freeze_time("2030-05-30T12:00:00Z") as frozen:
            service = service_with(tmp_path, channels, system_clock)
            record(service, development("d1", "2030-05-30T12:00"))
            for _ in range(30):
                frozen.tick(timedelta(hours=1))
                service.tick()
        rows = {r["channel"]: r for r in outbox_report(service.store, include_sent=True)}
    assert rows["broken"]["status"] == "dead"
    assert 3 <= rows["broken"]["attempts"] <= 26
    [ops_message] = receiver.delivered("/ops")
    assert "broken" in ops_message.body.decode()
    assert SECRET not in json.dumps(rows) and SECRET not in ops_message.body.decode()


def test_quiet_hours_hold_non_critical_messages_until_they_end(tmp_path: Path, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T23:00"))
    quiet = channel("night", receiver.json_url("/night"), extra='quiet_hours = "22:00-07:00"\nzone = "UTC"')
    service = service_with(tmp_path, quiet, clock)
    record(service, development("calm", "2030-05-30T23:00", Severity.WARNING))
    record(service, development("fire", "2030-05-30T23:00", Severity.CRITICAL))
    service.tick()
    [urgent] = receiver.delivered("/night")  # the critical one goes at once
    assert "fire" in urgent.body.decode() and "calm" not in urgent.body.decode()
    clock.set(at("2030-05-31T06:59"))
    service.tick()
    assert len(receiver.delivered("/night")) == 1
    clock.set(at("2030-05-31T07:00"))
    service.tick()
    assert len(receiver.delivered("/night")) == 2


def test_digest_channel_sends_one_grouped_message_on_its_schedule(tmp_path: Path, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T09:00"))
    digest = channel("daily", receiver.json_url("/daily"), extra='mode = "digest"\ndigest_cron = "0 12 * * *"')
    service = service_with(tmp_path, digest, clock)
    record(service, development("first", "2030-05-30T09:00"))
    clock.set(at("2030-05-30T10:30"))
    record(service, development("second", "2030-05-30T10:30"))
    clock.set(at("2030-05-30T11:59"))
    service.tick()
    assert receiver.delivered("/daily") == []
    clock.set(at("2030-05-30T12:00"))
    service.tick()
    [message] = receiver.delivered("/daily")
    text = message.body.decode()
    assert "first" in text and "second" in text
    assert text.index("second") < text.index("first")  # newest first


def test_secrets_never_appear_in_outbox_output_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with HttpReceiver(default=500) as failing:
        clock = FixedClock(at("2030-05-30T12:00"))
        service = service_with(tmp_path, channel("hook", failing.json_url("/x", secret=SECRET)), clock)
        record(service, development("d1", "2030-05-30T12:00"))
        with caplog.at_level(logging.DEBUG):
            service.tick()
        report = outbox_report(service.store)
    assert report[0]["status"] == "retrying"
    assert SECRET not in json.dumps(report)
    assert SECRET not in caplog.text


def test_a_second_worker_picks_up_a_crashed_workers_delivery_and_sends_at_most_twice(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    """Worker A claims a row, sends it, and dies before recording the result. After the stale-claim timeout a
    second worker (``monitor poll``, on a store of its own) delivers it: the message arrives twice at most, and
    a second row A had claimed but not yet sent arrives exactly once. Nothing is lost."""
    path = write_config(tmp_path, feeds=[], channels=channel("hook", receiver.json_url("/hook")))
    settings = settings_for(path)
    store = Store.open(settings.monitor.database_url)
    past = system_clock() - timedelta(minutes=30)
    service = Service(settings, store, clock=lambda: past, rng=random.Random(1))
    record(service, development("sentnotrecorded", past.isoformat()[:16]))
    record(service, development("claimednotsent", past.isoformat()[:16]))
    with store.write() as tx:
        claimed = tx.claim_due(past, "worker-a", 10)
    assert len(claimed) == 2
    from monitor.app.deliver import _message
    from monitor.notify.apprise import send

    with store.read() as tx:
        dev = tx.development("sentnotrecorded")
    assert dev is not None
    send(settings.channels[0].urls, _message(settings, store, settings.channels[0], [dev], past))  # then "crash"
    store.close()

    done = monitor("poll", env={"MONITOR_CONFIG": str(path)})
    assert done.exit_code == 0, done.stderr
    bodies = [r.body.decode() for r in receiver.delivered("/hook")]
    assert sum("sentnotrecorded" in b for b in bodies) == 2
    assert sum("claimednotsent" in b for b in bodies) == 1
    store = Store.open(settings.monitor.database_url)
    assert {r["status"] for r in outbox_report(store, include_sent=True)} == {"sent"}
    store.close()


def test_critical_alert_repeats_until_acknowledged(tmp_path: Path, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("pager", receiver.json_url("/pager"), extra='repeat = "30m"'), clock)
    record(service, development("fire", "2030-05-30T12:00", Severity.CRITICAL))
    record(service, development("calm", "2030-05-30T12:00", Severity.WARNING))
    service.tick()
    assert len(receiver.delivered("/pager")) == 2
    clock.set(at("2030-05-30T12:31"))
    service.tick()
    repeated = receiver.delivered("/pager")[2:]
    assert len(repeated) == 1 and "fire" in repeated[0].body.decode()  # only the critical one repeats
    with service.store.write() as tx:
        assert tx.acknowledge("fire", clock())
    for minutes in (62, 93, 124):
        clock.set(at("2030-05-30T12:00") + timedelta(minutes=minutes))
        service.tick()
    assert len(receiver.delivered("/pager")) == 3
