"""Whole-command benchmark on a local feed farm: `monitor poll` cold and warm, as a user runs it, beside baselines.

Run:  .venv/bin/python tests/benchmarks/farm_bench.py --feeds 1000 [--db sqlite|postgres] [--rounds 3] [--markdown]

One invocation measures, round by round (the rounds are interleaved so that the noise of a shared machine falls
on every measure alike; each figure is the median of the rounds and every ratio is against a baseline measured
in the same run):

1. a feed farm in a child process on 127.0.0.1 (asyncio, one write per response, TCP_NODELAY): N feeds of 50
   distinct RSS items, with ETag and Last-Modified, so a second pass is all 304s. The feeds are spread over
   ``--ports`` listening ports (default: concurrency / per-host limit of the default config = 4), so the
   default config's per-host limit (2) does not cap the whole poll below its overall concurrency (8): a real
   feed list spans many hosts. ``--server threaded`` serves the same farm with ``tests/feedserver.py`` instead.
2. ``python -m monitor --config <generated> poll`` as a subprocess: cold (fresh database: the first poll seeds
   every feed) and warm (the second poll: every feed 304); wall time and peak RSS (VmHWM of the child, read
   from /proc/self/status at exit by a tiny wrapper; ru_maxrss is useless here, Linux carries it across fork
   and exec). The config is generated: the farm's feeds, the shipped story, the default [monitor] settings.
3. baselines, each a subprocess through the same wrapper: (a) the naive loop ``feedparser.parse(url)`` per
   feed in turn (cold); (b) the raw httpx floor: one ``httpx.AsyncClient``, concurrency 8, conditional headers
   on the warm pass (cold and warm); (c) a sync ``httpx.Client`` in a thread pool of 8 (cold and warm).
4. the daemon's in-process warm tick: ``Service.tick(force=True)`` on the same config and database (the first
   tick of a new Service, and the next one), beside the raw httpx floor's warm pass run in-process.
5. per-item cost through the service with a ~1 MB stored story state: the shipped story's state is grown by
   ``Service.process_items`` with synthetic items (as in story_bench.py) until its stored JSON is ~1 MB, the
   item table is filled to 1k, 10k, 100k (``--items-max``) stored items, and new items go through
   ``Service.ingest`` of a fetch result (parse, store, story, feed row), 25 a poll and one a poll; the state is
   restored to the same snapshot before each round (then one untimed poll of one item lets the service reload
   it). Baseline: ``story.advance`` with the JSON round trip of the state on the same items and state (what
   story_bench.py times).
6. ``monitor status`` on the database the polls left (N feeds, N x 50 items) beside ``monitor --help`` and
   ``python -c pass``.

Temporary folders, SQLite files and PostgreSQL databases (``bench_farm_<pid>_*``, created through
``postgres@127.0.0.1:5432``) are removed at the end, also on failure or Ctrl-C.
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
sys.path.insert(0, str(ROOT))  # the monitor package of this tree (a `git archive` copy measures that commit)
PY = sys.executable
ITEMS_PER_FEED = 50
HWM_MARK = "farm_bench VmHWM"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"

# The wrapper every measured subprocess runs under: runs a module (like ``python -m``), a script, or ``-c CODE``,
# then prints this process's own peak RSS (VmHWM) on stderr, whatever way it exits.
WRAPPER = r"""
import os, runpy, sys
def _hwm():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    sys.stdout.flush()
                    os.write(2, ("\nfarm_bench VmHWM " + line.split()[1] + "\n").encode())
    except Exception:
        pass
target, sys.argv = sys.argv[1], sys.argv[1:]
try:
    if target == "-c":
        exec(compile(sys.argv[1], "<string>", "exec"), {"__name__": "__main__"})
    elif target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
finally:
    _hwm()
