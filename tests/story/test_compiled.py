"""A compiled story is built by its owner and freed with it; copying a state never changes the original."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path

from monitor.config.load import load_settings
from monitor.domain import Item, SourceKind
from monitor.story.compiled import CompiledStory, compile_stories
from monitor.story.reducer import advance, initial_state

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 2, 25, 12, 0, tzinfo=UTC)


def _item(n: int, title: str) -> Item:
    return Item(feed_id="f", item_id=f"i{n}", title=title, summary="", link=f"https://o{n}.example/{n}",
                outlet=f"Outlet {n}", published=NOW, fetched_at=NOW,
                source_kind=SourceKind.ORDINARY)


def test_a_replaced_config_and_its_compiled_story_are_freed_together() -> None:
    settings = load_settings(ROOT / "config" / "monitor.toml")
    compiled = compile_stories(settings)
    story = settings.stories[0]
    advance(compiled[story.id], initial_state(story), [_item(1, "Pentagon weighs invoking the Defense Production Act")],
            NOW)
    watch = weakref.ref(compiled[story.id])
    del compiled, settings, story
    gc.collect()
    assert watch() is None


def test_advance_and_copy_leave_the_given_state_exactly_as_it_was() -> None:
    story = load_settings(ROOT / "tests" / "data" / "anthropic-feb2026.toml").stories[0]
    engine = CompiledStory(story)
    items = [_item(n, f"Anthropic and Pentagon talks: unrelated budget hearing number {n} in Congress")
             for n in range(1, 4)]
    first = advance(engine, initial_state(story), items, NOW).state
    first.index()  # build the derived index, which a copy must not take away
    before = first.to_json()
    index_before = first._index
    copied = first.copy()
    advance(engine, first, [_item(9, "Anthropic Pentagon budget hearing again in Congress")], NOW)
    assert first.to_json() == before
    assert first._index is index_before and copied._index is not index_before


def test_an_item_missing_one_relevance_group_is_relevant_when_a_thread_cue_of_the_story_acts_in_it() -> None:
    from datetime import UTC, datetime

    from monitor.config.schema import StoryConfig
    from monitor.domain import Item
    from monitor.story.compiled import CompiledStory

    story = StoryConfig.model_validate({
        "id": "uaw", "title": "UAW strike",
        "relevance": {"require": [["UAW", "union"], ["Ford", "GM"]]},
        "threads": {"strike": {
            "objects": ["Ford", "GM", "plant"],
            "states": [{"id": "none", "level": 0, "kind": "initial"},
                       {"id": "expanded", "level": 2, "cues": ["strike widens"]}],
            "transitions": {"none": ["expanded"]}}},
    })
    compiled = CompiledStory(story)
    at = datetime(2023, 9, 29, tzinfo=UTC)

    def decide(title: str) -> tuple[bool, tuple[str, ...]]:
        decision = compiled.match(Item("f", "1", title, "", "https://x.test/1", "x.test", at, at))
        return decision.relevant, decision.terms

    assert decide("Strike widens to Ford's Chicago plant") == (True, ("Ford", "cue 'strike widens'"))
    assert decide("Ford recalls pickups over brake fault")[0] is False  # one group, no cue: not the story
    assert decide("Strike widens at a Korean shipyard")[0] is False  # no group at all: a cue alone is not enough
