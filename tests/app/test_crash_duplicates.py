"""Repeated ``kill -9`` while a slow receiver answers: nothing is lost, and the only copies are of messages in flight.

Forty messages wait in the outbox of a SQLite database. ``monitor run`` and ``monitor poll`` processes (alternately)
deliver them to a local webhook that answers each post after 0.3-0.5 s, and each of them is killed with SIGKILL at
a different kind of moment: while one of its posts is open at the receiver (certainly during a send), right after
the receiver answered one (between the answer and the recording, or just after it), early (starting up, claiming),
or at a random moment. Twenty kills, then one ``monitor poll`` runs to the end.

Each process posts to its own path (``/run/<n>``, through ``${HOOK_URL}``), so the receiver knows which process
sent what. The documented bound (docs/operations.md, "Delivery guarantees") is checked exactly:

- every message arrived at least once, and every outbox row ends ``sent``;
- a killed process's messages come again from a later process only if it is the last one it posted (the one in
  flight when it died): a kill at any other moment produces no copy;
- so copies of a message <= 1 + the kills that hit while it was in flight, and all extra copies <= the kills;
- and, as a message in flight at a crash goes to the back of the queue, no message gets a third copy unless the
  kills go round the whole queue (checked when the kill phase posted no more than the number of messages).

The processes are started ahead of their turn with everything imported, and wait for "go" on stdin: the kills then
hit the monitor's own work instead of Python's start-up. Waits are on observable conditions with deadlines.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import pytest

from monitor.app.service import Service
from monitor.clock import system_clock
from monitor.config.load import load_settings
from monitor.domain import Confidence, DeliveryStatus, Development, DevelopmentKind, Severity
from monitor.store.db import Store
from tests.pipeline import write_config

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 40  # at most the delivery batch (50): the final poll claims every one that is left in one pass
KILLS = 20
MODES = ("in flight", "just answered", "early", "any time")
CONDITION_S = 15.0  # deadline for a process to reach the moment it is to be killed at (a loaded machine)
_MESSAGE = re.compile(r"msg-\d{2}")

LAUNCHER = """
import select, sys
import apprise, apscheduler.schedulers.background
import monitor.app.daemon, monitor.app.deliver, monitor.app.service, monitor.cli.main
apprise.Apprise().add("json://127.0.0.1:9/warm-up")  # apprise loads its plugins on first use
print("ready", flush=True)
if sys.stdin.readline().strip() == "go":
    sys.argv = ["monitor", *sys.argv[1:]]
    monitor.cli.main.main()