"""


# ============================================================================================ the feed farm
_SUBJECTS = [
    "City council", "The Federal Reserve", "Regional hospital group", "State lawmakers", "Apple", "Airbus",
    "The teachers' union", "The port authority", "The European Commission", "Local farmers", "Tesla",
    "A federal judge", "The Senate", "County police", "University researchers", "The school board", "Boeing",
    "Transit officials", "The water utility", "Microsoft", "The health department", "Amazon", "Shipping firms",
    "The governor", "Wildlife officials", "The central bank", "Hotel workers", "The energy regulator", "Nvidia",
    "Fire crews", "The mayor", "Nurses", "The World Bank", "Airline pilots", "The housing agency", "Samsung",
]
_VERBS = [
    "approves", "delays", "rejects", "weighs", "unveils", "cuts", "expands", "investigates", "warns on",
    "backs", "sues over", "pauses", "revives", "scraps", "defends", "criticises", "signs off on", "reviews",
]
_OBJECTS = [
    "2027 budget", "new light-rail line", "rate hike", "water-rights deal", "data centre plan", "merger talks",
    "emergency funding", "wildfire response", "tax credit", "chip export rules", "flood defences", "pay deal",
    "school closures", "drug pricing plan", "offshore wind lease", "rent cap", "AI safety rules", "bridge repair",
    "pension reform", "satellite launch", "hospital expansion", "tariff relief", "zoning overhaul", "strike vote",
]
_TAILS = [
    "", "", "", " after a long debate", " amid protests", ", sources say", " as deadline nears",
    " in a surprise move", " despite objections", ": what it means for you", " for the third time",
]
_RELEVANT = [  # a few items per feed that the shipped story reads as relevant
    "Anthropic and the Pentagon trade filings in the designation appeal",
    "Pentagon officials weigh next step on Anthropic supply chain risk designation",
    "Judge Lin's ruling on Anthropic looms over Department of War contracts",
    "Anthropic's Claude still barred from defense work, officials say",
]
_SECTIONS = ["news", "business", "politics", "local", "tech", "world", "science", "health"]
_PROSE = (
    "officials said the measure would take effect next month after a review by the committee while critics "
    "argued that the cost estimates were too optimistic and that residents had not been consulted on the "
    "details of the plan which was first proposed last year and revised twice since then"
)
_WORDS = _PROSE.split(" ")


def _sentence(rng: random.Random, words: int) -> str:
    start = rng.randrange(len(_WORDS) - words)
    text = " ".join(_WORDS[start : start + words])
    return text[0].upper() + text[1:] + "."


def feed_body(feed: int, base: datetime) -> bytes:
    """A realistic RSS 2.0 document for one farm feed: 50 distinct items, HTML descriptions, categories."""
    rng = random.Random(feed)
    outlet = f"news{feed}.example.com"
    entries = []
    for n in range(ITEMS_PER_FEED):
        if rng.random() < 0.04:
            title = rng.choice(_RELEVANT)
        else:
            title = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_TAILS)}"
        title = f"{title} ({feed}-{n})" if rng.random() < 0.1 else title
        slug = "-".join(title.lower().replace("'", "").replace(":", "").replace(",", "").split()[:8])
        section = rng.choice(_SECTIONS)
        link = f"https://{outlet}/{section}/2026/12/{slug}-{feed}x{n}"
        published = base - timedelta(minutes=n * 37 + (feed % 60))
        html = (
            f"<p>{_sentence(rng, 14)} <a href=\"{link}\">Read more</a></p>"
            f"<p>{_sentence(rng, 18)} <b>{_sentence(rng, 6)}</b></p>"
        )
        entries.append(
            "<item>"
            f"<title>{escape(title)}</title>"
            f"<link>{link}?utm_source=rss&amp;utm_medium=feed</link>"
            f'<guid isPermaLink="false">{outlet}/{feed}/{n}</guid>'
            f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
            f"<category>{section}</category>"
            f"<description>{escape(html)}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>News {feed}</title><link>https://{outlet}/</link><description>Latest news from outlet {feed}"
        f"</description><language>en-us</language><lastBuildDate>{format_datetime(base, usegmt=True)}"
        f"</lastBuildDate><ttl>15</ttl>{''.join(entries)}</channel></rss>\n"
    ).encode()


class Farm:
    """The farm's answers: whole responses (status line, headers, body) built once, written in one piece."""

    def __init__(self, feeds: int) -> None:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.last_modified = format_datetime(base, usegmt=True)
        self.ok: list[tuple[bytes, bytes]] = []  # (status line and headers, blank line and body)
        self.not_modified: list[tuple[bytes, bytes]] = []
        self.etags: list[str] = []
        self.bodies: list[bytes] = []
        for feed in range(feeds):
            body = feed_body(feed, base)
            etag = f'"farm-{feed}-1"'
            self.etags.append(etag)
            self.bodies.append(body)
            common = f"ETag: {etag}\r\nLast-Modified: {self.last_modified}\r\nServer: farm\r\n"
            self.ok.append(
                ((f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n{common}"
                  f"Content-Length: {len(body)}\r\n").encode(), b"\r\n" + body))  # fmt: skip
            self.not_modified.append((f"HTTP/1.1 304 Not Modified\r\n{common}".encode(), b"\r\n"))

    def respond(self, method: str, path: str, headers: dict[str, str]) -> tuple[bytes, bytes]:
        feed = _feed_index(path, len(self.ok))
        if method not in ("GET", "HEAD") or feed is None:
            return b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n", b"\r\nnot found"
        inm = headers.get("if-none-match")
        if inm is not None:
            fresh = inm.strip() == "*" or self.etags[feed] in [t.strip() for t in inm.split(",")]
        else:
            fresh = headers.get("if-modified-since") == self.last_modified
        if fresh:
            return self.not_modified[feed]
        head, rest = self.ok[feed]
        return (head, b"\r\n") if method == "HEAD" else (head, rest)


def _feed_index(path: str, count: int) -> int | None:
    if not (path.startswith("/feeds/") and path.endswith(".xml")):
        return None
    try:
        feed = int(path[7:-4])
    except ValueError:
        return None
    return feed if 0 <= feed < count else None


