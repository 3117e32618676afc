"""The story state stored in parts: a save writes what an advance changed, loading gives back the same state,
and a process keeping the state in memory reloads it when another process saved since or its own transaction
rolled back."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.app.story_parts import (
    RECENT_WORDS,
    RECENT_WORDS_MAX,
    PartIndex,
    StoryStates,
    all_parts,
    changed_parts,
    core_json,
    whole_state,
)
from monitor.domain import Item
from monitor.store.db import Store
from monitor.store.story import StaleStoryState
from monitor.story.compiled import CompiledStory
from monitor.story.reducer import StoryState, advance, initial_state

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.story_bench import COMPILED, START, STORY, make_item  # noqa: E402
from tests.databases import BACKENDS, database_url_for  # noqa: E402


def grown_state(items: int) -> StoryState:
    rng = random.Random(7)
    state = initial_state(STORY)
    for first in range(0, items, 25):
        batch = [make_item(n, rng) for n in range(first, first + 25)]
        state = advance(COMPILED, state, batch, batch[-1].published).state
    return state


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def grown() -> StoryState:
    return grown_state(3000)


def stored(store: Store) -> StoryState:
    with store.read() as tx:
        return StoryState.from_json(whole_state(tx.load_story_state(STORY.id) or {}))


def poll(states: StoryStates, store: Store, items: list[Item]) -> StoryState:
    """What ``Service.process_items`` does with one story: load, advance in place, save, commit, settle."""
    now = items[-1].published + timedelta(seconds=30)
    with store.write() as tx:
        state = states.load(tx, STORY)
        state = advance(COMPILED, state, items, now, in_place=True).state
        rows = {t: (s.state, s.since, s.development) for t, s in state.threads.items()}
        states.save(tx, STORY.id, state, rows, now)
    states.settle(committed=True)
    return state


def test_a_state_saved_in_parts_loads_back_exactly_and_in_the_same_order(grown: StoryState, database_url: str) -> None:
    store = Store.open(database_url)
    with store.write() as tx:
        tx.save_story_parts(STORY.id, core_json(grown), changed_parts(grown, None), {}, START, replace=True)
    loaded = stored(store)
    store.close()
    assert loaded.to_json() == grown.to_json()
    assert list(loaded.developments) == list(grown.developments)  # and the order the reducer meets them in
    assert list(loaded.clusters) == list(grown.clusters)


def test_an_advance_changes_few_parts_of_a_big_state(grown: StoryState) -> None:
    index = PartIndex()
    all_parts(grown, index)  # the buckets as stored
    rng = random.Random(11)
    batch = [make_item(n, rng) for n in range(3000, 3025)]  # the next poll of the same history
    after = advance(COMPILED, grown, batch, batch[-1].published + timedelta(minutes=1)).state
    changed = changed_parts(after, index)
    everything = changed_parts(after, None)
    assert len(everything) > 100
    assert len(changed) < len(everything) / 4
    written = sum(len(json.dumps(v)) for v in changed.values() if v is not None) + len(json.dumps(core_json(after)))
    total = len(json.dumps(after.to_json()))
    assert written < total / 3, (written, total)


def test_a_poll_of_one_item_writes_a_small_fraction_of_a_big_state(grown: StoryState) -> None:
    state = StoryState.from_json(grown.to_json())  # the service's own, advanced in place
    index = PartIndex()
    all_parts(state, index)
    item = make_item(3000, random.Random(3))
    advance(COMPILED, state, [item], item.published + timedelta(seconds=30), in_place=True)
    changed = changed_parts(state, index)
    written = sum(len(json.dumps(v)) for v in changed.values() if v is not None) + len(json.dumps(core_json(state)))
    total = len(json.dumps(state.to_json()))
    assert written < total / 10, (written, total)
    assert len(json.dumps(core_json(state))) < total / 20  # the vocabulary is parts of its own, not the core's


def test_an_items_words_go_to_the_recent_part_and_are_folded_into_their_buckets_later(grown: StoryState) -> None:
    state = StoryState.from_json(grown.to_json())
    index = PartIndex()
    stored_parts = all_parts(state, index)
    rng, folds, polls = random.Random(23), 0, 0
    for n in range(3000, 3120):
        item = make_item(n, rng)
        advance(COMPILED, state, [item], item.published + timedelta(seconds=30), in_place=True)
        changed = changed_parts(state, index)
        state.saved()
        buckets = [name for name in changed if name.startswith("words:")]
        if changed.get(RECENT_WORDS, "kept") is None:  # a fold: the recent stems went to their buckets
            folds += 1
            assert len(buckets) > 1
        else:
            assert buckets == []  # not a bucket of the vocabulary rewritten for this item's words
        polls += 1
        for name, value in changed.items():
            if value is None:
                stored_parts.pop(name, None)
            else:
                stored_parts[name] = value
        assert len(stored_parts.get(RECENT_WORDS) or {}) <= RECENT_WORDS_MAX
    assert 0 < folds < polls / 5
    assert StoryState.from_json(whole_state({**core_json(state), "parts": stored_parts})).to_json() == state.to_json()


def test_in_place_and_copying_advances_decide_alike_and_the_in_place_one_notes_every_change(
        grown: StoryState) -> None:
    copied = StoryState.from_json(grown.to_json())
    own = StoryState.from_json(grown.to_json())
    index = PartIndex()
    stored_parts = all_parts(own, index)
    rng = random.Random(5)
    for n in range(4300, 4900, 3):  # polls of three items, three days on: things expire from every window
        batch = [make_item(k, rng) for k in range(n, n + 3)]
        now = batch[-1].published + timedelta(seconds=30)
        a = advance(COMPILED, copied, batch, now)
        b = advance(COMPILED, own, batch, now, in_place=True)
        assert b.state is own
        assert a.developments == b.developments and a.evidence == b.evidence
        copied = a.state
        for name, value in changed_parts(own, index).items():  # what a save would write, applied
            if value is None:
                stored_parts.pop(name, None)
            else:
                stored_parts[name] = value
        own.saved()
        assert own.to_json() == copied.to_json()
    assert StoryState.from_json(whole_state({**core_json(own), "parts": stored_parts})).to_json() == own.to_json()
    for kind in ("seen", "clusters", "developments"):  # pruned in place, and noted
        assert not set(getattr(grown, kind)) <= set(getattr(own, kind)), kind


def test_a_service_saving_poll_by_poll_stores_exactly_the_state_it_keeps(grown: StoryState, database_url: str) -> None:
    store = Store.open(database_url)
    with store.write() as tx:  # a state stored whole (as before parts): the first save writes every part
        tx.save_story_state(STORY.id, grown.to_json(), {}, START)
    states, rng = StoryStates(), random.Random(9)
    moves = {3100: "Pentagon invokes Defense Production Act against Anthropic",
             3300: "Anthropic and Pentagon reach a deal"}
    for n in range(3000, 3400, 4):
        size = 1 if n % 8 else 4
        items = [make_item(k, rng) for k in range(n, n + size)]
        if n in moves:  # a thread moves: its row is written
            items[0] = replace(items[0], title=moves[n], summary="")
        state = poll(states, store, items)
        if n == 3200:  # the vocabulary trimmed to its cap: every word bucket is rewritten
            state.vocabulary.cap = len(state.vocabulary.counts) // 2
    assert len(state.vocabulary.counts) < len(grown.vocabulary.counts)
    assert state.threads["dpa"].state == "invoked" and state.threads["negotiations"].development is not None
    assert stored(store).to_json() == state.to_json()
    with store.read() as tx:
        rows = {t: (r.state, r.since, r.development_key) for t, r in tx.thread_states(STORY.id).items()}
    assert rows == {t: (s.state, s.since, s.development) for t, s in state.threads.items()}
    store.close()


def test_a_state_changed_by_a_transaction_that_rolled_back_is_dropped_and_read_again(
        grown: StoryState, database_url: str) -> None:
    store = Store.open(database_url)
    states, rng = StoryStates(), random.Random(13)
    with store.write() as tx:
        tx.save_story_parts(STORY.id, core_json(grown), changed_parts(grown, None), {}, START, replace=True)
    kept = poll(states, store, [make_item(3000, rng)])
    before = kept.to_json()
    items = [make_item(n, rng) for n in range(3001, 3026)]
    with pytest.raises(RuntimeError), store.write() as tx:  # fails after the advance changed the state
        state = states.load(tx, STORY)
        assert state is kept  # the committed state, from memory
        advance(COMPILED, state, items, items[-1].published, in_place=True)
        raise RuntimeError("the feed's transaction fails")
    states.settle(committed=False)
    assert kept.to_json() != before  # changed in place, and so not to be used again
    with store.read() as tx:
        again = states.load(tx, STORY)
    assert again is not kept and again.to_json() == before
    store.close()


def test_another_writer_saving_meanwhile_makes_the_next_load_read_the_store(grown: StoryState,
                                                                            database_url: str) -> None:
    store = Store.open(database_url)
    with store.write() as tx:
        tx.save_story_parts(STORY.id, core_json(grown), changed_parts(grown, None), {}, START, replace=True)
    daemon, other, rng = StoryStates(), StoryStates(), random.Random(17)
    poll(daemon, store, [make_item(3000, rng)])
    theirs = poll(other, store, [make_item(3001, rng)])  # `monitor poll` beside the daemon
    with store.read() as tx:
        assert daemon.load(tx, STORY).to_json() == theirs.to_json()
    daemon.settle(committed=False)
    ours = poll(daemon, store, [make_item(3002, rng)])
    assert stored(store).to_json() == ours.to_json()
    with store.write() as tx:  # both read the same revision: the second save is refused
        first, second = daemon.load(tx, STORY), other.load(tx, STORY)
        daemon.save(tx, STORY.id, first, {}, START)
        with pytest.raises(StaleStoryState):
            other.save(tx, STORY.id, second, {}, START)
    store.close()


def test_a_core_holding_its_vocabulary_loads_and_its_next_save_writes_the_words_as_parts(
        grown: StoryState, database_url: str) -> None:
    store = Store.open(database_url)
    parts = {name: value for name, value in changed_parts(grown, None).items() if not name.startswith("words:")}
    old_core = {**core_json(grown), "vocabulary": dict(grown.vocabulary.counts)}  # as stored before words parts
    with store.write() as tx:
        tx.save_story_parts(STORY.id, old_core, parts, {}, START, replace=True)
    assert stored(store).to_json() == grown.to_json()
    state = poll(StoryStates(), store, [make_item(3000, random.Random(19))])
    with store.read() as tx:
        raw = tx.load_story_state(STORY.id) or {}
    assert "vocabulary" not in raw and any(name.startswith("words:") for name in raw["parts"])
    assert stored(store).to_json() == state.to_json()
    store.close()


def test_a_save_from_a_stale_read_is_refused_so_the_feed_is_retried(database_url: str) -> None:
    store = Store.open(database_url)
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
