"""The daemon's idle cost: CPU time `monitor run` uses while no feed is due, beside idle baselines.

Run:  .venv/bin/python tests/benchmarks/idle_bench.py [--feeds 1000] [--seconds 60] [--db sqlite|postgres]
      [--code /tmp/old-tree --code .] [--tick 30s]

1. A feed farm (farm_bench.py's) in a child process, and per ``--code`` a config of its feeds (the default
   ``[monitor]`` settings: 15 min polls, a 30 s tick; ``--tick`` changes the tick) on a database of its own.
2. ``python -m monitor --config <cfg> run`` per code, all at once (CPU time is what is counted, so they need not
   take turns). Each daemon's first tick polls every feed; the measure starts once its heartbeat is stored (the
   first tick is over) and one more ``--settle`` seconds have passed. From then on no feed is due for 15 min.
3. Over ``--seconds`` of wall time: each daemon's CPU time (utime + stime of ``/proc/<pid>/stat``, every
   thread), and beside it, over the same window, two baselines: ``python -c "import time; time.sleep(N)"`` and an
   idle APScheduler (a BackgroundScheduler with an empty interval job at the daemon's tick, the main thread
   waiting on an Event). Reported as CPU seconds and as a percentage of one core.

The daemons are stopped with SIGTERM at the end (a clean stop, as systemd does). Temporary folders and
PostgreSQL databases (``bench_idle_<pid>_*``) are removed, also on failure. A benchmark waits real time; the
tests (tests/app/test_daemon.py) do not. Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
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
TICKS_PER_S = os.sysconf("SC_CLK_TCK")

IDLE_SCHEDULER = """
import sys, threading
from apscheduler.schedulers.background import BackgroundScheduler
scheduler = BackgroundScheduler(timezone="UTC")
scheduler.add_job(lambda: None, "interval", seconds=float(sys.argv[1]))
scheduler.start()
threading.Event().wait(float(sys.argv[2]))
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # fields 14 and 15 of proc(5), after "pid (comm)"


def heartbeat(url: str) -> str | None:
    """The stored heartbeat's value, or None before the first tick ends."""
    try:
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=5) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'daemon.heartbeat'").fetchone()
        else:
            import psycopg

            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'daemon.heartbeat'").fetchone()
    except Exception:
        return None  # not created yet
    return row[0] if row else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60.0, help="the measured window of wall time")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait after the first tick")
    ap.add_argument("--tick", default="", help="the config's tick_interval (default: the shipped default)")
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--code", action="append", default=[], help="a tree holding the monitor package (repeatable; "
                    "default: this tree)")
    args = ap.parse_args()
    codes = [Path(c).resolve() for c in args.code] or [ROOT]
    tick_s = 30.0
    if args.tick:
        sys.path.insert(0, str(ROOT))
        from monitor.durations import parse_duration

        tick_s = parse_duration(args.tick).total_seconds()

    cleanup = fb.Cleanup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    daemons: list[subprocess.Popen[str]] = []
    try:
        tmp = Path(tempfile.mkdtemp(prefix="idle_bench_"))
        cleanup.dirs.append(str(tmp))
        farm = subprocess.Popen([PY, str(fb.THIS), "--serve", "--feeds", str(args.feeds), "--ports", "4"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=fb.clean_env())
        cleanup.procs.append(farm)
        assert farm.stdout is not None
        ports = json.loads(farm.stdout.readline())["ports"]
        feeds = [(f"farm-{n}", u) for n, u in enumerate(fb.farm_urls(ports, args.feeds))]
        urls = []
        for i, code in enumerate(codes):
            if args.db == "postgres":
                url = fb.create_database(f"bench_idle_{os.getpid()}_{i}", cleanup)
            else:
                url = f"sqlite:///{tmp}/code{i}.db"
            config = tmp / f"code{i}.toml"
            fb.write_config(config, url, feeds)
            if args.tick:
                text = config.read_text().replace("[monitor]\n", f'[monitor]\ntick_interval = "{args.tick}"\n', 1)
                config.write_text(text)
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}  # bytecode cached, as for a user
            env["PYTHONPATH"] = str(code)
            log = (tmp / f"code{i}.log").open("w")
            daemons.append(subprocess.Popen([PY, "-m", "monitor", "--config", str(config), "run"], cwd=tmp, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, text=True))
            urls.append(url)
        began = time.monotonic()
        for i, url in enumerate(urls):
            while heartbeat(url) is None:
                if daemons[i].poll() is not None:
                    raise RuntimeError(f"daemon {codes[i]} exited {daemons[i].returncode}:\n"
                                       f"{(tmp / f'code{i}.log').read_text()[-2000:]}")
                if time.monotonic() - began > 1800:
                    raise RuntimeError("no first tick within 30 min")
                time.sleep(0.5)
        print(f"first ticks done after {time.monotonic() - began:.0f} s; settling {args.settle:.0f} s", flush=True)
        time.sleep(args.settle)

        window = args.seconds
        sleeper = subprocess.Popen([PY, "-c", f"import time; time.sleep({window})"])
        scheduler = subprocess.Popen([PY, "-c", IDLE_SCHEDULER, str(tick_s), str(window + 30)])
        time.sleep(1.0)  # let the baselines finish starting: their start-up is not idle time
        pids = [d.pid for d in daemons] + [sleeper.pid, scheduler.pid]
        start = [cpu_seconds(pid) for pid in pids]
        t0 = time.monotonic()
        time.sleep(window - 1.5)
        end = [cpu_seconds(pid) for pid in pids]
        wall = time.monotonic() - t0
        scheduler.kill()
        sleeper.wait()
        scheduler.wait()
        for daemon in daemons:
            if daemon.poll() is not None:
                raise RuntimeError(f"a daemon exited during the window ({daemon.returncode})")
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            daemon.wait(timeout=30)
        cleanup.procs.remove(farm)
        farm.stdin.close()  # type: ignore[union-attr]
        farm.wait(timeout=10)
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        cleanup.run()

    labels = [f"monitor run ({code})" for code in codes] + ["python -c time.sleep", "idle APScheduler"]
    print(f"\n{args.feeds:,} feeds, none due; tick every {tick_s:g} s; {args.db}; window {wall:.1f} s of wall time; "
          f"clock tick {1000 / TICKS_PER_S:g} ms")
    for label, a, b in zip(labels, start, end, strict=True):
        used = b - a
        print(f"  {label:<48} {used:6.2f} s CPU  {100 * used / wall:6.2f} % of one core")


if __name__ == "__main__":
    main()