class _FarmProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive (and pipelining), GET/HEAD only: just what feed readers send."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # asyncio sets it for TCP already; make sure
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            request, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
            lines = request.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.transport.close()
                return
            method, target, version = parts
            headers = {}
            for line in lines[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            connection = headers.get("connection", "").lower()
            close = (version == "HTTP/1.0" and "keep-alive" not in connection) or "close" in connection
            head, rest = self.farm.respond(method, target.split("?", 1)[0], headers)
            self.transport.write(head + b"Connection: close\r\n" + rest if close else head + rest)  # one write
            if close:
                self.transport.close()
                return


def serve(feeds: int, ports: int, kind: str) -> None:
    """Child process: serve the farm until stdin closes (the parent exited or asked us to stop)."""
    farm = Farm(feeds)
    if kind == "threaded":
        _serve_threaded(farm, ports)
        return

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(lambda: _FarmProtocol(farm), "127.0.0.1", 0, backlog=4096)
                   for _ in range(ports)]  # fmt: skip
        bound = [s.sockets[0].getsockname()[1] for s in servers]
        print(json.dumps({"ports": bound}), flush=True)
        done = loop.create_future()
        def stop() -> None:
            if not done.done():
                done.set_result(None)

        loop.add_reader(sys.stdin.fileno(), stop)
        await done

    asyncio.run(main())


def _serve_threaded(farm: Farm, ports: int) -> None:
    from tests.feedserver import FeedServer, Route

    routes = [Route(body=body, etag=etag, last_modified=farm.last_modified)
              for body, etag in zip(farm.bodies, farm.etags, strict=True)]  # fmt: skip
    servers = [FeedServer().start() for _ in range(ports)]
    for server in servers:
        server.handler("/feeds/", lambda path: routes[int(path[7:-4])])
    print(json.dumps({"ports": [int(s.url("/").rsplit(":", 1)[1].split("/")[0]) for s in servers]}), flush=True)
    sys.stdin.read()
    for server in servers:
        server.stop()


def farm_urls(ports: list[int], feeds: int) -> list[str]:
    return [f"http://127.0.0.1:{ports[n % len(ports)]}/feeds/{n}.xml" for n in range(feeds)]


# ========================================================================= baseline clients (subprocesses)
def client_main(args: argparse.Namespace) -> None:
    """Internal mode: one baseline pass over the URLs in --urls; prints a JSON summary on stdout."""
    urls = Path(args.urls).read_text().split()
    validators = json.loads(Path(args.validators).read_text()) if args.validators else None
    if args.client == "naive":
        import feedparser

        entries = sum(len(feedparser.parse(u).entries) for u in urls)
        print(json.dumps({"entries": entries}))
        return
    if args.client == "async":
        results = asyncio.run(async_pass(urls, validators, args.concurrency))
    else:
        results = thread_pass(urls, validators, args.concurrency)
    if args.save_validators:
        Path(args.save_validators).write_text(json.dumps([[etag, lm] for _, etag, lm, _ in results]))
    print(json.dumps(_summary(results)))


def _summary(results: list[tuple[int, str | None, str | None, int]]) -> dict[str, int]:
    return {"200": sum(r[0] == 200 for r in results), "304": sum(r[0] == 304 for r in results),
            "other": sum(r[0] not in (200, 304) for r in results), "bytes": sum(r[3] for r in results)}


def _conditional(validators: list[list[str | None]] | None, n: int) -> dict[str, str]:
    if validators is None:
        return {}
    etag, last_modified = validators[n]
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


async def async_pass(urls: list[str], validators: list[list[str | None]] | None,
                     concurrency: int) -> list[tuple[int, str | None, str | None, int]]:
    """The raw httpx floor: GET every URL, ``concurrency`` at a time, on one AsyncClient."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def one(n: int, url: str) -> tuple[int, str | None, str | None, int]:
            async with gate:
                resp = await client.get(url, headers=_conditional(validators, n))
                return resp.status_code, resp.headers.get("etag"), resp.headers.get("last-modified"), len(resp.content)

        return list(await asyncio.gather(*(one(n, u) for n, u in enumerate(urls))))


def thread_pass(urls: list[str], validators: list[list[str | None]] | None,
                concurrency: int) -> list[tuple[int, str | None, str | None, int]]:
    """A sync httpx.Client shared by a thread pool of ``concurrency``."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(limits=limits, timeout=30.0) as client, ThreadPoolExecutor(concurrency) as pool:

        def one(n: int) -> tuple[int, str | None, str | None, int]:
            resp = client.get(urls[n], headers=_conditional(validators, n))
            return resp.status_code, resp.headers.get("etag"), resp.headers.get("last-modified"), len(resp.content)

        return list(pool.map(one, range(len(urls))))


