"""The fetcher alone against raw httpx floors, cold and warm, on the local feed farm.

Run:  .venv/bin/python tests/benchmarks/fetch_bench.py [--feeds 1000] [--rounds 3] [--compare /tmp/h/base]

The farm is farm_bench.py's (a child process on 127.0.0.1: asyncio, one write per response, N feeds of about
40 KB spread over ``--ports`` ports, ETag and Last-Modified, so a pass with the validators is all 304s). In one
process, round by round (the order rotates each round, so a shared machine's noise falls on every client alike):

- ``async``: the raw httpx floor, one ``httpx.AsyncClient`` at ``--concurrency`` (farm_bench.async_pass);
- ``threads``: a sync ``httpx.Client`` shared by a pool of ``--concurrency`` threads (farm_bench.thread_pass);
- ``fetcher``: ``Fetcher.fetch_each`` of this tree over every feed (the poll pass's entry point: the address
  policy, pinned connections, per-host limit ``--per-host``, deadlines, decoding), results consumed as they come;
- ``compare``: the same, with ``monitor/ingest/fetch.py`` of another tree (``--compare DIR``, e.g. a ``git
  archive`` of an earlier commit) loaded beside this one under another module name, so before and after run in
  the same process and rounds.

Each is measured cold (no validators: every feed 200 with its body) and warm (the validators of the cold pass:
every feed 304). Figures: wall seconds (median of the rounds, range) and CPU seconds of this process over the
pass (``time.process_time``, all threads: less sensitive than wall time to other processes on the machine), and
each client's ratios to the fastest raw floor of the same pass. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.ingest import fetch as this_fetch  # noqa: E402
from tests.benchmarks import farm_bench  # noqa: E402

Outcome = tuple[int, str | None, str | None, int]  # status, ETag, Last-Modified, body bytes
Pass = Callable[[list[str], list[list[str | None]] | None], list[Outcome]]


def load_fetch_module(tree: Path) -> ModuleType:
    """``monitor/ingest/fetch.py`` of another tree as its own module (it imports this tree's clock, netpolicy)."""
    path = tree / "monitor" / "ingest" / "fetch.py"
    spec = importlib.util.spec_from_file_location("compare_fetch", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_fetch"] = module
    spec.loader.exec_module(module)
    return module


def fetcher_pass(module: ModuleType, args: argparse.Namespace) -> Pass:
    def run(urls: list[str], validators: list[list[str | None]] | None) -> list[Outcome]:
        fetcher = module.Fetcher(user_agent="fetch-bench/1 (+mailto:bench@example.org)",
                                 concurrency=args.concurrency, per_host=args.per_host)
        reqs = [module.FetchRequest(f"f{n}", url, *(validators[n] if validators else (None, None)))
                for n, url in enumerate(urls)]  # fmt: skip
        out: list[Outcome | None] = [None] * len(urls)
        for result in fetcher.fetch_each(reqs):
            if result.error is not None:
                raise RuntimeError(f"{result.feed_id}: {result.error}")
            n = int(result.feed_id[1:])
            out[n] = (result.status, result.headers.get("etag"), result.headers.get("last-modified"),
                      len(result.body or b""))
        assert all(o is not None for o in out)
        return out  # type: ignore[return-value]

    return run


def raw_async(concurrency: int) -> Pass:
    return lambda urls, validators: asyncio.run(farm_bench.async_pass(urls, validators, concurrency))


def raw_threads(concurrency: int) -> Pass:
    return lambda urls, validators: farm_bench.thread_pass(urls, validators, concurrency)


def measure(fn: Pass, urls: list[str], validators: list[list[str | None]] | None,
            expect: int) -> tuple[float, float, list[list[str | None]]]:
    c0, t0 = time.process_time(), time.perf_counter()
    results = fn(urls, validators)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    bad = [r[0] for r in results if r[0] != expect]
    if bad:
        raise RuntimeError(f"expected every feed {expect}, got {len(bad)} others (first {bad[0]})")
    return wall, cpu, [[etag, lm] for _, etag, lm, _ in results]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ports", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--server", choices=("asyncio", "threaded"), default="asyncio")
    ap.add_argument("--compare", type=Path, default=None, help="another tree whose fetch.py to measure beside")
    ap.add_argument("--only", default="", help="comma-separated clients to run (async,threads,fetcher,compare)")
    args = ap.parse_args()

    clients: dict[str, Pass] = {
        "async": raw_async(args.concurrency),
        "threads": raw_threads(args.concurrency),
        "fetcher": fetcher_pass(this_fetch, args),
    }
    if args.compare is not None:
        clients["compare"] = fetcher_pass(load_fetch_module(args.compare), args)
    if args.only:
        clients = {k: v for k, v in clients.items() if k in args.only.split(",")}

    farm = subprocess.Popen([sys.executable, str(Path(farm_bench.__file__)), "--serve", "--feeds", str(args.feeds),
                             "--ports", str(args.ports), "--server", args.server],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=farm_bench.clean_env())
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    try:
        assert farm.stdout is not None
        ports = json.loads(farm.stdout.readline())["ports"]
        urls = farm_bench.farm_urls(ports, args.feeds)
        names = list(clients)
        for name in names:  # untimed warm-up: imports, first connections, the farm's caches
            clients[name](urls[: 4 * args.concurrency], None)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                w, c, validators = measure(clients[name], urls, None, 200)
                wall.setdefault(f"{name} cold", []).append(w)
                cpu.setdefault(f"{name} cold", []).append(c)
                w, c, _ = measure(clients[name], urls, validators, 304)
                wall.setdefault(f"{name} warm", []).append(w)
                cpu.setdefault(f"{name} warm", []).append(c)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in wall.items()), file=sys.stderr)
    finally:
        assert farm.stdin is not None
        farm.stdin.close()
        farm.wait(timeout=10)

    print(f"{args.feeds} feeds on {args.ports} ports ({args.server} farm), concurrency {args.concurrency}, "
          f"per host {args.per_host}, {args.rounds} rounds; median (range); ratios of medians")
    print("| client | pass | wall s | CPU s | wall / async | wall / threads | CPU / async | CPU / threads |")
    print("|---|---|---|---|---|---|---|---|")
    for name in clients:
        for kind in ("cold", "warm"):
            key = f"{name} {kind}"
            w, c = statistics.median(wall[key]), statistics.median(cpu[key])
            row = [name, kind, f"{w:.3f} ({min(wall[key]):.2f}-{max(wall[key]):.2f})", f"{c:.3f}"]
            for base in ("async", "threads"):
                bw = wall.get(f"{base} {kind}")
                row.append(f"{w / statistics.median(bw):.2f}x" if bw else "")
            for base in ("async", "threads"):
                bc = cpu.get(f"{base} {kind}")
                row.append(f"{c / statistics.median(bc):.2f}x" if bc else "")
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
