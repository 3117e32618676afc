"""``monitor explain``: why an item (given as text, or stored) did or did not move a story, and what a stored
development was decided on. Reads the store, changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.app.story_parts import whole_state
from monitor.config.schema import Settings, StoryConfig
from monitor.domain import Item, SourceKind
from monitor.errors import MonitorError
from monitor.store.db import Store
from monitor.story.compiled import CompiledStory
from monitor.story.deadlines import DeadlineState, initial_deadline_state
from monitor.story.explain import Explanation, explain
from monitor.story.reducer import StoryState, initial_state


class NotFound(MonitorError):
    """An id or key that names nothing (exit 1 with a message)."""


def _stories(settings: Settings, story_id: str | None) -> list[StoryConfig]:
    if story_id is None:
        return list(settings.stories)
    known = [s for s in settings.stories if s.id == story_id]
    if not known:
        ids = ", ".join(s.id for s in settings.stories)
        raise NotFound(f"no story {story_id!r} in the config; configured: {ids}")
    return known


def stored_states(story: StoryConfig, store: Store | None) -> tuple[StoryState, dict[str, DeadlineState]]:
    """The story's stored state and deadline states, or the initial ones (no store, or nothing stored)."""
    raw_story: dict[str, Any] | None = None
    raw_deadlines: dict[str, dict[str, Any] | None] = {}
    if store is not None:
        with store.read() as tx:
            raw_story = tx.load_story_state(story.id)
            raw_deadlines = {d.id: tx.load_deadline_state(story.id, d.id) for d in story.deadlines}
    state = StoryState.from_json(whole_state(raw_story)) if raw_story else initial_state(story)
    deadlines = {}
    for d in story.deadlines:
        raw = raw_deadlines.get(d.id)
        deadlines[d.id] = DeadlineState.from_json(raw) if raw else initial_deadline_state(story, d)
    return state, deadlines


def explain_text(settings: Settings, store: Store | None, title: str, summary: str, story_id: str | None,
                 now: datetime) -> list[Explanation]:
    """Explain a headline (and summary) as if one ordinary outlet had just published it."""
    item = Item(feed_id="explain", item_id="explain", title=title, summary=summary, link=None,
                outlet="(explain)", published=now, fetched_at=now, source_kind=SourceKind.ORDINARY)
    return [explain(CompiledStory(s), *stored_states(s, store), item, now) for s in _stories(settings, story_id)]


def explain_item(settings: Settings, store: Store, key: str, story_id: str | None,
                 now: datetime) -> list[Explanation]:
    """Explain a stored item, ``FEED:ITEM_ID`` (as ``monitor items`` and development evidence name it)."""
    feed_id, _, item_id = key.partition(":")
    with store.read() as tx:
        item = tx.item(feed_id, item_id) if item_id else None
    if item is None:
        raise NotFound(f"no stored item {key!r}; name it FEED:ITEM_ID (see a development's evidence)")
    feed = next((f for f in settings.feeds if f.id == feed_id), None)
    stories = settings.stories_of(feed) if feed is not None and story_id is None else _stories(settings, story_id)
    # judged as new against today's state: a seen item would only say "duplicate", so the seen mark is dropped
    out = []
    for story in stories:
        state, deadlines = stored_states(story, store)
        state = state.copy()
        state.seen.pop(item.link or f"{item.feed_id}:{item.item_id}", None)
        out.append(explain(CompiledStory(story), state, deadlines, item, now))
    return out


def development_evidence(store: Store, key: str) -> dict[str, Any]:
    """A stored development with the evidence it was decided on."""
    with store.read() as tx:
        found = tx.development(key)
    if found is None:
        raise NotFound(f"no development {key!r}; `monitor history --json` lists the keys")
    return found.to_json()