# ================================================================================================ helpers
class Cleanup:
    """Everything to undo at exit: the farm process, temp folders, PostgreSQL databases."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.dirs: list[str] = []
        self.databases: list[str] = []

    def run(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.stdin.close()  # type: ignore[union-attr]
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        for db in list(self.databases):
            drop_database(db, self)
        for folder in self.dirs:
            shutil.rmtree(folder, ignore_errors=True)
        self.dirs.clear()


def create_database(name: str, cleanup: Cleanup) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    cleanup.databases.append(name)
    return PG_URL.format(db=name)


def drop_database(name: str, cleanup: Cleanup) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if name in cleanup.databases:
        cleanup.databases.remove(name)


def clean_env() -> dict[str, str]:
    """The environment of a measured command: no ``MONITOR_*``, and bytecode cached as on a user's machine (a shell
    with PYTHONDONTWRITEBYTECODE set would have every run compile the package's source again)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)  # this tree's package (the same one the editable install points to, in place)
    return env


def run_wrapped(argv: list[str], cwd: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``python <wrapper> argv`` and return wall seconds, VmHWM (MiB), exit code, stdout and stderr."""
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", WRAPPER, *argv], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    wall = time.perf_counter() - t0
    hwm = None
    for line in proc.stderr.splitlines():
        if line.startswith(HWM_MARK):
            hwm = int(line.split()[-1]) / 1024
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return {"wall": wall, "hwm": hwm, "stdout": proc.stdout, "stderr": proc.stderr}


def shipped_story_text() -> str:
    text = (ROOT / "config" / "monitor.toml").read_text()
    return text[text.index("[[stories]]"):]


def write_config(path: Path, database_url: str, feeds: list[tuple[str, str]]) -> None:
    """A config a user could write: default [monitor] settings, the given feeds, the shipped story."""
    lines = ["[monitor]", f'database_url = "{database_url}"', 'contact = "farm-bench@example.org"', ""]
    for feed_id, url in feeds:
        lines += ["[[feeds]]", f'id = "{feed_id}"', f'url = "{url}"', ""]
    path.write_text("\n".join(lines) + "\n" + shipped_story_text())


def med(values: list[float]) -> float:
    return statistics.median(values)


class Figures:
    """Measures by name, one value per round."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.notes: dict[str, str] = {}

    def add(self, name: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(name, []).append(value)

    def get(self, name: str) -> float | None:
        vals = self.values.get(name)
        return med(vals) if vals else None

    def spread(self, name: str) -> str:
        vals = self.values.get(name)
        if not vals:
            return ""
        return f"{min(vals):.3g}-{max(vals):.3g}" if len(vals) > 1 else ""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ================================================================================================= passes
def poll_outcomes(stdout: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        for outcome in ("seeded", "not modified", "unchanged", "failed", "ok"):
            if f" {outcome} " in line:
                counts[outcome] = counts.get(outcome, 0) + 1
                break
    return counts


def inprocess_ticks(config: Path, figs: Figures) -> None:
    """The daemon's work in-process: a new Service on the same config and database, two warm ticks."""
    from monitor.app.service import Service
    from monitor.clock import system_clock
    from monitor.config.load import load_settings
    from monitor.store.db import Store

    settings = load_settings(config, env={})
    store = Store.open(settings.monitor.database_url)
    try:
        service = Service(settings, store, clock=system_clock)
        for name in ("tick first", "tick next"):
            t0 = time.perf_counter()
            report = service.tick(force=True)
            figs.add(name, time.perf_counter() - t0)
            not_modified = sum(p.outcome == "not modified" for p in report.polls)
            if not_modified != len(settings.feeds):
                raise RuntimeError(f"in-process warm tick: {not_modified} of {len(settings.feeds)} not modified")
    finally:
        store.close()


def one_round(r: int, args: argparse.Namespace, urls: list[str], tmp: Path, cleanup: Cleanup, figs: Figures,
              naive: bool) -> None:
    feeds = [(f"farm-{n}", u) for n, u in enumerate(urls)]
    if args.db == "postgres":
        db_name = f"bench_farm_{os.getpid()}_r{r}"
        url = create_database(db_name, cleanup)
    else:
        db_name = ""
        url = f"sqlite:///{tmp}/round{r}.db"
    config = tmp / f"round{r}.toml"
    write_config(config, url, feeds)
    cwd = str(tmp)
    n = len(urls)

    def step(name: str, argv: list[str], wall: str, hwm: str | None = None) -> dict[str, Any]:
        out = run_wrapped(argv, cwd)
        figs.add(wall, out["wall"])
        if hwm:
            figs.add(hwm, out["hwm"])
        say(f"  round {r + 1}: {name:<28} {out['wall']:7.2f} s" + (f"  {out['hwm']:6.0f} MiB" if hwm else ""))
        return out

    # 2. the whole command, cold then warm
    out = step("monitor poll cold", ["monitor", "--config", str(config), "poll"], "poll cold", "poll cold rss")
    seen = poll_outcomes(out["stdout"])
    if seen.get("seeded") != n:
        raise RuntimeError(f"cold poll: expected {n} seeded feeds, got {seen}")
    out = step("monitor poll warm", ["monitor", "--config", str(config), "poll"], "poll warm", "poll warm rss")
    seen = poll_outcomes(out["stdout"])
    if seen.get("not modified") != n:
        raise RuntimeError(f"warm poll: expected {n} not-modified feeds, got {seen}")
    # 4. the daemon's warm tick in-process, beside the raw floor's warm pass in-process
    inprocess_ticks(config, figs)
    validators = [[e, None] for e in FARM_ETAGS]  # what the cold pass gave (checked in the subprocess passes)
    t0 = time.perf_counter()
    results = asyncio.run(async_pass(urls, validators, args.concurrency))
    figs.add("floor warm in-process", time.perf_counter() - t0)
    if _summary(results)["304"] != n:
        raise RuntimeError(f"in-process floor warm: {_summary(results)}")
    say(f"  round {r + 1}: {'in-process tick first/next':<28} {figs.values['tick first'][-1]:7.2f} s /"
        f" {figs.values['tick next'][-1]:.2f} s; raw floor {figs.values['floor warm in-process'][-1]:.2f} s")
    # 6. status on the database the polls left, beside --help and python -c pass
    step("monitor status", ["monitor", "--config", str(config), "status"], "status")
    step("monitor --help", ["monitor", "--help"], "help", "help rss")
    step("python -c pass", ["-c", "pass"], "pass", "pass rss")
    if args.db == "postgres":
        drop_database(db_name, cleanup)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}/round{r}.db{suffix}").unlink(missing_ok=True)
    # 3. baselines
    url_file = tmp / "urls.txt"
    for client in ("async", "threads"):
        saved = tmp / f"validators-{client}.json"
        base = [str(THIS), "--client", client, "--urls", str(url_file), "--concurrency", str(args.concurrency)]
        out = step(f"{client} cold", [*base, "--save-validators", str(saved)], f"{client} cold", f"{client} cold rss")
        if json.loads(out["stdout"])["200"] != n:
            raise RuntimeError(f"{client} cold: {out['stdout']}")
        out = step(f"{client} warm", [*base, "--validators", str(saved)], f"{client} warm", f"{client} warm rss")
        if json.loads(out["stdout"])["304"] != n:
            raise RuntimeError(f"{client} warm: {out['stdout']}")
    if naive:
        out = step("naive feedparser loop", [str(THIS), "--client", "naive", "--urls", str(url_file)], "naive cold",
                   "naive cold rss")  # fmt: skip
        if json.loads(out["stdout"])["entries"] != n * ITEMS_PER_FEED:
            raise RuntimeError(f"naive loop: {out['stdout']}")


FARM_ETAGS: list[str] = []


# ================================================================================= 5. per-item cost
BATCH = 25


def per_item(args: argparse.Namespace, tmp: Path, cleanup: Cleanup, figs: Figures) -> dict[str, Any]:
    import hashlib
    import importlib

    sys.path.insert(1, str(ROOT / "tests" / "benchmarks"))
    import story_bench as sb  # the synthetic items of the story benchmark
    from sqlalchemy import text

    from monitor.app.service import Service
    from monitor.config.load import load_settings
    from monitor.ingest.fetch import FetchResult
    from monitor.store.db import Store
    from monitor.story.reducer import StoryState, advance

    try:  # the state stored in parts (migration 0004) comes back as a core and its parts
        whole_state = importlib.import_module("monitor.app.story_parts").whole_state
    except ImportError:  # stored whole: load_story_state gives StoryState.to_json's shape
        whole_state = dict

    checkpoints = [c for c in (1_000, 10_000, 100_000, 250_000) if c <= args.items_max]
    filler_feeds = max(checkpoints) // ITEMS_PER_FEED + 1
    if args.db == "postgres":
        url = create_database(f"bench_farm_{os.getpid()}_items", cleanup)
    else:
        url = f"sqlite:///{tmp}/items.db"
    config = tmp / "items.toml"
    write_config(config, url, [("live", "http://127.0.0.1:9/live.xml")]
                 + [(f"fill-{n}", f"http://127.0.0.1:9/fill/{n}.xml") for n in range(filler_feeds)])  # fmt: skip
    settings = load_settings(config, env={})
    story = settings.stories[0]
    live = settings.feed("live")
    clock_now = [sb.START]
    store = Store.open(settings.monitor.database_url)
    info: dict[str, Any] = {"checkpoints": checkpoints}
    try:
        service = Service(settings, store, clock=lambda: clock_now[0], deliver=False)
        service.sync_feeds(sb.START)

        def rss(items: list[Any]) -> bytes:
            body = "".join(
                f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
                f'<guid isPermaLink="false">{i.item_id}</guid><pubDate>{format_datetime(i.published, usegmt=True)}'
                f"</pubDate><description>{escape(i.summary)}</description></item>" for i in items)  # fmt: skip
            return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Live</title>'
                    f"<link>https://live.example/</link>{body}</channel></rss>").encode()  # fmt: skip

        def fetch_result(items: list[Any], now: datetime) -> FetchResult:
            body = rss(items)
            return FetchResult(feed_id="live", requested_url=live.url, final_url=live.url, status=200, body=body,
                               headers={"content-type": "application/rss+xml; charset=utf-8",
                                        "etag": f'"{hashlib.sha256(body).hexdigest()[:16]}"'},
                               not_modified=False, permanent_redirect=None, error=None, retry_after=None, gone=False,
                               started_at=now, elapsed_s=0.0, body_sha256=hashlib.sha256(body).hexdigest())  # fmt: skip

        def items_for(first: int, count: int, tag: str, seed: int) -> list[Any]:
            rng = random.Random(seed)
            made = []
            for n in range(first, first + count):
                item = sb.make_item(n, rng)
                made.append(type(item)(feed_id="live", item_id=f"{item.item_id}{tag}", title=item.title,
                                       summary=item.summary, link=f"{item.link}{tag}", outlet=item.outlet,
                                       published=item.published, fetched_at=item.fetched_at,
                                       source_kind=item.source_kind))  # fmt: skip
            return made

        def state_bytes() -> int:
            """The stored JSON of the story's state: the row, and its parts where the store keeps parts."""
            total = 0
            for query in ("SELECT length(state_json) FROM story_state WHERE story_id = :s",
                          "SELECT sum(length(part_json)) FROM story_part WHERE story_id = :s"):  # fmt: skip
                try:
                    with store.engine.connect() as conn:
                        total += int(conn.execute(text(query), {"s": story.id}).scalar() or 0)
                except Exception:  # no story_part table before migration 0004
                    pass
            return total

        # the live feed's first poll: a seed, so later polls are news
        seed_items = items_for(0, ITEMS_PER_FEED, "-seed", 1)
        clock_now[0] = seed_items[-1].published + timedelta(minutes=1)
        report = service.ingest(fetch_result(seed_items, clock_now[0]), body_time=clock_now[0])
        assert report.outcome == "seeded", report
        # grow the stored story state through process_items until its JSON is about 1 MB
        t0 = time.perf_counter()
        rng, fed = random.Random(42), 0
        while state_bytes() < args.state_bytes and fed < 50_000:
            batch = [sb.make_item(n, rng) for n in range(fed, fed + BATCH)]
            with store.write() as tx:
                service.process_items(tx, live, batch, batch[-1].published)
            fed += BATCH
        with store.read() as tx:
            raw = tx.load_story_state(story.id)
        assert raw is not None
        snapshot = StoryState.from_json(whole_state(raw)).to_json()  # whole, as the reducer writes it
        info.update(grown_items=fed, state_bytes=state_bytes(), grow_s=time.perf_counter() - t0)
        say(f"  per-item: story state grown to {info['state_bytes'] / 1e6:.2f} MB by {fed} synthetic items "
            f"in {info['grow_s']:.1f} s")
        restored = StoryState.from_json(snapshot)
        thread_rows = {t: (s.state, s.since, s.development) for t, s in restored.threads.items()}
        start = fed + 1  # measured items continue the grown history (one a minute); the warm-up item is `fed`
        filled = 0
        for checkpoint in checkpoints:
            t0 = time.perf_counter()
            with store.read() as tx:
                stored = tx.count_items()
            while stored < checkpoint:  # fill other feeds, 50 items each, as seeds (what a poll of them stores)
                with store.write() as tx:
                    for _ in range(20):
                        if stored >= checkpoint:
                            break
                        count = min(ITEMS_PER_FEED, checkpoint - stored)
                        fill = [type(seed_items[0])(feed_id=f"fill-{filled}", item_id=f"f{filled}-{k}",
                                                    title=f"Filler {filled} {k}", summary="Filler item.",
                                                    link=f"https://fill{filled}.example/{k}", outlet="fill.example",
                                                    published=sb.START, fetched_at=sb.START)
                                for k in range(count)]  # fmt: skip
                        tx.insert_items(fill, seed=True)
                        filled += 1
                        stored += count
            say(f"  per-item: {stored:,} stored items (filled in {time.perf_counter() - t0:.1f} s)")
            for batch_size, count in ((BATCH, args.measure_items), (1, args.measure_single)):
                if count <= 0:
                    continue
                name = f"{checkpoint} b{batch_size}"
                for r in range(args.rounds):
                    tag = f"-c{checkpoint}b{batch_size}r{r}"
                    items = items_for(start, count, tag, checkpoint)
                    # through the service: restore the snapshot, one untimed poll with one item (the service
                    # notices the state another writer saved and reloads it), then fetch results of batch_size items
                    with store.write() as tx:
                        tx.save_story_state(story.id, snapshot, thread_rows, clock_now[0])
                    warm = items_for(start - 1, 1, f"{tag}w", checkpoint + 1)
                    clock_now[0] = warm[0].published + timedelta(seconds=30)
                    if service.ingest(fetch_result(warm, clock_now[0]), body_time=clock_now[0]).new_items != 1:
                        raise RuntimeError("per-item: the warm-up item was not new")
                    results = []
                    for k in range(0, len(items), batch_size):
                        batch = items[k : k + batch_size]
                        now = batch[-1].published + timedelta(seconds=30)
                        results.append((fetch_result(batch, now), now))
                    t0 = time.perf_counter()
                    new = 0
                    for result, now in results:
                        clock_now[0] = now
                        new += service.ingest(result, body_time=now).new_items
                    took = time.perf_counter() - t0
                    if new != len(items):
                        raise RuntimeError(f"per-item: {new} of {len(items)} items were new")
                    figs.add(f"item {name}", took * 1000 / len(items))
                    # baseline: the reducer alone with the state's JSON round trip, same items, same snapshot
                    state = StoryState.from_json(snapshot)
                    state = advance(service.compiled[story.id], state, warm, warm[0].published).state
                    t0 = time.perf_counter()
                    for k in range(0, len(items), batch_size):
                        batch = items[k : k + batch_size]
                        state = advance(service.compiled[story.id], state, batch, batch[-1].published).state
                        state = StoryState.from_json(json.loads(json.dumps(state.to_json())))
                    figs.add(f"reducer {name}", (time.perf_counter() - t0) * 1000 / len(items))
                say(f"  per-item at {checkpoint:>7,} stored, {batch_size:>2} a poll: ingest "
                    f"{figs.get(f'item {name}'):.2f} ms/item, reducer alone {figs.get(f'reducer {name}'):.2f} ms/item, "
                    f"state now {state_bytes() / 1e6:.2f} MB")
    finally:
        store.close()
    return info


# ================================================================================================= report
def table(figs: Figures, args: argparse.Namespace, info: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []

    def add(measure: str, name: str, unit: str, base_label: str, base: str | None, *, fmt: str = ".2f") -> None:
        value = figs.get(name)
        if value is None:
            return
        shown = f"{value:{fmt}} {unit}" + (f" ({figs.spread(name)})" if figs.spread(name) else "")
        if base is None:
            rows.append((measure, shown, base_label, "", ""))
            return
        bvalue = figs.get(base)
        if bvalue is None:
            rows.append((measure, shown, base_label, "not measured", ""))
            return
        bshown = f"{bvalue:{fmt}} {unit}"
        rows.append((measure, shown, base_label, bshown, f"{value / bvalue:.2f}x"))

    add("`monitor poll` cold (seeds every feed), wall", "poll cold", "s", "raw httpx async floor, cold", "async cold")
    add("`monitor poll` cold, wall", "poll cold", "s", "naive `feedparser.parse(url)` loop, cold", "naive cold")
    add("`monitor poll` cold, wall", "poll cold", "s", "sync httpx.Client, 8 threads, cold", "threads cold")
    add("`monitor poll` warm (all 304), wall", "poll warm", "s", "raw httpx async floor, warm", "async warm")
    add("`monitor poll` warm, wall", "poll warm", "s", "sync httpx.Client, 8 threads, warm", "threads warm")
    add("`monitor poll` cold, peak RSS", "poll cold rss", "MiB", "raw httpx async floor cold, peak RSS",
        "async cold rss", fmt=".0f")
    add("`monitor poll` warm, peak RSS", "poll warm rss", "MiB", "raw httpx async floor warm, peak RSS",
        "async warm rss", fmt=".0f")
    add("naive loop, peak RSS", "naive cold rss", "MiB", "raw httpx async floor cold, peak RSS", "async cold rss",
        fmt=".0f")
    add("`Service.tick(force=True)` warm in-process, first tick", "tick first", "s",
        "raw httpx async floor warm, in-process", "floor warm in-process")
    add("`Service.tick(force=True)` warm in-process, next tick", "tick next", "s",
        "raw httpx async floor warm, in-process", "floor warm in-process")
    add("`monitor poll` warm, wall", "poll warm", "s", "in-process first warm tick (start-up excluded)",
        "tick first")
    for batch_size in (BATCH, 1):
        for checkpoint in info.get("checkpoints", []):
            add(f"new item through `Service.ingest`, {batch_size} new a poll, {checkpoint:,} stored items, ~1 MB state",
                f"item {checkpoint} b{batch_size}", "ms", "`story.advance` + state JSON round trip alone, same items",
                f"reducer {checkpoint} b{batch_size}", fmt=".2f")
    add("`monitor status`, wall", "status", "s", "`monitor --help`", "help", fmt=".3f")
    add("`monitor status`, wall", "status", "s", "`python -c pass`", "pass", fmt=".3f")
    add("`monitor --help`, wall", "help", "s", "`python -c pass`", "pass", fmt=".3f")
    return rows


def render(rows: list[tuple[str, str, str, str, str]], markdown: bool) -> str:
    head = ("measure", "median (range)", "baseline", "baseline median", "ratio")
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head, *rows])


