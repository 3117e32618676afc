"""Same-development grouping across outlets: title normalisation, syndication keys, rewrite similarity, and the
pool of untracked news clustered into events. Pure.

- :func:`syndication_key`: a title with its outlet suffix (" - Reuters", " | The Verge") removed, folded and
  stripped of punctuation. Two items with the same key are copies of one story.
- :func:`similarity`: rapidfuzz token-sort ratio of two normalised titles in [0, 1]; used to join rewrites,
  always gated by the caller (same thread and state, or same novel words).
- :class:`Cluster`: one event of untracked news. Items join a cluster when they share new words with it
  (words the story has not used yet, see :class:`Vocabulary`) or their titles are similar, and in either case
  the event's headline words are shared both ways (see :func:`best_cluster`). The pool is kept to a recent
  window and looked up through an inverted index, so the cost per item does not grow with history.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz

from monitor.config.schema import StoryConfig
from monitor.story.relevance import fold

_SUFFIX = re.compile(r"\s+[-|\u2013\u2014]\s+[^-|\u2013\u2014]{1,60}$")
_NON_WORD = re.compile(r"[^\w\s]+")
_WORD = re.compile(r"[a-z][a-z0-9']+")
STOPWORDS = frozenset(
    """a about above after again against all also amid an and any are as at back be been before being but by
    can could did do does down during each for from further had has have he her here his how i if in into is it
    its just like may me might more most new no nor not now of off on once only or other our out over own says
    said same say she should so some such than that the their them then there these they this those through to
    too under until up us very was we were what when where which while who whom why will with would you your
    week weeks day days today tuesday wednesday thursday friday saturday monday sunday report reports reported
    news live update updates latest official officials source sources year years amid what's""".split()  # noqa: SIM905
)


def strip_outlet_suffix(title: str) -> str:
    """'Pentagon designates Anthropic - Reuters' -> 'Pentagon designates Anthropic' (suffix of at most 6 words)."""
    hit = _SUFFIX.search(title)
    if hit and len(hit.group(0).split()) <= 7 and hit.start() > 0:
        return title[: hit.start()]
    return title


def syndication_key(title: str) -> str:
    """Normalised title: outlet suffix removed, folded, punctuation dropped, spaces collapsed."""
    return " ".join(_NON_WORD.sub(" ", fold(strip_outlet_suffix(title))).split())


def similarity(a: str, b: str) -> float:
    """How alike two normalised titles are, 0..1 (rapidfuzz token_sort_ratio: word order does not matter)."""
    return fuzz.token_sort_ratio(a, b) / 100.0


