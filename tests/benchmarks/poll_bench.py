"""Polling benchmark: 1,000 local feeds x 50 items, our fetch+parse against a naive feedparser loop.

Run:  .venv/bin/python tests/benchmarks/poll_bench.py [--feeds 1000] [--items 50]

The feed server runs in a child process (a real server is another machine; sharing our GIL would flatter
nobody). Passes: cold (every feed new: fetch_all + parse_feed), warm (conditional GET, every feed 304),
10% changed, then the naive loop: ``feedparser.parse(url)`` per feed in turn. Peak memory is this process's
peak RSS (resource.getrusage), which includes the interpreter and feedparser's import.
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.domain import SourceKind
from monitor.ingest.fetch import Fetcher, FetchRequest, FetchResult
from monitor.ingest.parse import parse_feed
from tests.feedserver import FeedServer, Route


def feed_body(feed: int, version: int, items: int) -> bytes:
    entries = []
    for n in range(items):
        serial = version * items + n
        entries.append(
            f"<item><title>Feed {feed} story {serial}: Pentagon &amp; Anthropic talks</title>"
            f"<link>https://outlet{feed}.example.com/2026/02/{serial}/?utm_source=rss</link>"
            f'<guid isPermaLink="false">feed{feed}-{serial}</guid>'
            f"<pubDate>Tue, 24 Feb 2026 {n % 24:02d}:{n % 60:02d}:00 GMT</pubDate>"
            f"<description>&lt;p&gt;Summary of story {serial} with &lt;b&gt;markup&lt;/b&gt; and enough words "
            f"to look like a real teaser paragraph from a news site.&lt;/p&gt;</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Outlet {feed}</title>'
        f"<link>https://outlet{feed}.example.com/</link>{''.join(entries)}</channel></rss>"
    ).encode()


def serve(conn: Any, items: int) -> None:
    """Child process: serve /feeds/<n>.xml at version[n]; the parent bumps versions through the pipe."""
    versions: dict[int, int] = {}
    cache: dict[tuple[int, int], Route] = {}

    def route(path: str) -> Route | None:
        feed = int(path.rsplit("/", 1)[1].split(".")[0])
        key = (feed, versions.get(feed, 0))
        if key not in cache:
            cache[key] = Route(body=feed_body(feed, key[1], items), etag=f'"{feed}-{key[1]}"')
        return cache[key]

    with FeedServer() as server:
        server.handler("/feeds/", route)
        conn.send(server.url("/feeds/"))
        while True:
            msg = conn.recv()
            if msg == "stop":
                return
            for feed in msg:
                versions[feed] = versions.get(feed, 0) + 1
            conn.send("ok")


def parse_all(results: list[FetchResult]) -> int:
    count = 0
    for r in results:
        if r.body is not None:
            parsed = parse_feed(r.body, r.headers, feed_id=r.feed_id, source_kind=SourceKind.ORDINARY,
                                fetched_at=datetime.now(UTC), base_url=r.final_url)  # fmt: skip
            count += len(parsed.items)
    return count


def service_passes(parent: Any, urls: list[str], concurrency: int) -> None:
    """The same three passes as whole ``Service.tick`` runs: fetch, parse, SQLite store, story engine."""
    import random
    import tempfile

    from monitor.app.service import Service
    from monitor.clock import system_clock
    from monitor.config.load import load_settings
    from monitor.config.schema import FeedConfig
    from monitor.store.db import Store

    shipped = load_settings(Path(__file__).resolve().parents[2] / "config" / "monitor.toml", env={})
    with tempfile.TemporaryDirectory() as tmp:
        monitor = shipped.monitor.model_copy(
            update={"database_url": f"sqlite:///{tmp}/bench.db", "concurrency": concurrency,
                    "per_host_concurrency": concurrency}
        )
        feeds = tuple(FeedConfig(id=f"f{n}", url=u) for n, u in enumerate(urls))
        settings = shipped.model_copy(update={"monitor": monitor, "feeds": feeds, "channels": ()})
        store = Store.open(monitor.database_url)
        service = Service(settings, store, clock=system_clock, rng=random.Random(0), deliver=False)
        for name in ("service cold", "service warm", "service 10%"):
            if name == "service 10%":
                parent.send(list(range(5, len(urls), 10)))
                parent.recv()
            t0 = time.perf_counter()
            report = service.tick(force=True)
            took = time.perf_counter() - t0
            new = sum(p.new_items for p in report.polls)
            outcomes: dict[str, int] = {}
            for p in report.polls:
                outcomes[p.outcome] = outcomes.get(p.outcome, 0) + 1
            print(f"{name:<14} {took:7.2f} s  new items={new:<6} {outcomes}")
        with store.read() as tx:
            print(f"items stored: {tx.count_items()}")
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory after the service passes: {peak_mb:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--service", action="store_true", help="also time whole ticks through the service and store")
    args = ap.parse_args()
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=serve, args=(child, args.items), daemon=True)
    proc.start()
    base = parent.recv()
    urls = [f"{base}{n}.xml" for n in range(args.feeds)]
    # Every feed shares the one local host here, so the per-host limit is raised to the overall one.
    fetcher = Fetcher(user_agent="deadline-monitor-bench/1", concurrency=args.concurrency, per_host=args.concurrency)
    figures: dict[str, float] = {}

    def timed_pass(name: str, reqs: list[FetchRequest]) -> list[FetchResult]:
        t0 = time.perf_counter()
        results = fetcher.fetch_all(reqs)
        t_fetch = time.perf_counter() - t0
        items = parse_all(results)
        total = time.perf_counter() - t0
        errors = sum(r.error is not None for r in results)
        bodies = sum(r.body is not None for r in results)
        figures[name] = total
        print(f"{name:<12} {total:7.2f} s  (fetch {t_fetch:5.2f} s)  bodies={bodies:<5} 304s="
              f"{sum(r.not_modified for r in results):<5} errors={errors}  items={items}"
              + (f"  {items / total:,.0f} items/s" if items else ""))  # fmt: skip
        figures[f"{name}_items"] = items
        return results

    print(f"{args.feeds} feeds x {args.items} items, concurrency {args.concurrency}")
    cold = timed_pass("cold", [FetchRequest(str(n), u) for n, u in enumerate(urls)])
    warm_reqs = [FetchRequest(r.feed_id, r.requested_url, etag=r.headers.get("etag")) for r in cold]
    timed_pass("warm (304)", warm_reqs)
    changed = list(range(0, args.feeds, 10))
    parent.send(changed)
    parent.recv()
    timed_pass("10% changed", warm_reqs)

    import feedparser

    t0 = time.perf_counter()
    naive_items = sum(len(feedparser.parse(u).entries) for u in urls)
    naive = time.perf_counter() - t0
    print(f"{'naive loop':<12} {naive:7.2f} s  items={naive_items}  {naive_items / naive:,.0f} items/s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"cold pass is {naive / figures['cold']:.1f}x faster than the naive loop")
    print(f"peak memory (max RSS of this process): {peak_mb:.0f} MB")
    targets = [
        ("warm pass < 2 s", figures["warm (304)"] < 2.0),
        ("cold >= 3x naive", naive / figures["cold"] >= 3.0),
        ("peak < 200 MB", peak_mb < 200),
    ]
    print("targets: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets))
    if args.service:
        service_passes(parent, urls, args.concurrency)
    parent.send("stop")
    proc.join(timeout=5)


if __name__ == "__main__":
    main()
