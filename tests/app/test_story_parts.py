"""The story state stored in parts: a save writes what an advance changed, loading gives back the same state,
and a process keeping the state in memory reloads it when another process saved since."""

from __future__ import annotations

import json
import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app.story_parts import changed_parts, core_json, whole_state
from monitor.store.db import Store
from monitor.store.story import StaleStoryState
from monitor.story.compiled import CompiledStory
from monitor.story.reducer import StoryState, advance, initial_state

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.story_bench import COMPILED, START, STORY, make_item  # noqa: E402


def grown_state(items: int) -> StoryState:
    rng = random.Random(7)
    state = initial_state(STORY)
    for first in range(0, items, 25):
        batch = [make_item(n, rng) for n in range(first, first + 25)]
        state = advance(COMPILED, state, batch, batch[-1].published).state
    return state


@pytest.fixture(scope="module")
def grown() -> StoryState:
    return grown_state(3000)


def test_a_state_saved_in_parts_loads_back_exactly_and_in_the_same_order(grown: StoryState, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    with store.write() as tx:
        tx.save_story_parts(STORY.id, core_json(grown), changed_parts(grown, None), {}, START, replace=True)
    with store.read() as tx:
        loaded = StoryState.from_json(whole_state(tx.load_story_state(STORY.id) or {}))
    store.close()
    assert loaded.to_json() == grown.to_json()
    assert list(loaded.developments) == list(grown.developments)  # and the order the reducer meets them in
    assert list(loaded.clusters) == list(grown.clusters)


def test_an_advance_changes_few_parts_of_a_big_state(grown: StoryState) -> None:
    rng = random.Random(11)
    batch = [make_item(n, rng) for n in range(3000, 3025)]  # the next poll of the same history
    after = advance(COMPILED, grown, batch, batch[-1].published + timedelta(minutes=1)).state
    changed = changed_parts(after, grown)
    everything = changed_parts(after, None)
    assert len(everything) > 100
    assert len(changed) < len(everything) / 4
    written = sum(len(json.dumps(v)) for v in changed.values() if v is not None) + len(json.dumps(core_json(after)))
    total = len(json.dumps(after.to_json()))
    assert written < total / 3, (written, total)


def test_a_save_from_a_stale_read_is_refused_so_the_feed_is_retried(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    state = initial_state(STORY)
    with store.write() as tx:
        first = tx.save_story_parts(STORY.id, core_json(state), {}, {}, START)
    with store.write() as tx:  # another process saves meanwhile
        tx.save_story_parts(STORY.id, core_json(state), {}, {}, START, expected=first)
    with pytest.raises(StaleStoryState), store.write() as tx:
        tx.save_story_parts(STORY.id, core_json(state), {}, {}, START, expected=first)
    with store.read() as tx:
        assert tx.story_revision(STORY.id) == first + 1
    store.close()


def test_compiled_story_used_here_is_the_shipped_one() -> None:
    assert isinstance(COMPILED, CompiledStory) and COMPILED.story.id == STORY.id
