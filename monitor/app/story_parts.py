"""A story state as stored parts, so that saving it costs what changed, not what it holds. Pure.

A story runs for months and its state grows to a megabyte (the pool's clusters, the recent developments, the
recently seen links). Written whole after every poll, it made each new item cost more on day 200 than on day 1.
Stored in parts, a save writes only the parts an advance changed:

- ``core``: threads, vocabulary and counters (small, written every time);
- ``dev:<key>``: one recent development (``DevRecord``);
- ``cluster:<id>``: one cluster of the pool;
- ``seen:<n>``: one of ``SEEN_BUCKETS`` buckets of the recently seen links, by a stable hash of the key.

What changed is found by identity: the reducer copies a record before changing it (copy on write, see
``StoryState.own_development``), so a record the new state shares with the saved one is unchanged. ``assemble``
puts the parts back together in the shape of ``StoryState.to_json`` (marked ``version`` 2), so loading is
``StoryState.from_json(whole_state(raw))`` whatever the storage. The store keeps core and parts as opaque JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zlib import crc32

from monitor.config.schema import StoryConfig
from monitor.store.story import STORY_PARTS_VERSION as PARTS_VERSION
from monitor.story.state import StoryState, initial_state

if TYPE_CHECKING:
    from monitor.store.db import Tx

SEEN_BUCKETS = 256  # a poll of 25 new links rewrites about 25 small buckets, not the whole list


def core_json(state: StoryState) -> dict[str, Any]:
    """The part written on every save: everything but developments, clusters and the seen links."""
    whole = {"version": PARTS_VERSION, "story_id": state.story_id}
    whole["threads"] = {k: v.to_json() for k, v in state.threads.items()}
    whole["vocabulary"] = dict(state.vocabulary.counts)
    whole["counters"] = dict(state.counters)
    # the reducer meets developments and clusters in insertion order (ties between candidates go to the first):
    # kept, so a state loaded from parts decides exactly as the one in memory did
    whole["order"] = {"developments": list(state.developments), "clusters": list(state.clusters)}
    return whole


def seen_bucket(key: str) -> str:
    """The part name of the bucket holding the seen link ``key`` (stable across processes)."""
    return f"seen:{crc32(key.encode('utf-8')) % SEEN_BUCKETS}"


def changed_parts(new: StoryState, saved: StoryState | None) -> dict[str, Any | None]:
    """The parts of ``new`` that differ from ``saved`` (the state as last stored), as JSON; None for a part to
    delete. With no ``saved`` state, every part of ``new`` (the caller replaces whatever was stored)."""
    parts: dict[str, Any | None] = {}
    old_devs = saved.developments if saved is not None else {}
    for key, record in new.developments.items():
        if old_devs.get(key) is not record:
            parts[f"dev:{key}"] = record.to_json()
    parts.update({f"dev:{key}": None for key in old_devs if key not in new.developments})
    old_clusters = saved.clusters if saved is not None else {}
    for cid, cluster in new.clusters.items():
        if old_clusters.get(cid) is not cluster:
            parts[f"cluster:{cid}"] = cluster.to_json()
    parts.update({f"cluster:{cid}": None for cid in old_clusters if cid not in new.clusters})
    old_seen = saved.seen if saved is not None else {}
    touched = {seen_bucket(k) for k, v in new.seen.items() if old_seen.get(k) != v}
    touched |= {seen_bucket(k) for k in old_seen if k not in new.seen}
    if touched:
        buckets: dict[str, dict[str, str]] = {name: {} for name in touched}
        for key, value in new.seen.items():
            bucket = buckets.get(seen_bucket(key))
            if bucket is not None:
                bucket[key] = value
        parts.update({name: (bucket or None) for name, bucket in buckets.items()})
    return parts


def assemble(core: Mapping[str, Any], parts: Mapping[str, Any]) -> dict[str, Any]:
    """The whole state (``StoryState.to_json``'s shape, ``version`` 2) from its core and stored parts."""
    whole = {k: v for k, v in core.items() if k != "order"}
    order = core.get("order") or {}
    whole["developments"] = _in_order(order.get("developments", []), "dev:", parts)
    whole["clusters"] = _in_order(order.get("clusters", []), "cluster:", parts)
    seen: dict[str, str] = {}
    for name, value in parts.items():
        if name.startswith("seen:"):
            seen.update(value)
    whole["seen"] = seen
    return whole


def _in_order(keys: list[str], prefix: str, parts: Mapping[str, Any]) -> dict[str, Any]:
    """The parts named ``prefix + key``, in the order of ``keys`` (any others after them, by name)."""
    found = {name[len(prefix):]: value for name, value in sorted(parts.items()) if name.startswith(prefix)}
    ordered = {key: found.pop(key) for key in keys if key in found}
    ordered.update(found)
    return ordered


def whole_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored state (``Tx.load_story_state``) in ``StoryState.to_json``'s shape, stored whole or in parts."""
    if "parts" not in raw:
        return dict(raw)
    return assemble({k: v for k, v in raw.items() if k != "parts"}, raw["parts"])


class StoryStates:
    """Each story's state as last committed, kept in memory between polls and stored in parts.

    ``load`` gives the committed state from memory while the stored revision has not moved (one small query),
    else from the store; ``save`` writes the parts an advance changed (compare-and-set on the revision read, so a
    save from a stale read raises ``StaleStoryState``); ``settle`` makes the saved states the cached ones once
    their transaction committed, or drops them (and what was cached for those stories) when it rolled back.
    """

    def __init__(self) -> None:
        self._committed: dict[str, tuple[int, StoryState]] = {}
        self._pending: dict[str, tuple[int, StoryState]] = {}
        self._read: dict[str, tuple[int | None, StoryState | None]] = {}  # what load saw, for save

    def clear(self) -> None:
        self._committed.clear()

    def load(self, tx: Tx, story: StoryConfig) -> StoryState:
        revision = tx.story_revision(story.id)
        cached = self._committed.get(story.id)
        if cached is not None and revision == cached[0]:
            self._read[story.id] = (revision, cached[1])
            return cached[1]
        raw = tx.load_story_state(story.id)
        state = StoryState.from_json(whole_state(raw)) if raw is not None else initial_state(story)
        # a state stored whole (before migration 0004) has no parts yet: its first save writes them all
        self._read[story.id] = (revision, state if raw is not None and "parts" in raw else None)
        return state

    def save(self, tx: Tx, story_id: str, state: StoryState,
             threads: Mapping[str, tuple[str, datetime | None, str | None]], now: datetime) -> None:
        revision, saved = self._read.pop(story_id)
        new_revision = tx.save_story_parts(story_id, core_json(state), changed_parts(state, saved), threads, now,
                                           replace=saved is None, expected=revision)
        self._pending[story_id] = (new_revision, state)

    def settle(self, committed: bool) -> None:
        for story_id, entry in self._pending.items():
            if committed:
                self._committed[story_id] = entry
            else:
                self._committed.pop(story_id, None)
        self._pending.clear()
        self._read.clear()
