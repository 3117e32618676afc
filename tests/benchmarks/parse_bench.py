"""Benchmark: ``parse_feed`` (body -> items) per feed, beside feedparser and an older tree, with an identity check.

Run:  .venv/bin/python tests/benchmarks/parse_bench.py [--old /path/to/older/tree] [--feeds 200] [--rounds 5]
      [--corpus DIR] [--no-corpus] [--identity-only]

Two sets of documents:

1. farm feeds: ``farm_bench.feed_body`` (the whole-command harness's feeds: plain RSS 2.0, 50 items with HTML
   descriptions and tracking parameters on every link, about 40 KB each), with the farm's response headers;
2. the real feeds of feedparser's test corpus (``../shared/corpus/feedparser`` or ``$MONITOR_CORPUS_DIR``, about
   1,800 files, most of them small and odd: every format, encoding and error feedparser handles).

Each round times, over the whole set and in turn (the order rotates between rounds, so the noise of a shared
machine falls on every measure alike): this tree's ``parse_feed``, the older tree's ``parse_feed`` when ``--old``
names one (a ``git archive`` of an earlier commit; its ``monitor`` package is imported under its own module
objects in this same process), and ``feedparser.parse`` on the same bytes (feedparser alone: no items built).
``canonical_url``'s memo is cleared before every timed pass, so each pass pays for its links as a cold poll does.
Times are this process's CPU time (``time.process_time``): on a shared machine, wall time counts the neighbours.
Figures: the median per feed over the rounds (range), and each measure's ratio to feedparser and to the old tree.

With ``--old``, every document is first parsed by both trees and the results compared field by field (the
feed's ``is_feed``, title, warning, error, notes; every item's every field); the count compared and each
difference are printed, and the exit status is 1 when any differs.
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.farm_bench import feed_body  # noqa: E402

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
Doc = tuple[bytes, dict[str, str], str]  # body, response headers, base URL


def load_parse(tree: Path) -> ModuleType:
    """``monitor.ingest.parse`` of another source tree, imported beside this tree's (which is imported after it).

    The other tree's ``monitor`` modules are imported with its folder first on ``sys.path``, then taken out of
    ``sys.modules`` again: the returned module keeps its own module objects through its globals."""
    ours = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "monitor"}
    sys.path.insert(0, str(tree))
    try:
        module = importlib.import_module("monitor.ingest.parse")
        if not str(module.__file__).startswith(str(tree)):
            raise SystemExit(f"{tree} holds no monitor package")
    finally:
        sys.path.remove(str(tree))
        for name in [name for name in sys.modules if name.split(".")[0] == "monitor"]:
            del sys.modules[name]
        sys.modules.update(ours)
    return module


def farm_docs(count: int) -> list[Doc]:
    base = NOW.replace(minute=0)
    headers = {"content-type": "application/rss+xml; charset=utf-8", "etag": '"farm-1"', "server": "farm"}
    return [(feed_body(n, base), headers, f"http://127.0.0.1:8080/feeds/{n}.xml") for n in range(count)]


def corpus_docs(root: Path) -> list[Doc]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "LICENSE") if root.is_dir() else []
    return [(p.read_bytes(), {}, "") for p in files]


def parse_with(module: ModuleType) -> Callable[[Doc], Any]:
    def run(doc: Doc) -> Any:
        return module.parse_feed(
            doc[0], doc[1], feed_id="bench", source_kind=module.SourceKind.ORDINARY, fetched_at=NOW,
            feed_title="Bench", base_url=doc[2],
        )  # fmt: skip

    return run


def feedparser_alone(doc: Doc) -> Any:
    import feedparser

    return feedparser.parse(doc[0], response_headers=doc[1] or None)


def summary(parsed: Any) -> tuple[Any, ...]:
    head = (parsed.is_feed, parsed.title, parsed.warning, parsed.error, parsed.notes)
    return head + tuple(dataclasses.astuple(item) for item in parsed.items)


def compare(name: str, docs: list[Doc], new: ModuleType, old: ModuleType) -> int:
    """Parse every document with both trees; print each difference; the number of documents that differ."""
    run_new, run_old = parse_with(new), parse_with(old)
    differing = items = 0
    fields = [f.name for f in dataclasses.fields(new.Item)]
    for index, doc in enumerate(docs):
        a, b = run_new(doc), run_old(doc)
        items += len(b.items)
        if summary(a) == summary(b):
            continue
        differing += 1
        print(f"  {name} #{index}: differs")
        for label, x, y in zip(("is_feed", "title", "warning", "error", "notes"), summary(a), summary(b), strict=False):
            if x != y:
                print(f"    {label}: new {x!r} old {y!r}")
        if len(a.items) != len(b.items):
            print(f"    items: new {len(a.items)} old {len(b.items)}")
        for i, (p, q) in enumerate(zip(a.items, b.items, strict=False)):
            for field in fields:
                if getattr(p, field) != getattr(q, field):
                    print(f"    item {i} {field}: new {getattr(p, field)!r} old {getattr(q, field)!r}")
    print(f"identity, {name}: {len(docs)} documents, {items} items compared field by field; {differing} differ")
    return differing


def timed_pass(function: Callable[[Doc], Any], docs: list[Doc], modules: list[ModuleType]) -> float:
    for module in modules:  # a cold poll meets every link for the first time
        module.canonical_url.cache_clear()
    start = time.process_time()
    for doc in docs:
        function(doc)
    return time.process_time() - start


def bench(name: str, docs: list[Doc], measures: dict[str, Callable[[Doc], Any]], modules: list[ModuleType],
          rounds: int) -> None:
    times: dict[str, list[float]] = {label: [] for label in measures}
    labels = list(measures)
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[: r % len(labels)]:
            times[label].append(timed_pass(measures[label], docs, modules) / len(docs) * 1e6)
    med = {label: statistics.median(values) for label, values in times.items()}
    print(f"\n{name}: {len(docs)} documents, {sum(len(d[0]) for d in docs) / len(docs) / 1024:.1f} KB a document "
          f"on average, {rounds} rounds; median per document (range)")
    print(f"  {'measure':28} {'us/doc':>10} {'range':>19} {'/feedparser':>12} {'/old':>7}")
    for label in labels:
        spread = f"{min(times[label]):.0f}-{max(times[label]):.0f}"
        to_fp = med[label] / med["feedparser.parse"]
        to_old = f"{med[label] / med['old parse_feed']:.2f}x" if "old parse_feed" in med else "-"
        print(f"  {label:28} {med[label]:10.0f} {spread:>19} {to_fp:11.2f}x {to_old:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", type=Path, help="an older source tree (e.g. a git archive) to compare against")
    parser.add_argument("--feeds", type=int, default=200, help="farm feeds (50 items each)")
    parser.add_argument("--rounds", type=int, default=5)
    default_corpus = os.environ.get("MONITOR_CORPUS_DIR") or str(ROOT.parent / "shared" / "corpus" / "feedparser")
    parser.add_argument("--corpus", type=Path, default=Path(default_corpus))
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--identity-only", action="store_true", help="compare the trees' output, time nothing")
    args = parser.parse_args()
    old = load_parse(args.old) if args.old else None
    new = importlib.import_module("monitor.ingest.parse")
    sets = {"farm feeds": farm_docs(args.feeds)}
    if not args.no_corpus:
        sets["feedparser corpus"] = corpus_docs(args.corpus)
        if not sets["feedparser corpus"]:
            raise SystemExit(f"no corpus at {args.corpus} (--no-corpus to skip it)")
    differing = 0
    if old is not None:
        for name, docs in sets.items():
            differing += compare(name, docs, new, old)
    if not args.identity_only:
        measures = {"parse_feed (this tree)": parse_with(new)}
        if old is not None:
            measures["old parse_feed"] = parse_with(old)
        measures["feedparser.parse"] = feedparser_alone
        modules = [new] + ([old] if old is not None else [])
        for name, docs in sets.items():
            bench(name, docs, measures, modules, args.rounds)
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
