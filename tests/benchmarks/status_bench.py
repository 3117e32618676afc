"""Start-up benchmark: `monitor status`, `monitor --help` and a warm `monitor poll` on a big database, beside
`python -c pass`, for one or more copies of the code in the same run.

Run:  .venv/bin/python tests/benchmarks/status_bench.py --feeds 5000 [--db sqlite|postgres] [--rounds 5]
      [--code /tmp/old-tree --code .] [--no-poll] [--keep DIR | --reuse DIR]

1. A feed farm (farm_bench.py's: N feeds of 50 distinct items each, ETag and Last-Modified) in a child process.
2. The database is filled by ``monitor poll`` of the first ``--code`` (so 5,000 feeds leave 250,000 stored items
   and a health row per feed), on SQLite or PostgreSQL. ``--keep DIR`` keeps it (and the config) in DIR;
   ``--reuse DIR`` starts from one kept before (the farm serves the same ETags, so the warm polls stay 304).
3. Each code gets a copy of that database (a file copy; ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), one
   untimed ``monitor status`` (bytecode, page cache, a migration a newer code would apply) and, when polls are
   timed, one untimed poll (a reused database knows the farm's feeds at the ports of an earlier farm).
4. Rounds, codes alternating within each round so that a noisy machine's noise falls on all alike:
   ``monitor status`` (output to a pipe), ``monitor --help``, ``python -c pass`` and, unless ``--no-poll``, a
   warm ``monitor poll`` (every feed 304). Figures: medians of the wall time (range) and ratios against
   ``python -c pass`` and ``monitor --help`` of the same code, and the median CPU time (user + system) of each
   command, which a busy shared machine disturbs much less than the wall time.

Every command runs as ``python -m monitor`` with ``PYTHONPATH`` set to the code's tree and no ``MONITOR_*`` variable.
Temporary folders and PostgreSQL databases (``bench_status_<pid>_*``) are removed at the end, also on failure.
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import farm_bench as fb  # noqa: E402 - the farm, its URLs and the config generator

PY = sys.executable


def env_for(code: Path) -> dict[str, str]:
    """No ``MONITOR_*``, and bytecode cached as on a user's machine (not compiled again each run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(code)
    return env