"""


# ---------------------------------------------------------------------------------------- the receiver
@dataclass
class Post:
    run: int
    message: str | None  # "msg-07"; None when the body did not arrive whole (its sender died while writing it)
    answered: bool = False


class SlowReceiver:
    """A webhook on 127.0.0.1 answering every post with 200 after 0.3-0.5 s; ``posts`` in arrival order."""

    def __init__(self, seed: int = 7) -> None:
        self.posts: list[Post] = []
        self._changed = threading.Condition()
        self._rng = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> SlowReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                    text = f"{payload.get('title')} {payload.get('message')}".replace("\\", "")  # markdown escapes
                    found = _MESSAGE.search(text)
                except ValueError:
                    found = None
                post = Post(int(self.path.rsplit("/", 1)[-1]), found.group(0) if found else None)
                with receiver._changed:
                    receiver.posts.append(post)
                    delay = receiver._rng.uniform(0.3, 0.5)
                    receiver._changed.notify_all()
                    receiver._changed.wait(delay)  # the receiver's latency; the sender waits for the answer
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the sender was killed while waiting
                    pass
                with receiver._changed:
                    post.answered = True
                    receiver._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def url(self, run: int) -> str:
        assert self._server is not None
        return f"json://127.0.0.1:{self._server.server_address[1]}/run/{run}"

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def has_open_post(self, run: int) -> bool:
        """A post of ``run`` has arrived and is not answered yet."""
        with self._changed:
            return any(not p.answered for p in self.posts if p.run == run)


# ----------------------------------------------------------------------------------------- processes
class Prepared:
    """A ``monitor`` process that has imported everything and waits for "go" (started one turn ahead)."""

    def __init__(self, run: int, config: Path, command: str, hook: SlowReceiver, logs: Path) -> None:
        self.run, self.command = run, command
        self._log: IO[bytes] = (logs / f"run-{run:02d}-{command}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, "--config", str(config), command], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            env={**os.environ, "HOOK_URL": hook.url(run), "MONITOR_LOG_LEVEL": "INFO"},
        )

    def go(self) -> None:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        assert ready and self.proc.stdout.readline().strip() == b"ready", f"run {self.run} did not start"
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def running_after(self, seconds: float) -> bool:
        """Wait until the process exits or ``seconds`` pass; True if it still runs."""
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return True
        return False

    def kill(self) -> bool:
        """SIGKILL (if still running) and reap; True if this killed it."""
        alive = self.proc.poll() is None
        if alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._log.close()
        return alive


@pytest.fixture
def hook() -> Iterator[SlowReceiver]:
    with SlowReceiver() as receiver:
        yield receiver


def queue_messages(config: Path, hook: SlowReceiver) -> set[str]:
    """Record MESSAGES developments (one outbox row each), due a minute ago."""
    settings = load_settings(config, env={"HOOK_URL": hook.url(0)})
    store = Store.open(settings.monitor.database_url)
    past = system_clock() - timedelta(minutes=1)
    service = Service(settings, store, clock=lambda: past)
    names = {f"msg-{n:02d}" for n in range(MESSAGES)}
    for name in sorted(names):
        dev = Development(key=name, kind=DevelopmentKind.THREAD_CHANGE, story_id="acme-ban", at=past,
                          title=f"Drone ban: drones banned ({name})", severity=Severity.WARNING,
                          confidence=Confidence.REPORTED, thread_id="ban", from_state="none", to_state="banned")
        with store.write() as tx:
            service.record(tx, dev, past)
    store.close()
    return names


def wait_for_the_moment(hook: SlowReceiver, process: Prepared, mode: str, rng: random.Random) -> None:
    """Until the moment ``process`` is to be killed at (or it has exited, or the deadline passed)."""

    def ended() -> bool:
        return process.proc.poll() is not None

    if mode == "in flight":  # one of its posts arrived and is not answered yet: it is sending
        hook.wait_for(lambda: hook.has_open_post(process.run) or ended(), CONDITION_S)
    elif mode == "just answered":  # the receiver answered one of its posts: it records that now, or sends the next
        hook.wait_for(lambda: any(p.answered for p in hook.posts if p.run == process.run) or ended(), CONDITION_S)
    else:  # a moment chosen by the seeded random generator, from its start-up on
        process.running_after(rng.uniform(0.0, 0.3) if mode == "early" else rng.uniform(0.3, 1.5))


# ---------------------------------------------------------------------------------------------- the test
@pytest.mark.e2e
def test_twenty_kill_9s_around_slow_sends_lose_nothing_and_copy_only_messages_in_flight(
        tmp_path: Path, hook: SlowReceiver) -> None:
    channels = '[[channels]]\nid = "hook"\nurls = ["${HOOK_URL}"]\nmin_severity = "info"\n'
    config = write_config(tmp_path, feeds=[], channels=channels, monitor='tick_interval = "1s"')
    names = queue_messages(config, hook)
    rng = random.Random(20)

    def prepare(run: int) -> Prepared:
        return Prepared(run, config, "run" if run % 2 == 0 else "poll", hook, tmp_path)

    killed: list[tuple[int, str, bool]] = []  # (run, mode, a post of it open at the receiver when it was killed)
    upcoming = prepare(0)
    run = 0
    while len(killed) < KILLS:
        assert run < 2 * KILLS, f"only {len(killed)} kills in {run} runs: the processes exit before their kill"
        current, upcoming = upcoming, prepare(run + 1)
        current.go()
        mode = MODES[run % len(MODES)]
        wait_for_the_moment(hook, current, mode, rng)
        in_flight = hook.has_open_post(current.run)  # (a post still being written shows up later: not counted)
        if current.kill():
            killed.append((current.run, mode, in_flight))
        run += 1

    upcoming.kill()  # prepared, never started: it claimed nothing
    final = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "poll"], cwd=REPO,
                           env={**os.environ, "HOOK_URL": hook.url(run + 1)}, capture_output=True, text=True,
                           timeout=120)
    assert final.returncode == 0, final.stderr
    hook.wait_for(lambda: all(p.answered for p in hook.posts), 10)

    store = Store.open(load_settings(config, env={"HOOK_URL": hook.url(0)}).monitor.database_url)
    with store.read() as tx:
        statuses = Counter(row.status for row in tx.outbox())
    store.close()
    assert statuses == {DeliveryStatus.SENT: MESSAGES}

    posts = [p for p in hook.posts if p.message is not None]
    copies = Counter(p.message for p in posts)
    assert set(copies) == names  # nothing lost: every message arrived at least once

    by_run: dict[int, list[str]] = {}
    for post in posts:
        by_run.setdefault(post.run, []).append(str(post.message))
    inflight_kills: Counter[str] = Counter()
    for victim, _mode, _open in killed:
        sent = by_run.get(victim, [])
        later = {p.message for p in posts if p.run > victim}
        again = {message for message in sent if message in later}
        # a kill not during a message's send produces no copy of it: only the last one posted can come again
        assert again <= set(sent[-1:]), f"run {victim} was killed after sending {sent}; again later: {again}"
        if sent:
            inflight_kills[sent[-1]] += 1
    for message, count in copies.items():
        assert count <= 1 + inflight_kills[message], (message, count, inflight_kills[message])
    extra = sum(copies.values()) - len(copies)
    assert extra <= len(killed)
    # A message in flight at a kill is put back behind every other undelivered one (its next attempt is its send's
    # start, the latest of all), so it can be in flight at a second kill only after the kill phase has posted every
    # message and it once more: more than MESSAGES posts. Short of that, no message has more than two copies.
    kill_phase_posts = sum(1 for p in posts if p.run < run)
    if kill_phase_posts <= MESSAGES:
        assert max(copies.values()) <= 2
    in_flight_kills = sum(1 for _run, _mode, was_open in killed if was_open)
    assert in_flight_kills >= 3  # the test really killed processes in the middle of a send

    distribution = dict(sorted(Counter(copies.values()).items()))
    print(f"\n{len(killed)} kills ({in_flight_kills} with a post open at the receiver) in {run} runs; "
          f"{kill_phase_posts} posts before the clean run, {len(posts)} in all, of {len(copies)} messages; "
          f"copies per message {distribution}; "
          f"max {max(copies.values())}; extra copies {extra}; lost {len(names - set(copies))}")
