"""Warnings about a valid configuration that cannot work as meant. Pure: settings in, messages out.

A warning never makes a configuration invalid (``monitor config check`` still exits 0); it points at a part
that will silently fail to report something:

- **no feed to poll**: no ``[[feeds]]`` at all, or every feed disabled. Nothing is read, so no thread can move,
  and the blind alert (``ops.blind``) never fires either; only deadline reminders and "passed" alerts are sent.
  Valid (a deadline countdown needs no feed, and a draft story can be tried with ``monitor explain``), but said;

- a state with **no way out** that a thread can get stuck in before reaching its top level: an ``initial`` or
  ``threat`` state no transition leaves, or an ``act`` state above the initial state's level that no
  transition leaves and that the thread can reach without passing its top level. Endings are not warned about:
  an act state at or below the initial state's level (dropped, rescinded, accepted) or one reached only after
  the top (ratified after the deal);
- a state **no chain of transitions reaches** from the thread's initial state: it can never be entered;
- **one-word cues** on a state at the thread's top level ("designate", "strike"): a single word matches too
  much for the most critical move;
- a non-initial state with **no cues** that nothing else moves the thread to (hedged cues of a higher state
  move it to the thread's first ``threat`` state, so that one may go without cues of its own).

Each message starts with the field path (``stories[0].threads.dpa.transitions``), says what is wrong and how to
fix it, like the validation problems of :mod:`monitor.config.problems`.
"""

from __future__ import annotations

from collections import deque

from monitor.config.schema import Settings, StateConfig, StoryConfig, ThreadConfig
from monitor.domain import StateKind


def settings_warnings(settings: Settings) -> list[str]:
    """The feeds' warning, then every story's warnings, in file order."""
    warnings = feed_warnings(settings)
    return warnings + [w for index, story in enumerate(settings.stories) for w in story_warnings(story, index)]


def feed_warnings(settings: Settings) -> list[str]:
    """A warning when no feed will be polled: none is configured, or every one is disabled."""
    effect = (
        "so nothing is polled: no thread can move, no new development is seen and the blind alert (ops.blind) "
        "never fires; only deadline reminders and 'passed' alerts are sent"
    )
    if not settings.feeds:
        return [f"feeds: no feed is configured, {effect}; add a [[feeds]] table (see docs/configuration.md)"]
    if not any(feed.enabled for feed in settings.feeds):
        return [f"feeds: every feed has enabled = false, {effect}; set enabled = true on at least one feed"]
    return []


def story_warnings(story: StoryConfig, index: int = 0) -> list[str]:
    """Warnings for one story; ``index`` is its place in the file (``stories[index]`` in the field paths)."""
    warnings: list[str] = []
    for thread_id, thread in story.threads.items():
        warnings += thread_warnings(story, f"stories[{index}].threads.{thread_id}", thread_id, thread)
    return warnings


def thread_warnings(story: StoryConfig, path: str, thread_id: str, thread: ThreadConfig) -> list[str]:
    """Warnings for one thread, state by state in file order (``path`` is the thread's field path)."""
    initial = thread.initial_state
    top = max(s.level for s in thread.states)
    top_ids = [s.id for s in thread.states if s.level == top]
    reachable = _reachable(thread, initial)
    # states the thread can be in before it has ever been at its top level
    before_top = _reachable(thread, initial, stop=set(top_ids))
    initial_level = thread.state(initial).level
    threat_target = _threat_target(thread)
    warnings: list[str] = []
    for position, state in enumerate(thread.states):
        where = f"{path}.states[{position}]"
        if state.id not in reachable:
            if state.kind is StateKind.INITIAL and state.id != initial:
                continue  # history: the thread was set to start later in its story (``initial``)
            known = ", ".join(s.id for s in thread.states if s.id in reachable)
            warnings.append(
                f"{path}.transitions: state {state.id!r} ({where}) cannot be reached from the initial state "
                f"{initial!r}: no transition leads to it, directly or through other states, so the thread can "
                f"never enter it; add {state.id!r} to the transitions of a state the thread can reach ({known}), "
                "or remove the state"
            )
            continue
        if state.id != initial and not state.cues and state.id != threat_target:
            warnings.append(_no_cues(story, where, thread_id, state))
        if _no_way_out(thread, state) and state.level < top:
            stuck = state.kind is not StateKind.ACT or (state.level > initial_level and state.id in before_top)
            if stuck:
                targets = ", ".join(f'"{t}"' for t in top_ids)
                warnings.append(
                    f"{path}.transitions: state {state.id!r} ({state.kind.value}, level {state.level}) has no way "
                    f"out: no transition leaves it, so a thread that reaches it can never move again, not even to "
                    f"{_names(top_ids)} (level {top}); add an entry for it listing the states it may move to, "
                    f"e.g. {state.id} = [{targets}]"
                )
        one_word = [(i, cue) for i, cue in enumerate(state.cues) if len(cue.split()) == 1]
        if one_word and state.level == top and state.id != initial:
            listed = [f"{cue!r} (cues[{i}])" for i, cue in one_word]
            named = ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0]
            objects = state.objects or thread.objects
            example = f"{one_word[0][1]} {objects[0]}" if objects else f"{one_word[0][1]} <what it is done to>"
            warnings.append(
                f"{where}.cues: {named} {'is' if len(listed) == 1 else 'are'} one word on {state.id!r}, the "
                f"thread's top-level state (level {top}): one word matches too much for the most critical move; "
                f"write a phrase with its object instead, e.g. {example!r}, and try it with monitor explain"
            )
    return warnings


def _no_cues(story: StoryConfig, where: str, thread_id: str, state: StateConfig) -> str:
    message = (
        f"{where}.cues: state {state.id!r} ({state.kind.value}, level {state.level}) has no cues, so nothing can "
        "move the thread there; give it phrases that report it (e.g. the act in the active voice with its object)"
    )
    ref = f"{thread_id}.{state.id}"
    deadlines = [f"deadlines[{i}]" for i, d in enumerate(story.deadlines) if ref in d.resolved_by]
    if deadlines:
        message += f"; {' and '.join(deadlines)} resolved_by name {ref!r}, which can therefore never happen"
    return message


def _reachable(thread: ThreadConfig, start: str, stop: set[str] | None = None) -> set[str]:
    """States a chain of transitions reaches from ``start`` (itself included); ``stop`` states are not left."""
    seen = {start}
    queue = deque([start])
    while queue:
        state_id = queue.popleft()
        if stop and state_id in stop:
            continue
        for target in thread.transitions.get(state_id, ()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _no_way_out(thread: ThreadConfig, state: StateConfig) -> bool:
    """No transition leaves the state (a transition to itself is no way out)."""
    return all(target == state.id for target in thread.transitions.get(state.id, ()))


def _threat_target(thread: ThreadConfig) -> str | None:
    """The state hedged cues of higher states move the thread to: its first threat state, if a higher one has cues.

    (The story reducer reads "threatens to invoke" against an act state's cue "invoke" as a move to this state.)
    """
    threat = next((s for s in thread.states if s.kind is StateKind.THREAT), None)
    if threat is None or not any(s.cues for s in thread.states if s.level > threat.level):
        return None
    return threat.id


def _names(ids: list[str]) -> str:
    return " or ".join(repr(i) for i in ids)
