"""Benchmark: per-item cost of ``story.advance`` as history grows (not collected by pytest).

Feeds synthetic history (1 item a minute: wire rewrites of thread moves, hedged and negated items, untracked
news about many small events, irrelevant items) through the shipped story in poll-sized batches, with a JSON
round trip of the state after every batch as the service does, and times the next items at 1k, 10k and 100k
items of history. Run: ``.venv/bin/python tests/benchmarks/story_bench.py [--max 100000]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from monitor.config.load import load_settings  # noqa: E402
from monitor.domain import Item, SourceKind  # noqa: E402
from monitor.story.compiled import CompiledStory  # noqa: E402
from monitor.story.reducer import StoryState, advance, initial_state  # noqa: E402

STORY = load_settings(ROOT / "config" / "monitor.toml").stories[0]
COMPILED = CompiledStory(STORY)
START = datetime(2026, 2, 24, tzinfo=UTC)
BATCH = 25  # items per poll
MEASURE = 2000  # items timed at each checkpoint
OUTLETS = [f"outlet{n}.example" for n in range(40)]
TEMPLATES = [
    "Pentagon designates Anthropic a supply chain risk",
    "Pentagon could invoke Defense Production Act against Anthropic",
    "Pentagon won't blacklist Anthropic, official says",
    "Anthropic rejects Pentagon demands",
    "Anthropic and Pentagon talks collapse",
    "Judge blocks Pentagon's designation of Anthropic",
    "Anthropic {a} Pentagon over {b} {c}",
    "Pentagon {a} Anthropic {b} as {c} {d}",
    "Anthropic {a} {b}: what the Pentagon fight means for {c}",
    "Unrelated {a} story about {b} and {c}",
]


def make_item(n: int, rng: random.Random) -> Item:
    words = {k: f"w{rng.randrange(3000)}" for k in "abcd"}
    title = rng.choice(TEMPLATES).format(**words)
    outlet = rng.choice(OUTLETS)
    at = START + timedelta(minutes=n)
    kind = SourceKind.WIRE if rng.random() < 0.05 else SourceKind.ORDINARY
    summary = f"Reporting on {words['a']} and {words['b']}."
    return Item("bench", f"i{n}", title, summary, f"https://{outlet}/{n}", outlet, at, at, kind)


def feed(state: StoryState, start: int, count: int, rng: random.Random) -> StoryState:
    for first in range(start, start + count, BATCH):
        batch = [make_item(n, rng) for n in range(first, min(first + BATCH, start + count))]
        state = advance(COMPILED, state, batch, batch[-1].published).state
        state = StoryState.from_json(state.to_json())  # stored and loaded between polls, as the service does
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=100_000, help="largest history size")
    args = parser.parse_args()
    rng = random.Random(42)
    state, fed = initial_state(STORY), 0
    print(f"{'history':>8}  {'ms/item':>8}  {'developments kept':>17}  {'pool clusters':>13}  {'seen+vocabulary':>15}")
    for checkpoint in (1_000, 10_000, 100_000):
        if checkpoint > args.max:
            break
        state = feed(state, fed, checkpoint - fed, rng)
        fed = checkpoint
        began = time.perf_counter()
        measured = feed(state, fed, MEASURE, random.Random(checkpoint))
        per_item = (time.perf_counter() - began) * 1000 / MEASURE
        size = len(measured.seen) + len(measured.vocabulary.counts)
        kept, pool = len(measured.developments), len(measured.clusters)
        print(f"{checkpoint:>8}  {per_item:>8.3f}  {kept:>17}  {pool:>13}  {size:>15}")


if __name__ == "__main__":
    main()
