"""Deadline states as stored: every configured deadline's state, read in one transaction."""

from __future__ import annotations

from monitor.config.schema import Settings, StoryConfig
from monitor.store.db import Store, Tx
from monitor.story.deadlines import DeadlineState, initial_deadline_state


def load_deadline_states(settings: Settings, store: Store) -> dict[tuple[str, str], DeadlineState]:
    """Every configured deadline's stored state, or its initial state when none is stored yet."""
    states = {}
    with store.read() as tx:
        for story in settings.stories:
            for deadline_id, state in story_deadline_states(tx, story).items():
                states[(story.id, deadline_id)] = state
    return states


def story_deadline_states(tx: Tx, story: StoryConfig) -> dict[str, DeadlineState]:
    """One story's deadline states by deadline id, as ``tx`` sees them (initial when none is stored yet)."""
    states = {}
    for deadline in story.deadlines:
        raw = tx.load_deadline_state(story.id, deadline.id)
        states[deadline.id] = DeadlineState.from_json(raw) if raw else initial_deadline_state(story, deadline)
    return states
