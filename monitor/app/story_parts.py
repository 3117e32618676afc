"""A story state as stored parts, so that saving it costs what changed, not what it holds.

A story runs for months and its state grows to a megabyte (the pool's clusters, the recent developments, the
recently seen links, the vocabulary). Written whole after every poll, it made each new item cost more on day 200
than on day 1. Stored in parts, a save writes only the parts an advance changed:

- ``core``: threads, counters and the order of developments and clusters (small, written every time);
- ``dev:<key>``: one recent development (``DevRecord``);
- ``cluster:<id>``: one cluster of the pool;
- ``seen:<n>``: one of ``SEEN_BUCKETS`` buckets of the recently seen links, by a stable hash of the key;
- ``words:<n>``: one of ``WORD_BUCKETS`` buckets of the vocabulary (stem -> items that used it), likewise;
- ``words-recent``: the vocabulary's latest counts, read over the buckets' (up to ``RECENT_WORDS_MAX`` stems). An
  item's dozen words would otherwise rewrite a dozen buckets, each on a page of its own; rewriting this one part,
  and folding its stems into their buckets every few dozen items, writes about half as many pages.

What changed is what the state noted in its ``changes`` (``monitor.story.changes``) since it was stored; which
keys each bucket holds is kept beside the state (``PartIndex``), so a touched bucket is rewritten without reading
every key. ``assemble`` puts the parts back together in the shape of ``StoryState.to_json`` (``version`` 2), so
loading is ``StoryState.from_json(whole_state(raw))`` whatever the storage. The store keeps core and parts as
opaque JSON. A core stored before the vocabulary had parts of its own holds it itself; it loads as before, and
its next save writes every part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zlib import crc32

from monitor.config.schema import StoryConfig
from monitor.store.story import STORY_PARTS_VERSION as PARTS_VERSION
from monitor.story.state import StoryState, initial_state

if TYPE_CHECKING:
    from monitor.store.db import Tx

SEEN_BUCKETS = 256  # a poll of 25 new links rewrites about 25 small buckets, not the whole list
WORD_BUCKETS = 256  # a fold of the recent words rewrites the buckets of some 250 stems
BUCKETED = ("seen:", "words:")
RECENT_WORDS = "words-recent"  # not under "words:": no bucket
RECENT_WORDS_MAX = 256  # stems the recent part holds before they are folded into their buckets


def core_json(state: StoryState) -> dict[str, Any]:
    """The part written on every save: everything but developments, clusters, seen links and vocabulary."""
    whole: dict[str, Any] = {"version": PARTS_VERSION, "story_id": state.story_id}
    whole["threads"] = {k: v.to_json() for k, v in state.threads.items()}
    whole["counters"] = dict(state.counters)
    # the reducer meets developments and clusters in insertion order (ties between candidates go to the first):
    # kept, so a state loaded from parts decides exactly as the one in memory did
    whole["order"] = {"developments": list(state.developments), "clusters": list(state.clusters)}
    return whole


def seen_bucket(key: str) -> str:
    """The part name of the bucket holding the seen link ``key`` (stable across processes)."""
    return f"seen:{crc32(key.encode('utf-8')) % SEEN_BUCKETS}"


def word_bucket(stem: str) -> str:
    """The part name of the bucket holding the vocabulary count of ``stem`` (stable across processes)."""
    return f"words:{crc32(stem.encode('utf-8')) % WORD_BUCKETS}"


class PartIndex:
    """Which keys each stored bucket part (``seen:<n>``, ``words:<n>``) holds, for one state as last stored.

    Kept in step with the state by ``changed_parts``, so a save rebuilds only the buckets its changes touch.
    """

    def __init__(self, buckets: dict[str, set[str]] | None = None, recent: dict[str, int] | None = None) -> None:
        self.buckets: dict[str, set[str]] = buckets or {}
        self.recent: dict[str, int] = recent or {}  # the stored recent words part

    @classmethod
    def of_parts(cls, parts: Mapping[str, Any]) -> PartIndex:
        """The buckets as stored (each key sits in the part its hash names: the parts were written by this
        module), and the recent words."""
        return cls({name: set(value) for name, value in parts.items() if name.startswith(BUCKETED)},
                   dict(parts.get(RECENT_WORDS) or {}))

    def rebuild(self, keys: Iterable[str], present: Mapping[str, Any], bucket_of: Any) -> dict[str, Any | None]:
        """The bucket parts holding ``keys`` (each added to or removed from ``present``), rebuilt from ``present``
        (None: a bucket left empty, to delete); the index follows."""
        touched: set[str] = set()
        for key in keys:
            name = bucket_of(key)
            members = self.buckets.setdefault(name, set())
            if key in present:
                members.add(key)
            else:
                members.discard(key)
            touched.add(name)
        parts: dict[str, Any | None] = {}
        for name in touched:
            members = self.buckets[name]
            parts[name] = {key: present[key] for key in sorted(members)} or None
            if not members:
                del self.buckets[name]
        return parts

    def words_afresh(self, counts: Mapping[str, int]) -> dict[str, Any | None]:
        """Every word bucket rebuilt (the vocabulary was trimmed), with the buckets left empty deleted, and no
        recent words."""
        old = [name for name in self.buckets if name.startswith("words:")]
        for name in old:
            del self.buckets[name]
        for stem in counts:
            self.buckets.setdefault(word_bucket(stem), set()).add(stem)
        parts: dict[str, Any | None] = dict.fromkeys(old)
        parts.update({name: {stem: counts[stem] for stem in sorted(members)}
                      for name, members in self.buckets.items() if name.startswith("words:")})
        if self.recent:
            self.recent = {}
            parts[RECENT_WORDS] = None
        return parts

    def words(self, stems: Iterable[str], counts: Mapping[str, int]) -> dict[str, Any | None]:
        """The parts to write for the words ``stems`` whose counts changed: the recent part with them, or, once it
        holds more than ``RECENT_WORDS_MAX`` stems, its stems folded into their buckets and the part deleted."""
        gone = [stem for stem in stems if stem not in counts]  # only a trim removes words, and it rewrites all
        self.recent.update((stem, counts[stem]) for stem in stems if stem in counts)
        for stem in gone:
            self.recent.pop(stem, None)
        if len(self.recent) <= RECENT_WORDS_MAX and not gone:
            return {RECENT_WORDS: dict(self.recent)} if self.recent else {}  # stored with sorted keys (dumps)
        folded = [*self.recent, *gone]
        self.recent = {}
        return {**self.rebuild(folded, counts, word_bucket), RECENT_WORDS: None}


def changed_parts(state: StoryState, index: PartIndex | None) -> dict[str, Any | None]:
    """The parts to write for ``state``, as JSON (None: a part to delete).

    With ``index`` (the buckets of the state as last stored; updated here), only the parts ``state.changes``
    names; without, every part of ``state`` (the caller replaces whatever was stored)."""
    if index is None:
        return all_parts(state, PartIndex())
    changes = state.changes
    return _parts(state, index, changes.developments, changes.clusters, changes.seen, changes.words)


def all_parts(state: StoryState, index: PartIndex) -> dict[str, Any | None]:
    """Every part of ``state``; ``index`` (empty) is filled with its buckets."""
    return _parts(state, index, state.developments, state.clusters, state.seen, state.vocabulary.counts)


def _parts(state: StoryState, index: PartIndex, developments: Iterable[str], clusters: Iterable[str],
           seen: Iterable[str], words: Iterable[str] | None) -> dict[str, Any | None]:
    """The parts holding the named developments, clusters, seen links and words (None: every word)."""
    parts: dict[str, Any | None] = {}
    for key in developments:
        record = state.developments.get(key)
        parts[f"dev:{key}"] = None if record is None else record.to_json()
    for cid in clusters:
        cluster = state.clusters.get(cid)
        parts[f"cluster:{cid}"] = None if cluster is None else cluster.to_json()
    parts.update(index.rebuild(seen, state.seen, seen_bucket))
    counts = state.vocabulary.counts
    parts.update(index.words_afresh(counts) if words is None else index.words(words, counts))
    return parts


def assemble(core: Mapping[str, Any], parts: Mapping[str, Any]) -> dict[str, Any]:
    """The whole state (``StoryState.to_json``'s shape, ``version`` 2) from its core and stored parts."""
    whole = {k: v for k, v in core.items() if k != "order"}
    order = core.get("order") or {}
    whole["developments"] = _in_order(order.get("developments", []), "dev:", parts)
    whole["clusters"] = _in_order(order.get("clusters", []), "cluster:", parts)
    seen: dict[str, str] = {}
    words: dict[str, int] = {}
    for name, value in parts.items():
        if name.startswith("seen:"):
            seen.update(value)
        elif name.startswith("words:"):
            words.update(value)
    words.update(parts.get(RECENT_WORDS) or {})  # newer than the buckets' counts
    whole["seen"] = seen
    if "vocabulary" not in core:  # else a core stored before the vocabulary had parts: it holds it itself
        whole["vocabulary"] = words
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


@dataclass
class _Held:
    """A story's state as of a stored revision, and the buckets of its stored parts (None: write them all)."""

    revision: int | None
    state: StoryState
    index: PartIndex | None


class StoryStates:
    """Each story's state as last committed, kept in memory between polls and stored in parts.

    ``load`` gives the committed state from memory while the stored revision has not moved (one small query),
    else from the store; the caller advances it in place, so ``load`` hands it over: it is not cached again until
    its save commits. ``save`` writes the parts the advance changed (compare-and-set on the revision read, so a
    save from a stale read raises ``StaleStoryState``); ``settle`` makes the saved states the cached ones once
    their transaction committed, or drops them when it rolled back (a state loaded and never saved, because the
    transaction failed first, is dropped too: the next load reads the store).
    """

    def __init__(self) -> None:
        self._committed: dict[str, _Held] = {}
        self._pending: dict[str, _Held] = {}
        self._read: dict[str, _Held] = {}  # what load gave out, for save

    def clear(self) -> None:
        self._committed.clear()

    def load(self, tx: Tx, story: StoryConfig) -> StoryState:
        revision = tx.story_revision(story.id)
        self._pending.pop(story.id, None)  # a save never settled (its caller did not say): not to be trusted
        cached = self._committed.pop(story.id, None)
        if cached is not None and revision == cached.revision:
            self._read[story.id] = cached
            return cached.state
        raw = tx.load_story_state(story.id)
        if raw is None:
            self._read[story.id] = _Held(revision, initial_state(story), None)
        else:
            state = StoryState.from_json(whole_state(raw))
            # stored whole (before migration 0004), or with the vocabulary in its core: the next save writes all
            in_parts = "parts" in raw and "vocabulary" not in raw
            self._read[story.id] = _Held(revision, state, PartIndex.of_parts(raw["parts"]) if in_parts else None)
        return self._read[story.id].state

    def save(self, tx: Tx, story_id: str, state: StoryState,
             threads: Mapping[str, tuple[str, datetime | None, str | None]], now: datetime) -> None:
        """Store ``state`` (the loaded one, advanced) and the rows of its threads that moved (all of them when
        every part is written)."""
        read = self._read.pop(story_id)
        if read.index is None:  # every part, replacing whatever was stored
            index = PartIndex()
            parts = all_parts(state, index)
        else:
            index = read.index
            parts = changed_parts(state, index)
            threads = {tid: row for tid, row in threads.items() if tid in state.changes.threads}
        new_revision = tx.save_story_parts(story_id, core_json(state), parts, threads, now,
                                           replace=read.index is None, expected=read.revision)
        state.saved()
        self._pending[story_id] = _Held(new_revision, state, index)

    def settle(self, committed: bool) -> None:
        if committed:
            self._committed.update(self._pending)
        self._pending.clear()
        self._read.clear()
