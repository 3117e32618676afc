"""Soak benchmark: ``monitor run`` as a subprocess for N minutes against 200 local feeds that change now and then.

Run:  .venv/bin/python tests/benchmarks/soak.py [--minutes 10] [--feeds 200] [--poll 15] [--tick 2]
                                                [--every 3] [--sample 30] [--json]

Feeds are served on 127.0.0.1 (conditional GET with ETags, 20 items each). The story here is built so that
every new item is its own development: relevance needs "Acme" and "Riverton", and a new development needs one
outlet (``min_outlets = 1``) and words no earlier item used (each item carries made-up words). After the seed
poll of every feed, one random feed gets a new item every ``--every`` seconds (on average). A ``json://``
receiver collects the messages; each carries its item's unique link, so the end-to-end latency (the moment
the item appeared on its feed -> the moment the message arrived) is measured per item. The daemon's memory
(VmRSS from /proc/PID/status) is sampled every ``--sample`` seconds. Reported: latency median / p95 / max,
items published vs. delivered, and the RSS series with the growth after the first minutes.
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.feedserver import FeedServer, Route  # noqa: E402
from tests.receivers import HttpReceiver  # noqa: E402

ITEMS_PER_FEED = 20
LINK = re.compile(r"soak\.example\.test/item/(\d+)")
SYLLABLES = ["ka", "zo", "ri", "mu", "te", "vex", "lor", "qui", "dan", "pho", "sil", "bre", "nu", "gar", "toh"]

STORY = """
[[stories]]
id = "soak"
title = "Soak story"
zone = "UTC"

[stories.relevance]
require = [["Acme"], ["Riverton"]]

