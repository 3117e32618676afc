"""Deadline states as stored: every configured deadline's state, read in one transaction; and the thread states
a deadline's resolution is judged on."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.schema import Settings, StoryConfig
from monitor.domain import Confidence
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


@dataclass(frozen=True)
class DeadlineThreads:
    """A story's thread states for ``story.deadlines.evaluate``: every thread's current state (``states``, the
    initial one for a thread never moved) and the threads whose current state rests on a development that is
    still only REPORTED (``unconfirmed``), which cannot resolve a deadline yet."""

    states: dict[str, str]
    unconfirmed: frozenset[str]


def deadline_thread_states(tx: Tx, story: StoryConfig) -> DeadlineThreads:
    """The thread states of ``story`` as ``tx`` sees them, with the confidence of the development behind each.

    Call as ``evaluate(..., thread_states=t.states, unconfirmed=t.unconfirmed, ...)``: a resolving state that
    one ordinary outlet reported does not silence the reminders or the "passed" alert until it is confirmed.
    """
    rows = tx.thread_states(story.id)
    states = {thread_id: row.state for thread_id, row in rows.items()}
    for thread_id, thread in story.threads.items():
        states.setdefault(thread_id, thread.initial_state)
    unconfirmed = set()
    for thread_id, row in rows.items():
        if row.development_key is None:
            continue
        development = tx.development(row.development_key)
        if development is not None and development.confidence is not Confidence.CONFIRMED:
            unconfirmed.add(thread_id)
    return DeadlineThreads(states, frozenset(unconfirmed))
