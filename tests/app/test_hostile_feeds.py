"""One `monitor poll` against a feed server serving every attack found so far, beside healthy feeds.

The healthy feeds are processed, each attack is recorded in its own feed's health (an error, or a notice of the
cap it went over), the poll exits 0 and its process stays under 200 MB. True end to end: `monitor poll` runs
in a process of its own so that its peak memory is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitor.store.db import Store
from tests.feedserver import FeedServer
from tests.pipeline import at, rss, write_config

REPO = Path(__file__).resolve().parents[2]
NOW = "Sat, 30 May 2030 11:00:00 +0000"  # the poll runs at the real time, long before: every item is old news
MEMORY_LIMIT_MB = 200


def rss_items(*items: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostile</title>'
            "<link>https://hostile.example.test/</link>" + "".join(items) + "</channel></rss>").encode()


def item(title: str, link: str, extra: str = "", date: str = NOW) -> str:
    return (f"<item><title>{escape(title)}</title><link>{escape(link)}</link><guid>{escape(title)}</guid>"
            f"<pubDate>{date}</pubDate>{extra}</item>")


def flood_body(target_mb: float = 9.5) -> bytes:
    """About ``target_mb`` of distinct fresh items (some 75,000)."""
    one = len(item("Acme note 000000", "https://flood.example.test/000000"))
    count = int(target_mb * 2**20 / one)
    return rss_items(*(item(f"Acme note {n:06d}", f"https://flood.example.test/{n:06d}") for n in range(count)))


ATTACKS: dict[str, tuple[str, str]] = {
    # feed id: (what `monitor feeds` must show for it: "error" or "notice", the text it must contain)
    "redirect-port": ("error", "bad URL"),
    "redirect-host": ("error", "bad URL"),
    "redirect-metadata": ("error", "refused: 169.254.169.254 is link-local"),
    "retry-after": ("error", "429"),
    "bad-links": ("ok", ""),
    "unclosed-tags": ("ok", ""),
    "markup": ("ok", ""),
    "flood": ("notice", "over the cap of 200"),
    "one-document-outlets": ("ok", ""),
}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        healthy = [("Acme Robotics opens a warehouse in Riverton", "https://city.example.test/1",
                    at("2030-05-01T10:00"))]
        srv.route("/city.xml", body=rss("City News", healthy))
        srv.route("/metro.xml", body=rss("Metro", [("Riverton mayor meets Acme staff", "https://metro.example.test/1",
                                                    at("2030-05-02T10:00"))]))
        srv.route("/redirect-port", status=302, location="http://127.0.0.1:99999/x")
        srv.route("/redirect-host", status=302, location="http://[zz/x")
        srv.route("/redirect-metadata", status=302, location="http://169.254.169.254/latest/meta-data/")
        srv.route("/retry-after", status=429, headers={"Retry-After": "999999999999"})
        srv.route("/bad-links", body=rss_items(
            item("Acme link one", "http://[zz/"),
            item("Acme link two", "https://ok.example.test/2", '<source url="http://[zz/">Broken Outlet</source>'),
        ))
        srv.route("/unclosed-tags", body=rss_items(item("Acme tags", "https://tags.example.test/1",
                                                        f"<description>{escape('<' * 1_600_000)}</description>")))
        srv.route("/markup", status=302, location="/markup[/x]")
        srv.route("/markup[/x]", body=rss_items(item("Acme [/x] headline [bold]", "https://markup.example.test/[/x]")))
        srv.route("/flood", body=flood_body())
        srv.route("/one-document-outlets", body=rss_items(*(
            item(f"Riverton city council threatens to ban Acme delivery drones, report {n}",
                 f"https://outlet{n}.example.test/story", f'<source url="https://outlet{n}.example.test">Outlet {n}'
                 "</source>", date=f"Sat, 30 May 2030 11:0{n}:00 +0000")
            for n in range(3)
        )))
        yield srv


def run_monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`monitor ARGS` in a process of its own that prints its peak RSS (kB) as its last stderr line.

    The peak is the kernel's high-water mark of this process image (VmHWM), not ``ru_maxrss``: Linux carries
    ``ru_maxrss`` across fork and exec, so a child of a big test process would report the parent's size."""
    probe = ("import atexit, sys\n"
             "def peak():\n"
             "    for line in open('/proc/self/status'):\n"
             "        if line.startswith('VmHWM:'):\n"
             "            return int(line.split()[1])\n"
             "atexit.register(lambda: sys.stderr.write(f'\\nMAXRSS {peak()}\\n'))\n"
             "from monitor.cli.main import main\n"
             "main(prog_name='monitor')\n")
    return subprocess.run([sys.executable, "-c", probe, "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.e2e
def test_one_poll_with_every_attack_processes_the_healthy_feeds_and_records_each_attack(
        tmp_path: Path, server: FeedServer) -> None:
    feeds = [("city-news", server.url("/city.xml"), "ordinary"), ("metro", server.url("/metro.xml"), "ordinary")]
    feeds += [(feed_id, server.url(f"/{feed_id}"), "ordinary") for feed_id in ATTACKS]
    config = write_config(tmp_path, feeds=feeds, feed_extra='backfill = "3650d"')  # every item is news

    polled = run_monitor(config, "poll", "--json")
    assert polled.returncode == 0, polled.stderr
    assert "Traceback" not in polled.stderr
    peak_mb = int(polled.stderr.rsplit("MAXRSS ", 1)[1]) / 1024
    assert peak_mb < MEMORY_LIMIT_MB, f"monitor poll peaked at {peak_mb:.0f} MB"

    listed = run_monitor(config, "feeds", "--json")
    assert listed.returncode == 0, listed.stderr
    health = {row["id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert health["city-news"]["state"] == "ok" and health["metro"]["state"] == "ok"
    assert health["city-news"]["items_seen"] == 1 and health["metro"]["items_seen"] == 1
    for feed_id, (kind, text) in ATTACKS.items():
        row = health[feed_id]
        if kind == "error":
            assert row["state"] == "failing" and text in (row["last_error"] or ""), row
        else:
            assert row["state"] == "ok", row
        if kind == "notice":
            assert text in (row["notice"] or ""), row
    assert health["retry-after"]["next_poll_at"] < "2100"  # capped by backoff_cap, not a year or more ahead
    assert health["flood"]["items_seen"] == 100  # the newest 200 read, 100 stored this poll

    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    try:
        with store.read() as tx:
            developments = tx.developments()
    finally:
        store.close()
    threat = [d for d in developments if d.to_state == "threatened"]
    assert len(threat) == 1 and threat[0].confidence.value == "reported"  # three outlets, one document
    failing = {d.details.get("feed") for d in developments if d.kind.value == "ops.feed_failing"}
    assert "retry-after" in failing  # a feed that asks for years of silence is failing at once
