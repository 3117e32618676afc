"""Pruning pops what expired (``story.expiry``) instead of scanning the state, and forgets exactly what a scan of
every entry forgets: seen links and pool clusters added, renewed and removed in any order, over many polls."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

from monitor.config.schema import StoryConfig
from monitor.story.cluster import Cluster
from monitor.story.expiry import Expiry
from monitor.story.reducer import StoryState, advance

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.story_bench import COMPILED, START, STORY, make_item  # noqa: E402


def scan_prune(state: StoryState, story: StoryConfig, now: datetime) -> None:
    """``StoryState.prune`` as it was before the expiry heaps: every entry read (the reference)."""
    horizon = now - story.recent_window
    for key in [k for k, r in state.developments.items() if r.last_at < horizon]:
        del state.developments[key]
    if len(state.seen) > 64:
        state.seen = {k: v for k, v in state.seen.items() if v >= horizon.isoformat()}
    pool_horizon = now - story.new_developments.cluster_window
    for cluster in [c for c in state.clusters.values() if c.last_ts < pool_horizon.timestamp()]:
        state.index().remove(cluster)
        del state.clusters[cluster.id]


def test_expiry_pops_only_entries_before_the_horizon_earliest_first() -> None:
    expiry = Expiry([(5.0, "e"), (1.0, "a"), (3.0, "c")])
    expiry.push(2.0, "b")
    assert list(expiry.expired(3.0)) == [(1.0, "a"), (2.0, "b")]
    assert len(expiry) == 2 and list(expiry.copy().expired(10.0)) == [(3.0, "c"), (5.0, "e")]
    assert len(expiry) == 2  # the copy is its own


def test_pruning_through_expiry_forgets_exactly_what_a_scan_forgets() -> None:
    rng = random.Random(23)
    state = advance(COMPILED, StoryState.from_json({"story_id": STORY.id, "threads": {}, "developments": {},
                                                    "clusters": {}, "vocabulary": {}, "seen": {}, "counters": {}}),
                    [make_item(n, rng) for n in range(25)], START + timedelta(minutes=25)).state
    reference = StoryState.from_json(state.to_json())
    pruned_seen = pruned_clusters = 0
    for step in range(400):
        now = START + timedelta(minutes=30 + 20 * step)
        for target in (state, reference):  # the same changes, through the state's own methods
            picks = random.Random(step)
            for n in range(picks.randrange(1, 6)):  # links published out of order, some long ago
                published = now - timedelta(minutes=picks.choice([0, 5, 600, 3000, 5000, 9000]))
                target.see(f"https://x.example/{step}-{n}", published.isoformat())
            for n in range(2):  # a link seen again, kept or forgotten: its earlier entry is out of date
                key = f"https://x.example/{picks.randrange(step + 1)}-{n}"
                target.see(key, (now - timedelta(minutes=picks.choice([0, 4000]))).isoformat())
            if target.clusters and picks.random() < 0.5:  # news for an existing cluster renews it
                cluster = target.own_cluster(picks.choice(sorted(target.clusters)))
                cluster.add([("word", "word")], "x.example", now, "ordinary", f"renewed {step}")
            if picks.random() < 0.5:
                at = (now - timedelta(minutes=picks.choice([0, 1500, 2900]))).timestamp()
                target.add_cluster(Cluster(f"z{step}", f"title {step}", at, at))
        before = (len(state.seen), len(state.clusters))
        state.prune(STORY, now)
        scan_prune(reference, STORY, now)
        assert state.to_json() == reference.to_json(), step
        pruned_seen += before[0] - len(state.seen)
        pruned_clusters += before[1] - len(state.clusters)
    assert pruned_seen > 100 and pruned_clusters > 50  # both windows really moved


def test_a_copy_prunes_on_its_own_and_leaves_the_original_as_it_was() -> None:
    rng = random.Random(29)
    items = [make_item(n, rng) for n in range(200)]
    first = advance(COMPILED, StoryState.from_json({"story_id": STORY.id, "threads": {}, "developments": {},
                                                    "clusters": {}, "vocabulary": {}, "seen": {}, "counters": {}}),
                    items, items[-1].published).state
    snapshot = first.to_json()
    later = advance(COMPILED, first, [], items[-1].published + timedelta(days=5)).state
    assert later.seen == {} or len(later.seen) <= 64
    assert later.clusters == {}
    assert first.to_json() == snapshot
    again = advance(COMPILED, first, [], items[-1].published + timedelta(days=5)).state
    assert again.to_json() == later.to_json()
