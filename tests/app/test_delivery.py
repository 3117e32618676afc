"""The outbox end to end: developments recorded, delivered per target through apprise to a real local webhook
receiver, retried, dead-lettered, digested, held in quiet hours, and never lost across a restart."""

from __future__ import annotations

import json
import logging
import random
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from monitor.app.service import Service
from monitor.cli.reports import outbox_report
from monitor.clock import FixedClock, system_clock
from monitor.domain import Confidence, DeliveryStatus, Development, DevelopmentKind, Severity
from monitor.store.db import OutboxRow, Store
from monitor.store.locking import Claimant, claimant_of, this_process
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


# ----------------------------------------------------------------------------- claims of processes that are gone
needs_proc = pytest.mark.skipif(not this_process().machine, reason="needs Linux /proc to tell processes apart")


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(["sleep", "120"])
    yield child
    child.kill()
    child.wait(timeout=10)


def exited_claimant(role: str = "worker") -> str:
    """The claimant text of a process of this machine that has exited (and been reaped)."""
    child = subprocess.Popen(["sleep", "120"])
    claimant = claimant_of(child.pid, role)
    child.kill()
    child.wait(timeout=10)
    return str(claimant)


def claim_as(service: Service, claimant: str, now: datetime) -> list[OutboxRow]:
    with service.store.write() as tx:
        return tx.claim_due(now, claimant, 10)


def sending(service: Service) -> list[OutboxRow]:
    with service.store.read() as tx:
        return tx.outbox({DeliveryStatus.SENDING})


