"""What the story reducer remembers between polls, and its JSON form. Pure: no clock, no I/O.

- :class:`ThreadStatus`: where one thread stands (state, since when, which development put it there).
- :class:`DevRecord`: a recent development being grouped (identity, confidence, outlets, copies, sources); it
  renders to the public :class:`~monitor.domain.Development`.
- :class:`StoryState`: threads, recent developments, the pool of untracked news (``cluster.Cluster``), the
  story's vocabulary, recently seen items and key counters. The service stores ``to_json()`` after every poll
  and loads it with ``from_json``; the round trip is exact (``from_json(to_json(s)) == s``).

Records are copied on write: ``StoryState.copy`` shares them and ``own_development`` / ``own_cluster`` copy
one before it is changed, so ``story.advance`` never changes the state it was given and a poll costs what it
touches, not what is stored. ``prune`` keeps only the recent windows, so the state does not grow with history.
Every change goes through a method of the state, which notes it in ``StoryState.changes`` (``story.changes``):
what a save must write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.config.schema import StoryConfig
from monitor.domain import Confidence, Development, DevelopmentKind, Severity, Source, SourceKind
from monitor.story.changes import Changes
from monitor.story.cluster import Cluster, ClusterIndex, Vocabulary
from monitor.story.expiry import Expiry


@dataclass
class ThreadStatus:
    """Where one thread stands: its state, since when, and the development that put it there."""

    state: str
    since: datetime | None = None
    development: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "since": self.since.isoformat() if self.since else None,
            "development": self.development,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThreadStatus:
        since = data.get("since")
        return cls(data["state"], datetime.fromisoformat(since) if since else None, data.get("development"))


@dataclass
class DevRecord:
    """A development being grouped: its identity, confidence and the items (outlets, copies, titles) in it."""

    key: str
    kind: str
    thread: str | None
    from_state: str | None
    to_state: str | None
    at: datetime
    last_at: datetime
    confidence: str
    severity: int
    title: str
    label: str = ""
    cues: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)  # outlet keys (domains)
    documents: list[str] = field(default_factory=list)  # feed documents its items came from (Item.document)
    syndication: list[str] = field(default_factory=list)  # normalised titles seen (copies collapse on these)
    titles: list[str] = field(default_factory=list)  # up to 10 normalised titles for rewrite similarity
    sources: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)  # how each item's signal decided (explain)
    held_severity: int | None = None  # the severity it gets once confirmed (held at warning until then)
    raised: bool = False  # its severity was raised when a second source confirmed it

    def copy(self) -> DevRecord:
        return DevRecord.from_json(self.to_json())

    def development(self, story_id: str) -> Development:
        sources = tuple(source_from_json(s) for s in self.sources)
        outlets = ", ".join(dict.fromkeys(s.outlet for s in sources))
        return Development(
            key=self.key,
            kind=DevelopmentKind(self.kind),
            story_id=story_id,
            at=self.at,
            title=self.title,
            severity=Severity(self.severity),
            confidence=Confidence(self.confidence),
            thread_id=self.thread,
            from_state=self.from_state,
            to_state=self.to_state,
            summary=f"{len(self.outlets)} outlet(s): {outlets}",
            sources=sources,
            cues=tuple(self.cues),
            details=self._details(),
        )

    def _details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"outlets": len(self.outlets)}
        if self.label:
            details["label"] = self.label
        if self.evidence:
            details["evidence"] = [dict(e) for e in self.evidence]
        if self.held_severity is not None:
            details["unconfirmed"] = "one outlet"
        if self.raised:
            details["raised_on_confirmation"] = True
        return details

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "thread": self.thread,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "at": self.at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "confidence": self.confidence,
            "severity": self.severity,
            "title": self.title,
            "label": self.label,
            "cues": list(self.cues),
            "outlets": list(self.outlets),
            "documents": list(self.documents),
            "syndication": list(self.syndication),
            "titles": list(self.titles),
            "sources": [dict(s) for s in self.sources],
            "evidence": [dict(e) for e in self.evidence],
            "held_severity": self.held_severity,
            "raised": self.raised,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevRecord:
        fields = dict(data)
        fields["at"] = datetime.fromisoformat(data["at"])
        fields["last_at"] = datetime.fromisoformat(data["last_at"])
        for name in ("cues", "outlets", "syndication", "titles"):
            fields[name] = list(data[name])
        fields["sources"] = [dict(s) for s in data["sources"]]
        fields["evidence"] = [dict(e) for e in data.get("evidence") or []]  # absent in states stored before it
        fields["documents"] = list(data.get("documents") or [])  # likewise
        return cls(**fields)


def source_to_json(source: Source) -> dict[str, Any]:
    """Full JSON of a source (the public ``Source.to_json`` plus the fields needed to rebuild it)."""
    return {
        **source.to_json(),
        "published": source.published.isoformat(),
        "feed_id": source.feed_id,
        "item_id": source.item_id,
        "source_kind": source.source_kind.value,
    }


def source_from_json(data: dict[str, Any]) -> Source:
    return Source(
        outlet=data["outlet"],
        title=data["title"],
        link=data["link"],
        published=datetime.fromisoformat(data["published"]),
        feed_id=data.get("feed_id", ""),
        item_id=data.get("item_id", ""),
        source_kind=SourceKind(data.get("source_kind", "ordinary")),
    )


@dataclass
class StoryState:
    """Everything the reducer remembers about one story, stored by the service as JSON (``to_json``)."""

    story_id: str
    threads: dict[str, ThreadStatus]
    developments: dict[str, DevRecord] = field(default_factory=dict)  # recent ones, by key
    clusters: dict[str, Cluster] = field(default_factory=dict)  # the pool of untracked news
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    seen: dict[str, str] = field(default_factory=dict)  # link or feed:item -> published ISO, recent only
    counters: dict[str, int] = field(default_factory=dict)
    _index: ClusterIndex | None = field(default=None, compare=False, repr=False)
    _owned: set[str] = field(default_factory=set, compare=False, repr=False)  # records copied by this state
    # derived, built at the first prune: seen links by published time, pool clusters by last item (see prune)
    _seen_expiry: Expiry[str] | None = field(default=None, compare=False, repr=False)
    _pool_expiry: Expiry[float] | None = field(default=None, compare=False, repr=False)
    # what changed since this state was loaded, copied or saved: filled by the methods below (never by hand)
    changes: Changes = field(default_factory=Changes, compare=False, repr=False)

    def index(self) -> ClusterIndex:
        if self._index is None:
            self._index = ClusterIndex(self.clusters.values())
        return self._index

    def copy(self) -> StoryState:
        """A copy sharing the records, which the reducer copies before changing one (copy on write).

        The original is left as it was; the derived cluster index is copied (not rebuilt), so a chain of polls
        never rebuilds it from the clusters.
        """
        copied = StoryState(
            story_id=self.story_id,
            threads=dict(self.threads),  # ThreadStatus values are replaced, never changed in place
            developments=dict(self.developments),
            clusters=dict(self.clusters),
            vocabulary=Vocabulary(dict(self.vocabulary.counts), self.vocabulary.cap),
            seen=dict(self.seen),
            counters=dict(self.counters),
        )
        if self._index is not None:
            copied._index = self._index.copy()
        if self._seen_expiry is not None:
            copied._seen_expiry = self._seen_expiry.copy()
        if self._pool_expiry is not None:
            copied._pool_expiry = self._pool_expiry.copy()
        return copied

    def own_development(self, key: str) -> DevRecord:
        """The development ``key``, copied first if this state still shares it with the one it was copied from."""
        if key not in self._owned:
            self.developments[key] = self.developments[key].copy()
            self._owned.add(key)
        self.changes.developments.add(key)
        return self.developments[key]

    def own_cluster(self, cid: str) -> Cluster:
        """The pool cluster ``cid``, copied first if still shared (see ``own_development``)."""
        if f"cluster:{cid}" not in self._owned:
            self.clusters[cid] = self.clusters[cid].copy()
            self._owned.add(f"cluster:{cid}")
        self.changes.clusters.add(cid)
        return self.clusters[cid]

    def add_development(self, record: DevRecord) -> None:
        """A development created by this state's owner (so already owned)."""
        self.developments[record.key] = record
        self._owned.add(record.key)
        self.changes.developments.add(record.key)

    def add_cluster(self, cluster: Cluster) -> None:
        """A pool cluster created by this state's owner (so already owned)."""
        self.clusters[cluster.id] = cluster
        self._owned.add(f"cluster:{cluster.id}")
        self.changes.clusters.add(cluster.id)
        if self._pool_expiry is not None:
            self._pool_expiry.push(cluster.last_ts, cluster.id)

    def set_thread(self, tid: str, status: ThreadStatus) -> None:
        """Where thread ``tid`` stands now (a new ``ThreadStatus``: statuses are replaced, never changed)."""
        self.threads[tid] = status
        self.changes.threads.add(tid)

    def see(self, key: str, published: str) -> None:
        """Remember the link (or ``feed:item``) ``key`` as seen, published at ``published`` (ISO)."""
        self.seen[key] = published
        self.changes.seen.add(key)
        if self._seen_expiry is not None:
            self._seen_expiry.push(published, key)

    def use_words(self, stems: Iterable[str]) -> None:
        """Count one more story item using each of ``stems`` (see ``Vocabulary.add``)."""
        stems = set(stems)
        counts = self.vocabulary.counts
        self.vocabulary.add(stems)
        if self.vocabulary.counts is not counts:  # trimmed to its cap: any count may be gone
            self.changes.words = None
        elif self.changes.words is not None:
            self.changes.words |= stems

    def saved(self) -> None:
        """The state was stored as it is: start a new record of changes."""
        self.changes = Changes()

    def next_count(self, counter: str) -> int:
        """Increment and return a key counter (development and cluster keys are numbered per counter)."""
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    def prune(self, story: StoryConfig, now: datetime) -> None:
        """Forget what is older than the recent windows, so state size and per-item cost stay flat.

        Seen links (once there are more than 64) published before ``now - recent_window`` go, and pool clusters
        whose last item is older than ``cluster_window``. Both are found through an ``Expiry`` (built from the
        state at the first prune, then kept in step by ``see`` and ``add_cluster``), so a prune costs what
        expired, not what is kept; what it removes is exactly what a scan of every entry would."""
        horizon = now - story.recent_window
        for key in [k for k, r in self.developments.items() if r.last_at < horizon]:
            del self.developments[key]
            self.changes.developments.add(key)
        if len(self.seen) > 64:
            if self._seen_expiry is None:
                self._seen_expiry = Expiry((published, key) for key, published in self.seen.items())
            for published, key in self._seen_expiry.expired(horizon.isoformat()):
                if self.seen.get(key) == published:  # else gone already, or seen again since
                    del self.seen[key]
                    self.changes.seen.add(key)
        if self._pool_expiry is None:
            self._pool_expiry = Expiry((c.last_ts, cid) for cid, c in self.clusters.items())
        pool_horizon = (now - story.new_developments.cluster_window).timestamp()
        stale: dict[str, Cluster] = {}
        for _, cid in self._pool_expiry.expired(pool_horizon):
            cluster = self.clusters.get(cid)
            if cluster is None:
                continue
            if cluster.last_ts < pool_horizon:
                stale[cid] = cluster
            else:  # it had news since that entry was pushed: due again at its last item
                self._pool_expiry.push(cluster.last_ts, cid)
        if stale:
            index = self.index()
            for cluster in stale.values():
                index.remove(cluster)
                del self.clusters[cluster.id]
                self.changes.clusters.add(cluster.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "story_id": self.story_id,
            "threads": {k: v.to_json() for k, v in self.threads.items()},
            "developments": {k: v.to_json() for k, v in self.developments.items()},
            "clusters": {k: v.to_json() for k, v in self.clusters.items()},
            "vocabulary": dict(self.vocabulary.counts),
            "seen": dict(self.seen),
            "counters": dict(self.counters),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryState:
        return cls(
            story_id=data["story_id"],
            threads={k: ThreadStatus.from_json(v) for k, v in data["threads"].items()},
            developments={k: DevRecord.from_json(v) for k, v in data["developments"].items()},
            clusters={k: Cluster.from_json(v) for k, v in data["clusters"].items()},
            vocabulary=Vocabulary(dict(data["vocabulary"])),
            seen=dict(data["seen"]),
            counters=dict(data["counters"]),
        )


def initial_state(story: StoryConfig) -> StoryState:
    """Every thread at its initial state, nothing remembered."""
    return StoryState(story.id, {tid: ThreadStatus(t.initial_state) for tid, t in story.threads.items()})


def thread_summary(story: StoryConfig, state: StoryState) -> str:
    """One line: ``designation: formally designated a supply chain risk · dpa: DPA threatened · ...``."""
    parts = []
    for tid, thread in story.threads.items():
        status = state.threads.get(tid)
        current = status.state if status else thread.initial_state
        parts.append(f"{tid}: {thread.label_of(current)}")
    return " · ".join(parts)