def stem(word: str) -> str:
    """A crude, consistent stem: sues/sued/suing -> su, lawsuits -> lawsuit, filed/files -> fil."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) >= 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) >= 4 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    return word[:-1] if len(word) > 2 and word.endswith("e") else word


@lru_cache(maxsize=8192)
def content_words(text: str) -> tuple[tuple[str, str], ...]:
    """``(stem, surface)`` of each content word of ``text`` in order, stopwords and numbers left out.

    Memoised: a poll reads the same titles again (a cluster's syndication keys, a development's titles, its
    sources'), and the answer depends on the text alone."""
    words = []
    for raw in _WORD.findall(fold(text)):
        surface = raw.removesuffix("'s").strip("'")
        if len(surface) > 2 and surface not in STOPWORDS:
            words.append((stem(surface), surface))
    return tuple(words)


@dataclass
class Vocabulary:
    """How many story items used each stem, plus the stems the config already knows. Bounded in size."""

    counts: dict[str, int] = field(default_factory=dict)
    cap: int = 20000

    def add(self, stems: Iterable[str]) -> None:
        for s in set(stems):
            self.counts[s] = self.counts.get(s, 0) + 1
        if len(self.counts) > self.cap:
            # forget the rarest half deterministically: rare words are the ones that can become news again
            ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            self.counts = dict(ranked[: self.cap // 2])


@dataclass
class Cluster:
    """One event of untracked news within the cluster window.

    Times are POSIX seconds (floats) rather than datetimes: the pool is the bulk of the stored state and is
    serialised after every poll, so its JSON is kept cheap.
    """

    id: str
    title: str  # normalised title of the first item, for fuzzy matching
    first_ts: float
    last_ts: float
    stems: dict[str, int] = field(default_factory=dict)  # new-word stem -> number of members that used it
    surfaces: dict[str, str] = field(default_factory=dict)  # stem -> first surface form seen
    # [outlet_key, published POSIX seconds, source kind, feed document]; states stored before documents were
    # recorded have three fields, and each such member counts as a document of its own
    members: list[list[Any]] = field(default_factory=list)
    syndication: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)  # Source JSON, capped
    development: str | None = None
    _heads: frozenset[str] | None = field(default=None, init=False, compare=False, repr=False)  # derived cache

    @property
    def heads(self) -> frozenset[str]:
        """The cluster's new words that its headlines use: what the event itself is about.

        Derived from the stored normalised titles and stems (never stored), so a state loaded from JSON
        clusters exactly as the one that was saved.
        """
        if self._heads is None:
            self._heads = frozenset(s for key in self.syndication for s, _ in content_words(key) if s in self.stems)
        return self._heads

    def add(self, words: list[tuple[str, str]], outlet_key: str, published: datetime, kind: str, key: str,
            document: str = "") -> None:
        for s, surface in words:
            self.surfaces.setdefault(s, surface)
        for s in {s for s, _ in words}:
            self.stems[s] = self.stems.get(s, 0) + 1
        ts = published.timestamp()
        self.members.append([outlet_key, ts, kind, document])
        if key not in self.syndication:
            self.syndication.append(key)
        self.last_ts = max(self.last_ts, ts)
        self._heads = None

    def independent_within(self, window_end: datetime, window: timedelta) -> int:
        """Independent reports among members published in ``[window_end - window, window_end]``: distinct
        outlets, but no more than the distinct feed documents they came from (outlets claimed inside one
        document count once, see ``Item.document``)."""
        end = window_end.timestamp()
        start = end - window.total_seconds()
        inside = [(i, m) for i, m in enumerate(self.members) if start <= m[1] <= end]
        outlets = {m[0] for _, m in inside}
        documents = {m[3] if len(m) > 3 and m[3] else f"#{i}" for i, m in inside}
        return min(len(outlets), len(documents))

    def documents(self) -> list[str]:
        """The feed documents of the members, first seen first."""
        return list(dict.fromkeys(m[3] for m in self.members if len(m) > 3 and m[3]))

    def has_primary(self) -> bool:
        return any(m[2] == "primary" for m in self.members)

    def label(self, novel: set[str], words: int) -> list[str]:
        """The most used stems of the cluster that are new to the story, as surface words (ties: first seen)."""
        order = {s: i for i, s in enumerate(self.surfaces)}
        ranked = sorted((s for s in self.stems if s in novel), key=lambda s: (-self.stems[s], order[s]))
        return [self.surfaces[s] for s in ranked[:words]]

    def copy(self) -> Cluster:
        return Cluster(
            self.id,
            self.title,
            self.first_ts,
            self.last_ts,
            dict(self.stems),
            dict(self.surfaces),
            [list(m) for m in self.members],
            list(self.syndication),
            [dict(s) for s in self.sources],
            self.development,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "stems": self.stems,
            "surfaces": self.surfaces,
            "members": self.members,
            "syndication": self.syndication,
            "sources": self.sources,
            "development": self.development,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cluster:
        return cls(**data).copy()


class ClusterIndex:
    """Inverted index stem -> cluster ids over the pool; derived data, rebuilt from the clusters when loaded."""

    def __init__(self, clusters: Iterable[Cluster] = ()) -> None:
        self._by_stem: dict[str, set[str]] = {}
        self._by_key: dict[str, str] = {}
        for cluster in clusters:
            self.add(cluster, cluster.stems, cluster.syndication)

    def add(self, cluster: Cluster, stems: Iterable[str], keys: Iterable[str]) -> None:
        for s in stems:
            self._by_stem.setdefault(s, set()).add(cluster.id)
        for k in keys:
            self._by_key.setdefault(k, cluster.id)

    def remove(self, cluster: Cluster) -> None:
        for s in cluster.stems:
            ids = self._by_stem.get(s)
            if ids is not None:
                ids.discard(cluster.id)
                if not ids:
                    del self._by_stem[s]
        for k in cluster.syndication:
            if self._by_key.get(k) == cluster.id:
                del self._by_key[k]

    def copy(self) -> ClusterIndex:
        """An independent copy (the sets are copied, not shared)."""
        twin = ClusterIndex()
        twin._by_stem = {stem: set(ids) for stem, ids in self._by_stem.items()}
        twin._by_key = dict(self._by_key)
        return twin

    def by_key(self, key: str) -> str | None:
        return self._by_key.get(key)

    def candidates(self, stems: Iterable[str]) -> dict[str, int]:
        """Cluster id -> how many of ``stems`` it shares."""
        shared: dict[str, int] = {}
        for s in set(stems):
            for cid in self._by_stem.get(s, ()):
                shared[cid] = shared.get(cid, 0) + 1
        return shared


def best_cluster(
    clusters: dict[str, Cluster],
    index: ClusterIndex,
    key: str,
    title: str,
    novel: set[str],
    threshold: float,
) -> str | None:
    """The cluster an item belongs to: same syndication key, else most shared new words (>= 2, or 1 with a
    similar title), ties to the most recent cluster; None for a new event.

    Shared words must include the event's own: with two or more, one must be a word of the item's headline
    (else the overlap is background, such as two items whose summaries both talk of "customers"); with one and
    a similar title, that word must be in the item's headline and in the cluster's. A title similarity made of
    words the story always uses ("Northwind Freight ... terminal data") says nothing about the event.
    """
    same = index.by_key(key)
    if same is not None and same in clusters:
        return same
    heads = {s for s, _ in content_words(title) if s in novel}
    best: tuple[int, float, str] | None = None
    for cid in index.candidates(novel):
        cluster = clusters.get(cid)
        if cluster is None:
            continue  # the index may be shared with a newer state: trust only the cluster itself
        shared = sum(1 for s in novel if s in cluster.stems)
        if shared < 2 and similarity(title, cluster.title) < threshold:
            continue
        if not any(s in cluster.stems for s in heads):
            continue  # the item's headline says nothing of this event: background overlap
        if shared < 2 and not any(s in cluster.heads for s in heads):
            continue  # one shared word, in a summary: the similar title is only the story's own words
        rank = (shared, cluster.last_ts, cid)
        if best is None or rank > best:
            best = rank
    return best[2] if best else None


def config_words(story: StoryConfig) -> frozenset[str]:
    """Stems of every word the story's config uses: these are never 'new to the story'."""
    texts: list[str] = [story.title, *(t for group in story.relevance.require for t in group)]
    for tid, thread in story.threads.items():
        texts += [tid, thread.title, *thread.objects, *thread.mentions]
        for state in thread.states:
            texts += [state.id, state.title, *state.cues]
    texts += [d.title for d in story.deadlines]
    return frozenset(s for text in texts for s, _ in content_words(text))