[stories.new_developments]
min_outlets = 1
known_after = 4
"""


def made_up_word(rng: random.Random, serial: int) -> str:
    """A word no other item uses: the item's serial spelled in syllables, then random ones. (Purely random
    words collide by the birthday rule, and two items sharing a word and a near-identical headline are
    rightly taken for one event, which made earlier runs look as if messages were lost.)"""
    spelled = ""
    while True:
        serial, digit = divmod(serial, len(SYLLABLES))
        spelled += SYLLABLES[digit]
        if not serial:
            break
    return spelled + "".join(rng.choice(SYLLABLES) for _ in range(2))


class Feeds:
    """200 feeds as computed routes; ``publish`` puts a new item on one feed and returns its serial number."""

    def __init__(self, count: int, rng: random.Random) -> None:
        self.rng = rng
        self.lock = threading.Lock()
        self.items: list[list[tuple[int, str, datetime]]] = [[] for _ in range(count)]
        self.routes: list[Route] = []
        self.published: dict[int, float] = {}  # serial -> wall time the item appeared
        self.serial = 0
        for feed in range(count):
            for _ in range(ITEMS_PER_FEED):
                self._add(feed)
            self.routes.append(self._route(feed))

    def _add(self, feed: int) -> int:
        self.serial += 1
        words = " ".join(made_up_word(self.rng, self.serial * 3 + n) for n in range(3))
        title = f"Acme Riverton update {feed}: {words}"
        self.items[feed] = [*self.items[feed], (self.serial, title, datetime.now(UTC))][-ITEMS_PER_FEED:]
        return self.serial

    def _route(self, feed: int) -> Route:
        entries = "".join(
            f"<item><title>{title}</title><link>https://outlet{feed}.soak.example.test/item/{serial}</link>"
            f"<guid>https://outlet{feed}.soak.example.test/item/{serial}</guid>"
            f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
            f"<description>Report {serial} from outlet {feed}.</description></item>"
            for serial, title, published in reversed(self.items[feed])
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {feed}</title><link>https://outlet{feed}.soak.example.test/</link>"
            f"<description>soak</description>{entries}</channel></rss>"
        ).encode()
        return Route(body=body, etag=f'"{feed}-{self.items[feed][-1][0]}"')

    def publish(self) -> int:
        feed = self.rng.randrange(len(self.items))
        with self.lock:
            serial = self._add(feed)
            self.published[serial] = time.time()
            self.routes[feed] = self._route(feed)
        return serial

    def resolve(self, path: str) -> Route | None:
        feed = int(path.rsplit("/", 1)[1].split(".")[0])
        with self.lock:
            return self.routes[feed] if 0 <= feed < len(self.routes) else None


class Receiver(HttpReceiver):
    """The webhook receiver, noting when each item's message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[int, float] = {}
        self.duplicates = 0
        self.seen = 0

    def collect(self) -> None:
        requests = self.requests
        for request in requests[self.seen:]:
            for match in set(LINK.findall(request.body.decode("utf-8", "replace"))):
                serial = int(match)
                if serial in self.arrived:
                    self.duplicates += 1
                else:
                    self.arrived[serial] = time.time()  # collected every 50 ms: that is the resolution
        self.seen = len(requests)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--poll", type=int, default=15, help="each feed's poll interval, seconds")
    parser.add_argument("--tick", type=int, default=2, help="the daemon's tick interval, seconds")
    parser.add_argument("--every", type=float, default=3.0, help="mean seconds between new items (all feeds)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between memory samples")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    rng = random.Random(7)
    feeds = Feeds(args.feeds, rng)

    receiver = Receiver()
    with FeedServer() as server, receiver, tempfile.TemporaryDirectory() as folder:
        server.handler("/f/", feeds.resolve)
        lines = [
            "[monitor]", f'database_url = "sqlite:///{folder}/soak.db"', 'contact = "soak@example.test"',
            f'tick_interval = "{args.tick}s"', "concurrency = 16", "per_host_concurrency = 16",
        ]
        for feed in range(args.feeds):
            lines += ["[[feeds]]", f'id = "feed-{feed}"', f'url = "{server.url(f"/f/{feed}.xml")}"',
                      f'poll_interval = "{args.poll}s"']
        lines += ["[[channels]]", 'id = "hook"', f'urls = ["{receiver.json_url("/hook")}"]', 'min_severity = "info"']
        config = Path(folder) / "soak.toml"
        config.write_text("\n".join(lines) + "\n" + STORY, encoding="utf-8")
        log = (Path(folder) / "daemon.log").open("wb")
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=log)
        started = time.time()
        memory: list[tuple[float, int]] = []
        try:
            # wait for the seed poll of every feed (nothing is news before it)
            while len({r.path for r in server.requests}) < args.feeds:
                if time.time() - started > 120 or daemon.poll() is not None:
                    raise SystemExit("the daemon did not poll every feed within 120 s; see its log")
                time.sleep(0.2)
            time.sleep(args.tick + 1.0)  # let the seed ingest commit
            seeded = time.time()
            end = started + args.minutes * 60
            next_sample = started
            next_item = seeded + rng.expovariate(1 / args.every)
            while time.time() < end:
                now = time.time()
                if now >= next_sample:
                    memory.append((now - started, rss_kib(daemon.pid)))
                    next_sample += args.sample
                if now >= next_item and now < end - args.poll - 10:  # leave time for the last item to arrive
                    feeds.publish()
                    next_item += rng.expovariate(1 / args.every)
                receiver.collect()
                time.sleep(0.05)
            memory.append((time.time() - started, rss_kib(daemon.pid)))
            receiver.collect()
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(30)
            log.close()
        errors = [line for line in (Path(folder) / "daemon.log").read_text().splitlines()
                  if " ERROR " in line or "Traceback" in line]

    latencies = [receiver.arrived[s] - t for s, t in feeds.published.items() if s in receiver.arrived]
    after_warmup = [kib for at, kib in memory if at >= min(180.0, args.minutes * 60 / 3)]
    result = {
        "minutes": args.minutes, "feeds": args.feeds, "poll_s": args.poll, "tick_s": args.tick,
        "items_published": len(feeds.published), "items_delivered": len(latencies),
        "undelivered_published_s_before_end": [round(end - t) for s, t in feeds.published.items()
                                               if s not in receiver.arrived],
        "duplicates": receiver.duplicates, "exit_code": code, "log_errors": len(errors),
        "latency_median_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "rss_mib": [(round(at), round(kib / 1024, 1)) for at, kib in memory],
        "rss_growth_after_warmup_mib": round((after_warmup[-1] - after_warmup[0]) / 1024, 1)
        if len(after_warmup) >= 2 else None,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"soak: {args.minutes:g} min, {args.feeds} feeds polled every {args.poll} s, tick {args.tick} s")
    print(f"items published {result['items_published']}, delivered {result['items_delivered']}, "
          f"duplicates {result['duplicates']}, daemon exit {code}, error lines in its log {len(errors)}")
    print(f"latency published -> received: median {result['latency_median_s']} s, p95 {result['latency_p95_s']} s, "
          f"max {result['latency_max_s']} s")
    print("daemon RSS (s -> MiB): " + ", ".join(f"{at}s {mib}" for at, mib in result["rss_mib"]))
    print(f"RSS growth after warm-up: {result['rss_growth_after_warmup_mib']} MiB")
    if result["undelivered_published_s_before_end"]:
        print("undelivered items, published this many s before the end:",
              result["undelivered_published_s_before_end"])
    for line in errors[:5]:
        print("  log:", line)


if __name__ == "__main__":
    main()
