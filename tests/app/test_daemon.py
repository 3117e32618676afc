"""``monitor run`` as a real subprocess against real local peers: a feed server, an SMTP server, a webhook
receiver and (where the machine has one) PostgreSQL. Intervals are short ("1s" tick, "2s" feed polls); the
tests wait on conditions with a deadline, never sleep to move time. These tests are marked ``e2e``; the
``status`` commands they run beside a daemon run in-process. Health thresholds are checked in-process with an
injected ``now`` (not ``e2e``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from monitor.cli.reports import HEARTBEAT_KEY, STARTED_KEY, STOPPED_KEY, daemon_health, status_report
from monitor.store.db import Store
from monitor.store.locking import InstanceLock
from tests.clirunner import monitor
from tests.feedserver import FeedServer
from tests.pipeline import STORY, rss, settings_for
from tests.receivers import HttpReceiver, SmtpReceiver, parts

REPO = Path(__file__).resolve().parents[2]
POLL_S = 2.0
SECRET = "hunter2-daemon-secret"
OLD = ("Acme Robotics opens a warehouse in Riverton", "https://old.example.test/1")
BAN = ("Riverton city council bans Acme delivery drones", "https://citynews.example.test/ban")
LIFT = ("Riverton mayor lifts the ban on Acme delivery drones", "https://citynews.example.test/lift")


# ------------------------------------------------------------------------------------------- helpers
def wait_until(condition: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
    """Poll ``condition`` every 0.1 s until it is truthy (returned) or ``timeout`` seconds pass (fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def feed_body(*entries: tuple[str, str]) -> bytes:
    now = datetime.now(UTC)
    return rss("City News", [(title, link, now) for title, link in entries])


def write_daemon_config(folder: Path, feeds: list[tuple[str, str]], channels: str, *, database_url: str = "",
                        monitor: str = "", name: str = "monitor.toml") -> Path:
    """A config with 2 s feed polls and a 1 s tick (tests/pipeline.py's feeds poll every minute)."""
    url = database_url or f"sqlite:///{folder / 'monitor.db'}"
    lines = ["[monitor]", f'database_url = "{url}"', 'contact = "test@example.test"', 'tick_interval = "1s"',
             monitor]
    for feed_id, feed_url in feeds:
        lines += ["[[feeds]]", f'id = "{feed_id}"', f'url = "{feed_url}"', f'poll_interval = "{POLL_S:.0f}s"']
    text = "\n".join(lines) + "\n" + STORY.format(due="2030-06-01T17:00:00") + "\n" + channels
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def channel(channel_id: str, url: str, fmt: str = "markdown") -> str:
    return f'[[channels]]\nid = "{channel_id}"\nurls = ["{url}"]\nformat = "{fmt}"\nmin_severity = "info"\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DaemonProcess:
    """One ``monitor run`` subprocess; stderr goes to a file (a full pipe would block the daemon)."""

    def __init__(self, config: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        self._log: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", *args],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=self._log, env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Start daemons; whatever is still running at the end of the test is killed."""
    started: list[DaemonProcess] = []

    def _start(config: Path, *args: str, env: dict[str, str] | None = None, name: str = "daemon") -> DaemonProcess:
        daemon = DaemonProcess(config, tmp_path / f"{name}-{len(started)}.log", *args, env=env)
        started.append(daemon)
        return daemon

    yield _start
    for daemon in started:
        daemon.kill()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


def meta(store: Store, key: str) -> tuple[str, datetime] | None:
    with store.read() as tx:
        return tx.get_meta(key)


def statuses(store: Store) -> list[str]:
    with store.read() as tx:
        return [r.status.value for r in tx.outbox()]


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    """``monitor run --once`` in a process of its own (the daemon sets up logging and signal handlers)."""
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.e2e
def test_run_once_ticks_pings_the_heartbeat_url_and_records_the_heartbeat(tmp_path: Path,
                                                                         feeds: FeedServer) -> None:
    feeds.route("/a.xml", body=feed_body(("Acme opens office in Riverton", "https://c.example.test/1")))
    feeds.route("/alive", body=b"ok", content_type="text/plain")
    config = write_daemon_config(tmp_path, [("city", feeds.url("/a.xml"))], "",
                                 monitor=f'heartbeat_url = "{feeds.url("/alive")}"')
    done = run_once(config)
    assert done.returncode == 0, done.stderr
    assert len(feeds.hits("/alive")) == 1 and len(feeds.hits("/a.xml")) == 1
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    try:
        assert meta(store, HEARTBEAT_KEY) is not None
    finally:
        store.close()


@pytest.mark.e2e
def test_run_once_exits_1_when_its_tick_failed(tmp_path: Path, feeds: FeedServer) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    config = write_daemon_config(tmp_path, [("city", feeds.url("/a.xml"))], "")
    assert run_once(config).returncode == 0
    with sqlite3.connect(tmp_path / "monitor.db") as db:  # a stored state no code can read: the tick fails
        assert db.execute("UPDATE deadline_state SET state_json = '{broken'").rowcount == 1
    done = run_once(config)
    assert done.returncode == 1, done.stderr
    assert "tick failed" in done.stderr


@pytest.mark.e2e
def test_run_once_beside_an_active_instance_exits_0_at_once_instead_of_waiting(tmp_path: Path,
                                                                               feeds: FeedServer) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    config = write_daemon_config(tmp_path, [("city", feeds.url("/a.xml"))], "")
    lock = InstanceLock(settings_for(config).monitor.database_url)
    assert lock.try_acquire()
    try:
        done = run_once(config)  # run_once's own timeout (60 s) fails the test if it waits as a standby
    finally:
        lock.release()
    assert done.returncode == 0, done.stderr
    assert "another instance is active" in done.stderr and not feeds.hits("/a.xml")


@pytest.mark.e2e
def test_run_with_a_metrics_port_in_use_says_so_in_one_line_and_exits_1(tmp_path: Path, feeds: FeedServer) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    config = write_daemon_config(tmp_path, [("city", feeds.url("/a.xml"))], "")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run", "--once",
                               "--metrics-port", str(port)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.e2e
def test_deadline_reminder_and_passing_fire_at_their_instants_between_ticks(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    """With a 60 s tick, only the daemon's date jobs can send a reminder due 6 s after start and the passing
    due 10 s after start on time."""
    from zoneinfo import ZoneInfo

    feeds.route("/a.xml", body=feed_body(OLD))
    due = (datetime.now(UTC) + timedelta(seconds=10)).replace(microsecond=0)
    local = due.astimezone(ZoneInfo("America/Chicago")).replace(tzinfo=None)
    config = write_daemon_config(tmp_path, [("city", feeds.url("/a.xml"))], channel("chat", hook.json_url("/hook")))
    text = config.read_text().replace("tick_interval = \"1s\"", "tick_interval = \"60s\"")
    text = text.replace("due = 2030-06-01T17:00:00", f"due = {local.isoformat()}")
    config.write_text(text.replace('reminders = ["24h", "1h"]', 'reminders = ["4s"]'))
    start(config)
    wait_until(lambda: len(hook.delivered("/hook")) >= 2, 25, "the reminder and the passing")
    arrived = datetime.now(UTC)
    assert arrived - due < timedelta(seconds=5)
    store = Store.open(settings_for(config).monitor.database_url)
    try:
        with store.read() as tx:
            got = [(d.kind.value, d.at) for d in tx.developments()]
    finally:
        store.close()
    assert got == [("deadline.reminder", due - timedelta(seconds=4)), ("deadline.passed", due)]


# ----------------------------------------------------------------------------------------- end to end
@pytest.mark.e2e
def test_new_item_arrives_by_email_and_chat_within_poll_interval_plus_5s_and_the_seed_poll_alerts_nothing(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    with SmtpReceiver() as smtp:
        config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml"))],
                                     channel("chat", hook.json_url("/hook")) + channel("mail", smtp.mailto_url(),
                                                                                       "html"))
        store = Store.open(settings_for(config).monitor.database_url)
        daemon = start(config)
        wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick (the seed poll)")
        assert hook.requests == [] and smtp.messages == []  # the items already there are background, not news

        feeds.route("/a.xml", body=feed_body(OLD, BAN))
        published = time.monotonic()
        wait_until(lambda: hook.delivered("/hook") and smtp.messages, POLL_S + 5, "the email and the chat message")
        latency = time.monotonic() - published
        assert latency <= POLL_S + 5

        [chat] = hook.delivered("/hook")
        [mail] = smtp.messages
        payload = chat.json()
        assert "drones banned" in payload["title"] + payload["message"]
        assert BAN[1] in payload["message"]
        assert "drones banned" in str(mail["subject"]) and BAN[1] in parts(mail)["html"]
        assert mail["to"] == "desk@example.org"

        daemon.signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
        assert len(hook.requests) == 1 and len(smtp.messages) == 1  # once each, nothing more
        store.close()


@pytest.mark.e2e
def test_sigterm_in_the_middle_of_a_slow_fetch_exits_0_within_10s_and_status_shows_the_run(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml"))], channel("chat", hook.json_url()))
    store = Store.open(settings_for(config).monitor.database_url)
    daemon = start(config)
    wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick")

    running = monitor("--config", str(config), "status", "--check", "--json")
    assert running.exit_code == 0, running.stderr
    health = json.loads(running.stdout)["health"]
    assert health["running"] and health["ok"] and health["started_at"] and health["last_tick_at"]

    # the next poll hangs inside the fetch (the server answers after 25 s; the fetch timeout is 30 s)
    before = len(feeds.hits("/a.xml"))
    feeds.route("/a.xml", body=feed_body(OLD), delay=25.0)
    wait_until(lambda: len(feeds.hits("/a.xml")) > before, POLL_S + 5, "a poll in flight")
    sent = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert time.monotonic() - sent < 10
    stopped = meta(store, STOPPED_KEY)
    started = meta(store, STARTED_KEY)
    assert stopped and started and stopped[1] >= started[1]
    assert "in-flight work did not finish" in daemon.log()
    store.close()
    stopped_check = monitor("--config", str(config), "status", "--check")
    assert stopped_check.exit_code == 1 and "stopped" in stopped_check.stderr


@pytest.mark.parametrize(
    ("since_last_tick", "ok", "reason"),
    [
        (timedelta(seconds=5), True, "ok"),
        (timedelta(seconds=119), True, "ok"),  # stall bound: max(4 ticks, 2 min)
        (timedelta(minutes=2, seconds=1), False, "stalled or down"),
        (timedelta(days=3), False, "stalled or down"),
    ],
)
def test_health_check_fails_once_the_last_tick_is_older_than_the_stall_bound(
        tmp_path: Path, since_last_tick: timedelta, ok: bool, reason: str) -> None:
    config = write_daemon_config(tmp_path, [], "")
    settings = settings_for(config)
    store = Store.open(settings.monitor.database_url)
    tick = datetime(2030, 5, 30, 12, 0, tzinfo=UTC)
    with store.write() as tx:
        tx.set_meta(STARTED_KEY, tick.isoformat(), tick)
        tx.set_meta(HEARTBEAT_KEY, tick.isoformat(), tick)
    health = status_report(settings, store, tick + since_last_tick)["health"]
    store.close()
    assert (health["ok"], health["running"]) == (ok, ok)
    assert reason in health["reason"]


def test_health_check_fails_right_after_a_clean_stop_without_waiting_for_the_stall_bound(tmp_path: Path) -> None:
    """A daemon that recorded its stop is down now, not in two minutes: status must not say 'running'."""
    config = write_daemon_config(tmp_path, [], "")
    settings = settings_for(config)
    store = Store.open(settings.monitor.database_url)
    tick = datetime(2030, 5, 30, 12, 0, tzinfo=UTC)
    with store.write() as tx:
        tx.set_meta(STARTED_KEY, tick.isoformat(), tick)
        tx.set_meta(HEARTBEAT_KEY, tick.isoformat(), tick)
        tx.set_meta(STOPPED_KEY, (tick + timedelta(seconds=1)).isoformat(), tick + timedelta(seconds=1))
    health = daemon_health(settings, store, tick + timedelta(seconds=5))
    store.close()
    assert (health["ok"], health["running"]) == (False, False)
    assert "stopped" in health["reason"]


# ---------------------------------------------------------------------------------------------- crashes
@pytest.mark.e2e
def test_kill_9_while_a_message_is_in_flight_then_a_restart_delivers_it_at_most_twice(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml"))], channel("chat", hook.json_url()))
    store = Store.open(settings_for(config).monitor.database_url)
    first = start(config)
    wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick")
    hook.script("/hook", "hang")  # the daemon claims the row and is mid-send when it dies
    feeds.route("/a.xml", body=feed_body(OLD, BAN))
    wait_until(lambda: hook.requests, POLL_S + 5, "the first delivery attempt")
    first.proc.send_signal(signal.SIGKILL)
    first.wait(10)

    second = start(config)
    restarted = time.monotonic()
    wait_until(lambda: hook.delivered("/hook"), 20, "the message after the restart")
    assert time.monotonic() - restarted < 20  # not after the store's 5-minute stale-claim timeout
    assert len(hook.requests) == 2  # the unanswered attempt and the one that landed: at most one duplicate
    assert "released 1 delivery" in second.log()
    # the receiver answers before the daemon records the result: wait for the record, each read a fresh one
    wait_until(lambda: statuses(store) == ["sent"], 5, "the delivery recorded")
    store.close()


@pytest.mark.e2e
def test_kill_9_right_after_a_new_item_appears_then_a_restart_sends_it_at_least_once_and_at_most_twice(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml"))], channel("chat", hook.json_url()))
    store = Store.open(settings_for(config).monitor.database_url)
    first = start(config)
    wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick")
    before = len(feeds.hits("/a.xml"))
    feeds.route("/a.xml", body=feed_body(OLD, BAN))
    wait_until(lambda: len(feeds.hits("/a.xml")) > before, POLL_S + 5, "the poll that sees the new item")
    first.proc.send_signal(signal.SIGKILL)  # somewhere between fetching, recording and sending
    first.wait(10)

    start(config)
    wait_until(lambda: hook.delivered("/hook"), 20, "the message after the restart")
    wait_until(lambda: statuses(store) == ["sent"], 5, "the delivery recorded")  # a fresh read each time
    assert 1 <= len(hook.delivered("/hook")) <= 2
    store.close()


# --------------------------------------------------------------------------------------- reload, logs
@pytest.mark.e2e
def test_sighup_with_an_invalid_config_keeps_the_old_one_and_a_valid_one_is_applied(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    feeds.route("/b.xml", body=feed_body(OLD))
    chat = channel("chat", hook.json_url())
    config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml"))], chat)
    store = Store.open(settings_for(config).monitor.database_url)
    daemon = start(config)
    wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick")
    good = config.read_text(encoding="utf-8")

    config.write_text(good.replace('tick_interval = "1s"', 'tick_interval = "soon"'), encoding="utf-8")
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: "config reload failed" in daemon.log(), 10, "the reload failure in the log")
    assert "monitor.tick_interval" in daemon.log()
    hits = len(feeds.hits("/a.xml"))
    wait_until(lambda: len(feeds.hits("/a.xml")) > hits, POLL_S + 5, "polls going on with the old config")
    assert daemon.proc.poll() is None

    write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml")), ("metro", feeds.url("/b.xml"))], chat)
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: feeds.hits("/b.xml"), 10, "the feed added by the new config")
    assert "config reloaded: 2 feed(s)" in daemon.log()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    store.close()


@pytest.mark.e2e
def test_json_log_format_writes_one_json_object_per_line_and_never_a_secret(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    hook.script("/hook", 500)  # a failed attempt makes the delivery code log about the target
    config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml"))],
                                 '[[channels]]\nid = "chat"\nurls = ["${HOOK_URL}"]\nmin_severity = "info"\n')
    daemon = start(config, "--log-format", "json", env={"HOOK_URL": hook.json_url("/hook", secret=SECRET),
                                                        "MONITOR_LOG_LEVEL": "DEBUG"})
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick (the seed poll)")
    store.close()
    feeds.route("/a.xml", body=feed_body(OLD, BAN))
    wait_until(lambda: hook.requests, POLL_S + 5, "the first (failing) delivery attempt")
    config.write_text(config.read_text(encoding="utf-8") + "\n[broken\n", encoding="utf-8")
    daemon.signal(signal.SIGHUP)  # a config error message is one more place a secret could leak
    wait_until(lambda: "config reload failed" in daemon.log(), 10, "the reload failure")
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0

    text = daemon.log()
    assert SECRET not in text
    assert hook.requests and all(r.headers.get("Authorization") for r in hook.requests)  # the secret was in use
    entries = [json.loads(line) for line in text.splitlines()]
    assert entries and all({"ts", "level", "logger", "message"} <= entry.keys() for entry in entries)
    messages = " ".join(entry["message"] for entry in entries)
    assert "this instance is now active" in messages and "failed" in messages and "stopped" in messages


@pytest.mark.e2e
def test_metrics_port_serves_prometheus_text_with_feed_delivery_and_tick_gauges(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess]) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    feeds.route("/broken.xml", status=500, body=b"oops", content_type="text/plain")
    config = write_daemon_config(tmp_path, [("city-news", feeds.url("/a.xml")), ("broken", feeds.url("/broken.xml"))],
                                 channel("chat", hook.json_url()))
    port = free_port()
    start(config, "--metrics-port", str(port))

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    text = wait_until(lambda: (body := scrape()) and 'monitor_feeds{state="failing"} 1.0' in body and body, 20,
                      "metrics after the first tick")
    assert 'monitor_feeds{state="ok"} 1.0' in text
    assert 'monitor_feeds{state="disabled"} 0.0' in text
    assert "monitor_items_ingested_total 1.0" in text
    assert 'monitor_deliveries{status="dead"} 0.0' in text
    assert 'monitor_deliveries{status="pending"} 0.0' in text
    assert "monitor_developments_total 0.0" in text
    [stamp] = [line for line in text.splitlines() if line.startswith("monitor_last_tick_timestamp_seconds ")]
    assert abs(float(stamp.split()[1]) - time.time()) < 30


# --------------------------------------------------------------------------------------------- postgres
@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL for one test, dropped afterwards."""
    base = os.environ.get("MONITOR_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("MONITOR_TEST_POSTGRES_URL is not set")
    import psycopg

    name = f"monitor_daemon_{uuid.uuid4().hex[:12]}"
    admin_url = base.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.e2e
@pytest.mark.postgres
def test_two_daemons_on_postgres_only_one_polls_and_the_standby_takes_over_without_duplicates(
        tmp_path: Path, feeds: FeedServer, hook: HttpReceiver, start: Callable[..., DaemonProcess],
        postgres_url: str) -> None:
    feeds.route("/a.xml", body=feed_body(OLD))
    feed = [("city-news", feeds.url("/a.xml"))]
    chat = channel("chat", hook.json_url())
    configs = {
        who: write_daemon_config(tmp_path, feed, chat, database_url=postgres_url, name=f"{who}.toml",
                                 monitor=f'user_agent = "daemon-{who}"')
        for who in ("a", "b")
    }

    def pollers() -> set[str]:
        return {r.headers.get("user-agent", "") for r in feeds.requests}

    a = start(configs["a"], name="a")
    wait_until(lambda: "this instance is now active" in a.log(), 30, "daemon a to become active")
    b = start(configs["b"], name="b")
    wait_until(lambda: "hot standby" in b.log(), 30, "daemon b to wait as a standby")
    store = Store.open(postgres_url)
    wait_until(lambda: meta(store, HEARTBEAT_KEY), 20, "the first tick (the seed poll) of daemon a")
    store.close()
    feeds.route("/a.xml", body=feed_body(OLD, BAN))
    wait_until(lambda: hook.delivered("/hook"), POLL_S + 5, "the first message")
    polls = len(feeds.requests)
    wait_until(lambda: len(feeds.requests) >= polls + 2, 3 * POLL_S + 5, "more polls while both run")
    assert pollers() == {"daemon-a"}
    assert len(hook.requests) == 1

    a.proc.send_signal(signal.SIGKILL)
    a.wait(10)
    killed = time.monotonic()
    wait_until(lambda: "daemon-b" in pollers(), 30, "the standby to take over")
    assert time.monotonic() - killed <= 30
    feeds.route("/a.xml", body=feed_body(OLD, BAN, LIFT))
    # "lifted" moves the thread back (one outlet: held for confirmation, so the permit deadline stays open): one
    # message, from b
    wait_until(lambda: len(hook.delivered("/hook")) >= 2, POLL_S + 5, "the message sent by the new active daemon")
    b.signal(signal.SIGTERM)
    assert b.wait(10) == 0
    titles = [r.json()["title"] for r in hook.requests]
    assert len(titles) == 2 and len(set(titles)) == 2  # nothing sent twice, the first message not again by b
    assert "drones banned" in titles[0] and "ban lifted" in titles[1] and "unconfirmed" in titles[1]