def timed(argv: list[str], code: Path, cwd: Path) -> tuple[float, float, str]:
    """Wall seconds of ``python argv`` (the child's whole life: start-up, work, exit), its CPU seconds (user +
    system: what a busy shared machine disturbs least) and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([PY, *argv], cwd=cwd, env=env_for(code), capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:5])} ({code}) exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return wall, cpu, proc.stdout


def copy_database(source: str, name: str, tmp: Path, cleanup: fb.Cleanup) -> str:
    """A copy of the database at ``source`` (a SQLite URL or one of our PostgreSQL databases), as a URL."""
    if source.startswith("sqlite:///"):
        target = tmp / f"{name}.db"
        shutil.copyfile(source.removeprefix("sqlite:///"), target)
        return f"sqlite:///{target}"
    import psycopg

    db = f"bench_status_{os.getpid()}_{name}"
    with psycopg.connect(fb.PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{source.rsplit("/", 1)[1]}"')
    cleanup.databases.append(db)
    return fb.PG_URL.format(db=db)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=5000)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--code", action="append", default=[], help="a tree holding the monitor package (repeatable; "
                    "default: this tree); the first one fills the database")
    ap.add_argument("--no-poll", action="store_true", help="do not time a warm `monitor poll`")
    ap.add_argument("--keep", help="keep the filled database and its config in this folder")
    ap.add_argument("--reuse", help="start from a database kept with --keep in this folder")
    args = ap.parse_args()
    codes = [Path(c).resolve() for c in args.code] or [ROOT]
    labels = [str(c) for c in codes]

    cleanup = fb.Cleanup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    began = time.perf_counter()
    try:
        tmp = Path(tempfile.mkdtemp(prefix="status_bench_"))
        cleanup.dirs.append(str(tmp))
        farm = subprocess.Popen([PY, str(fb.THIS), "--serve", "--feeds", str(args.feeds), "--ports", "4"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env_for(ROOT))
        cleanup.procs.append(farm)
        assert farm.stdout is not None
        ports = json.loads(farm.stdout.readline())["ports"]
        feeds = [(f"farm-{n}", u) for n, u in enumerate(fb.farm_urls(ports, args.feeds))]

        store = Path(args.reuse or args.keep or tmp)
        store.mkdir(parents=True, exist_ok=True)
        meta = store / "status_bench.json"
        if args.reuse:
            source = json.loads(meta.read_text())["url"]
        else:
            if args.db == "postgres":
                name = f"bench_status_{os.getpid()}_filled"
                source = fb.create_database(name, cleanup)
                if args.keep:
                    cleanup.databases.remove(name)  # kept
            else:
                source = f"sqlite:///{store}/filled.db"
            fb.write_config(store / "fill.toml", source, feeds)
            t0 = time.perf_counter()
            wall, _, out = timed(["-m", "monitor", "--config", str(store / "fill.toml"), "poll"], codes[0], tmp)
            seeded = fb.poll_outcomes(out).get("seeded")
            if seeded != args.feeds:
                raise RuntimeError(f"fill: expected {args.feeds} seeded feeds, got {fb.poll_outcomes(out)}")
            print(f"filled {args.feeds:,} feeds, {args.feeds * fb.ITEMS_PER_FEED:,} items in {wall:.0f} s "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
            meta.write_text(json.dumps({"url": source, "feeds": args.feeds}))

        configs = []
        for i, code in enumerate(codes):
            url = copy_database(source, f"code{i}", tmp, cleanup)
            config = tmp / f"code{i}.toml"
            fb.write_config(config, url, feeds)
            configs.append(config)
            timed(["-m", "monitor", "--config", str(config), "status"], code, tmp)  # untimed warm-up
            if not args.no_poll:  # and one poll: a reused database knows the farm's feeds at the ports of before
                timed(["-m", "monitor", "--config", str(config), "poll"], code, tmp)

        measures: list[tuple[str, list[str] | None]] = [("status", ["status"]), ("--help", ["--help"]),
                                                        ("python -c pass", None)]
        if not args.no_poll:
            measures.append(("poll warm", ["poll"]))
        for r in range(args.rounds):
            order = list(range(len(codes)))
            if r % 2:
                order.reverse()
            for name, cmd in measures:
                for i in order:
                    argv = ["-c", "pass"] if cmd is None else ["-m", "monitor", "--config", str(configs[i]), *cmd]
                    wall, cpu, out = timed(argv, codes[i], tmp)
                    if name == "poll warm" and fb.poll_outcomes(out).get("not modified") != args.feeds:
                        raise RuntimeError(f"warm poll: {fb.poll_outcomes(out)}")
                    walls.setdefault((labels[i], name), []).append(wall)
                    cpus.setdefault((labels[i], name), []).append(cpu)
            print(f"round {r + 1}: " + ", ".join(f"{name} {walls[(labels[i], name)][-1]:.3f}"
                                                  for i in range(len(codes)) for name, _ in measures), flush=True)
        cleanup.procs.remove(farm)
        farm.stdin.close()  # type: ignore[union-attr]
        farm.wait(timeout=10)
    finally:
        cleanup.run()

    def med(label: str, name: str) -> float:
        return statistics.median(walls[(label, name)])

    print(f"\n{args.feeds:,} feeds, {args.feeds * fb.ITEMS_PER_FEED:,} items, {args.db}, {args.rounds} rounds "
          f"(median, range), {os.cpu_count()} shared cores; took {time.perf_counter() - began:.0f} s")
    for label in labels:
        print(f"\ncode: {label}")
        for name, _ in measures:
            values = walls[(label, name)]
            ratios = ""
            if name != "python -c pass":
                ratios = f"{med(label, name) / med(label, 'python -c pass'):6.2f}x python -c pass"
            if name not in ("--help", "python -c pass"):
                ratios += f", {med(label, name) / med(label, '--help'):6.2f}x --help"
            cpu = statistics.median(cpus[(label, name)])
            print(f"  {name:<15} {med(label, name):7.3f} s ({min(values):.3f}-{max(values):.3f})  {ratios}; "
                  f"CPU {cpu:.3f} s")


if __name__ == "__main__":
    main()