def machine_note(args: argparse.Namespace, elapsed: float, info: dict[str, Any]) -> str:
    git = ["git", "-C", str(ROOT)]
    inside = subprocess.run([*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True).stdout.strip()
    commit = dirty = ""
    if inside and Path(inside).resolve() == ROOT:
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()  # fmt: skip
    code = f"commit {commit}{' + uncommitted changes' if dirty else ''}" if commit else f"code in {ROOT}"
    cores = os.cpu_count()
    grown = ""
    if "state_bytes" in info:
        grown = (f"; per-item: state grown to {info['state_bytes'] / 1e6:.2f} MB by {info['grown_items']:,} "
                 f"synthetic items, {args.measure_items} items a round in polls of {BATCH} and "
                 f"{args.measure_single} one a poll")  # fmt: skip
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {args.label or code}, "
        f"{args.feeds:,} feeds x {ITEMS_PER_FEED} items on {args.ports} port(s) ({args.server} farm), "
        f"{args.db}, {args.rounds} rounds (median, range in brackets), concurrency {args.concurrency}; "
        f"machine: {cores} shared cores, noisy: compare ratios, not seconds; Python "
        f"{sys.version.split()[0]}{grown}; harness took {elapsed:.0f} s"
    )


# =================================================================================================== main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--naive-rounds", type=int, default=None, help="rounds of the naive loop (default: --rounds)")
    ap.add_argument("--concurrency", type=int, default=8, help="the baselines' concurrency (the config's default)")
    ap.add_argument("--ports", type=int, default=4, help="listening ports the farm spreads its feeds over")
    ap.add_argument("--server", choices=("asyncio", "threaded"), default="asyncio",
                    help="the farm: an asyncio server, or tests/feedserver.py (threaded)")
    ap.add_argument("--items-max", type=int, default=100_000, help="largest stored-item checkpoint (up to 250000)")
    ap.add_argument("--measure-items", type=int, default=500,
                    help=f"new items timed per checkpoint and round, {BATCH} a poll")
    ap.add_argument("--measure-single", type=int, default=40,
                    help="new items timed per checkpoint and round, one a poll (0: skip)")
    ap.add_argument("--label", default="", help="a note on the code measured, for the report")
    ap.add_argument("--state-bytes", type=int, default=1_000_000, help="story state JSON size to grow to")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: commands, items")
    ap.add_argument("--markdown", nargs="?", const="-", default=None,
                    help="also write the table as markdown (to a file, or to stdout with no value)")
    # internal modes
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--client", choices=("naive", "async", "threads"), help=argparse.SUPPRESS)
    ap.add_argument("--urls", help=argparse.SUPPRESS)
    ap.add_argument("--validators", help=argparse.SUPPRESS)
    ap.add_argument("--save-validators", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.feeds, args.ports, args.server)
        return
    if args.client:
        client_main(args)
        return
    skip = set(filter(None, args.skip.split(",")))
    naive_rounds = args.rounds if args.naive_rounds is None else args.naive_rounds

    began = time.perf_counter()
    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    figs = Figures()
    info: dict[str, Any] = {}
    try:
        tmp = Path(tempfile.mkdtemp(prefix="farm_bench_"))
        cleanup.dirs.append(str(tmp))
        if "commands" not in skip:
            t0 = time.perf_counter()
            farm = subprocess.Popen(
                [PY, str(THIS), "--serve", "--feeds", str(args.feeds), "--ports", str(args.ports), "--server",
                 args.server], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=clean_env())  # fmt: skip
            cleanup.procs.append(farm)
            assert farm.stdout is not None
            ports = json.loads(farm.stdout.readline())["ports"]
            urls = farm_urls(ports, args.feeds)
            FARM_ETAGS.extend(f'"farm-{n}-1"' for n in range(args.feeds))
            (tmp / "urls.txt").write_text("\n".join(urls) + "\n")
            say(f"farm: {args.feeds} feeds on ports {ports} ({args.server}), ready in {time.perf_counter() - t0:.1f} s")
            # untimed warm-up: compile bytecode of whatever others just edited, fill the page cache
            run_wrapped(["-c", "import monitor.cli.main, monitor.app.service, monitor.cli.reports, feedparser, httpx"],
                        str(tmp))  # fmt: skip
            for r in range(args.rounds):
                one_round(r, args, urls, tmp, cleanup, figs, naive=r < naive_rounds)
            cleanup.procs.remove(farm)
            farm.stdin.close()  # type: ignore[union-attr]
            farm.wait(timeout=10)
        if "items" not in skip:
            info = per_item(args, tmp, cleanup, figs)
    finally:
        cleanup.run()
    elapsed = time.perf_counter() - began
    rows = table(figs, args, info)
    note = machine_note(args, elapsed, info)
    print(render(rows, markdown=False))
    print(f"\n{note}")
    if args.markdown:
        text = render(rows, markdown=True) + f"\n\n{note}\n"
        if args.markdown == "-":
            print("\n" + text)
        else:
            Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