@needs_proc
def test_a_row_left_sending_by_an_exited_process_goes_out_on_the_next_poll_without_the_stale_wait(
        tmp_path: Path, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook")), clock)
    record(service, development("d1", "2030-05-30T12:00"))
    assert len(claim_as(service, exited_claimant("worker"), clock())) == 1  # a `monitor poll` killed mid-send
    clock.set(at("2030-05-30T12:00:01"))  # one second on: the 5-minute stale-claim timeout is far away
    report = service.tick()
    assert report.delivered == 1 and len(receiver.delivered("/hook")) == 1
    [row] = outbox_report(service.store, include_sent=True)
    assert row["status"] == "sent"


@needs_proc
def test_a_daemon_becoming_active_releases_a_dead_workers_claims_at_once_and_a_live_ones_never(
        tmp_path: Path, receiver: HttpReceiver, live_process: subprocess.Popen[bytes],
        caplog: pytest.LogCaptureFixture) -> None:
    from monitor.app.daemon import Daemon

    path = write_config(tmp_path, feeds=[], channels=channel("hook", receiver.json_url("/hook")))
    settings = settings_for(path)
    with freeze_time("2030-05-30T12:00:00Z"):
        now = system_clock()
        service = Service(settings, Store.open(settings.monitor.database_url), clock=system_clock)
        for key in ("dead", "alive", "remote", "remote-poll"):
            record(service, development(key, "2030-05-30T12:00"))
        claimants = {"dead": exited_claimant("daemon"), "alive": str(claimant_of(live_process.pid, "worker")),
                     "remote": str(Claimant("daemon", "other-host.example", 7, "99", "0123456789ab")),
                     "remote-poll": str(Claimant("worker", "other-host.example", 8, "99", "0123456789ab"))}
        for key, claimant in claimants.items():  # one row each, in the order they were queued
            with service.store.write() as tx:
                assert [r.development_key for r in tx.claim_due(now, claimant, 1)] == [key]
        daemon = Daemon(str(path), settings, record_dir=None, metrics_port=None, once=True)
        daemon.store = service.store
        with caplog.at_level(logging.WARNING, logger="monitor.app.daemon"):
            daemon._release_orphaned_claims(now)
        with service.store.read() as tx:
            status = {row.development_key: row.status for row in tx.outbox()}
    assert status == {"dead": DeliveryStatus.RETRYING, "alive": DeliveryStatus.SENDING,
                      "remote": DeliveryStatus.RETRYING, "remote-poll": DeliveryStatus.SENDING}
    assert "released 2 delivery(ies)" in caplog.text
    service.store.close()


@needs_proc
def test_a_live_processes_claim_is_never_taken_even_long_after_the_stale_timeout(
        tmp_path: Path, receiver: HttpReceiver, live_process: subprocess.Popen[bytes]) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook")), clock)
    record(service, development("d1", "2030-05-30T12:00"))
    claim_as(service, str(claimant_of(live_process.pid, "worker")), clock())
    for minutes in (1, 6, 60):  # the process still works on it (a slow send): nobody else sends it
        clock.set(at("2030-05-30T12:00") + timedelta(minutes=minutes))
        service.tick()
    assert receiver.requests == [] and len(sending(service)) == 1
    live_process.kill()
    live_process.wait(timeout=10)
    service.tick()  # the same instant: released because its claimant is gone, not because of its age
    assert len(receiver.delivered("/hook")) == 1


def test_a_claim_from_another_machine_waits_out_the_stale_timeout(tmp_path: Path, receiver: HttpReceiver) -> None:
    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook")), clock)
    record(service, development("d1", "2030-05-30T12:00"))
    claim_as(service, str(Claimant("worker", "other-host.example", 7, "99", "0123456789ab")), clock())
    clock.set(at("2030-05-30T12:04:59"))
    service.tick()
    assert receiver.requests == []
    clock.set(at("2030-05-30T12:05:00"))
    service.tick()
    assert len(receiver.delivered("/hook")) == 1


def test_a_worker_does_not_send_a_row_whose_claim_was_released_while_it_sent_another(
        tmp_path: Path, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rows claimed in one batch; while the first is being sent, the second's claim is released and taken by
    another worker (as after a stale timeout). The first worker checks its claim before each send: it skips it."""
    import monitor.app.deliver as deliver
    from monitor.notify.apprise import send

    clock = FixedClock(at("2030-05-30T12:00"))
    service = service_with(tmp_path, channel("hook", receiver.json_url("/hook")), clock)
    record(service, development("first", "2030-05-30T12:00"))
    record(service, development("second", "2030-05-30T12:00"))
    taken: list[OutboxRow] = []

    def send_and_meanwhile_lose_the_second_row(*args: Any, **kwargs: Any) -> Any:
        if not taken:
            with service.store.write() as tx:
                [second] = [r for r in tx.outbox({DeliveryStatus.SENDING}) if r.development_key == "second"]
                assert tx.release_claim(second, clock(), "taken over")
                taken.extend(tx.claim_due(clock(), "other-worker", 10))
        return send(*args, **kwargs)

    monkeypatch.setattr(deliver, "send", send_and_meanwhile_lose_the_second_row)
    report = service.tick()
    bodies = [r.body.decode() for r in receiver.delivered("/hook")]
    assert len(bodies) == 1 and "first" in bodies[0]
    assert [r.development_key for r in taken] == ["second"] and report.delivered == 1
    [left] = sending(service)
    assert (left.development_key, left.claimed_by) == ("second", "other-worker")


class Crash(BaseException):
    """The process dying at this point (nothing catches a BaseException that is not an Exception)."""


def test_a_crash_while_the_second_target_is_sent_resends_only_that_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.app.deliver as deliver
    from monitor.notify.apprise import send

    with HttpReceiver() as first, HttpReceiver() as second:
        clock = FixedClock(at("2030-05-30T12:00"))
        service = service_with(tmp_path, channel("both", first.json_url("/a"), second.json_url("/b")), clock)
        record(service, development("d1", "2030-05-30T12:00"))

        def dies_during_the_second_target(urls: Any, message: Any, *, only: set[int] | None = None,
                                          **kwargs: Any) -> Any:
            results = send(urls, message, only=only, **kwargs)
            if only == {1}:
                raise Crash  # the second target got it; the process died before recording that
            return results

        monkeypatch.setattr(deliver, "send", dies_during_the_second_target)
        with pytest.raises(Crash):
            service.tick()
        [left] = sending(service)
        assert [t["ok"] for t in left.targets] == [True, False]  # the first target's result was kept
        monkeypatch.setattr(deliver, "send", send)
        clock.set(at("2030-05-30T12:06"))  # this process's own claim: the stale-claim timeout
        service.tick()
        assert (len(first.delivered("/a")), len(second.delivered("/b"))) == (1, 2)  # one copy, of the one in flight
    [row] = outbox_report(service.store, include_sent=True)
    assert row["status"] == "sent"
