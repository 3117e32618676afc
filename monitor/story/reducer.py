"""The story reducer: stored state + new items + ``now`` -> new state + developments. Pure: no clock, no I/O.

Rules (issue 4, DESIGN.md invariant 4):

- A thread moves only along its configured transitions. An act state needs an ACT signal; a THREAT signal
  (hedged, floated, threatened) can only move the thread to its threat-kind state. Negations and mentions
  are evidence, never moves.
- A move reported by one ordinary outlet is REPORTED; a second independent outlet (another ``outlet_key``,
  not a syndicated copy) or one PRIMARY/WIRE source within ``corroboration_window`` makes it CONFIRMED, once.
- Later items about the same development join it (same thread and state; syndicated copies; rewrites by
  rapidfuzz similarity gated by the thread) and produce an updated version under the same ``key`` instead of
  a new alert. Keys are deterministic: ``{story}:{thread}:{state}:{n}`` and ``{story}:new:{n}``.
- Relevant items that move or join no thread are pooled and clustered (``cluster.py``); a cluster that reaches
  ``min_outlets`` distinct outlets within ``outlet_window``, or has a primary source, is a NEW_DEVELOPMENT
  labelled by its words new to the story.
- Only a recent window is kept (developments for ``recent_window``, the pool for ``cluster_window``), so the
  state and the cost per item do not grow with history.

The remembered state (``StoryState``, ``ThreadStatus``, development records, their JSON) lives in
``story_state.py`` and is re-exported here, where callers import it from.

``advance`` does not modify the state it is given; it works on a copy and returns it. With ``in_place=True``
the caller hands the state over instead (the service, which keeps the committed state in memory and drops it if
the transaction fails): it is changed and returned, no copy is made, and its ``changes`` name what the advance
changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.config.schema import StoryConfig, ThreadConfig
from monitor.domain import (
    Confidence,
    Development,
    DevelopmentKind,
    Item,
    Severity,
    SignalMode,
    Source,
    StateKind,
)
from monitor.story.cluster import Cluster, best_cluster, content_words, similarity, syndication_key
from monitor.story.compiled import CompiledStory
from monitor.story.records import (
    MAX_DOCUMENTS,
    MAX_SOURCES,
    UNCONFIRMED,
    add_evidence,
    add_source,
    initial_confidence,
    join,
)
from monitor.story.signals import Signal
from monitor.story.state import (
    DevRecord,
    StoryState,
    ThreadStatus,
    initial_state,
    source_from_json,
    source_to_json,
    thread_summary,
)

__all__ = ["Evidence", "StoryOutcome", "StoryState", "ThreadStatus", "advance", "initial_state", "thread_summary"]

REWRITE_SIMILARITY = 0.8
"""How alike a headline without a state cue must be to a development's headline to join it (same thread)."""



@dataclass(frozen=True, slots=True)
class Evidence:
    """What the reducer did with one item, for logs and ``explain`` output."""

    item_id: str
    action: str  # duplicate | irrelevant | stale | moved | joined | ignored | pooled | corrected
    thread_id: str | None = None
    state_id: str | None = None
    mode: str | None = None
    cue: str | None = None
    development: str | None = None


@dataclass(frozen=True, slots=True)
class StoryOutcome:
    state: StoryState
    developments: tuple[Development, ...]
    evidence: tuple[Evidence, ...] = ()


def advance(engine: CompiledStory, state: StoryState, items: Sequence[Item], now: datetime, *,
            in_place: bool = False) -> StoryOutcome:
    """Apply new items (sorted by published) to the compiled story; see the module docstring for the rules.

    ``in_place``: change ``state`` itself (the caller gives it up) rather than a copy of it, so the cost is what
    the items touch, not what the state holds; the decisions are the same either way."""
    story = engine.story
    new = state if in_place else state.copy()
    for tid, thread in story.threads.items():  # threads added to the config since the state was stored
        if tid not in new.threads:
            new.set_thread(tid, ThreadStatus(thread.initial_state))
    touched: dict[str, None] = {}
    evidence: list[Evidence] = []
    for item in items:
        _process(engine, new, item, now, touched, evidence)
    new.prune(story, now)
    developments = []
    for key in touched:
        record = new.developments.get(key)
        if record is not None:
            developments.append(record.development(story.id))
    return StoryOutcome(new, tuple(developments), tuple(evidence))


def _process(
    engine: CompiledStory, state: StoryState, item: Item, now: datetime, touched: dict[str, None], out: list[Evidence]
) -> None:
    story = engine.story
    seen_key = item.link or f"{item.feed_id}:{item.item_id}"
    if seen_key in state.seen:
        out.append(Evidence(item.item_id, "duplicate"))
        return
    decision = engine.match(item)
    if not decision.relevant:
        out.append(Evidence(item.item_id, "irrelevant"))
        return
    state.see(seen_key, item.published.isoformat())
    if item.published < now - story.recent_window:
        out.append(Evidence(item.item_id, "stale"))  # history: never moves a thread today
        return
    key = syndication_key(item.title)
    words = content_words(f"{item.title}\n{item.summary}")
    by_thread = engine.reader.by_thread(item.title, item.summary)
    claimed = False
    for tid, signals in by_thread.items():
        moving = [s for s in signals if s.mode in (SignalMode.ACT, SignalMode.THREAT)]
        if not moving:
            corrected = _correct(story, state, tid, signals, item, key, touched)
            if corrected is not None:
                out.append(corrected)
                claimed = True
            continue
        result = _apply_thread(story, state, tid, moving, item, key, touched)
        out.append(result)
        claimed = claimed or not _dead_end(result, state.threads[tid].state)
    if not claimed:
        joined = _join_rewrite(engine, state, by_thread, item, key, touched)
        if joined is not None:
            out.append(joined)
        elif any(s.mode is SignalMode.NEGATED for signals in by_thread.values() for s in signals):
            out.append(Evidence(item.item_id, "ignored", mode="negated"))
        elif story.new_developments.enabled:
            out.append(_pool(engine, state, item, key, words, touched))
    state.use_words(s for s, _ in words)


def _dead_end(result: Evidence, current: str) -> bool:
    """An act the thread cannot make from where it stands (not a restatement of the state it is in): the item
    goes to the pool of untracked news rather than being dropped, so "Ministry lifts ban" before any ban can
    still become a new development. Threats and restatements are not news."""
    return result.action == "ignored" and result.mode == SignalMode.ACT.value and result.state_id != current


def _target(thread: ThreadConfig, signal: Signal) -> str | None:
    """The state a signal can move its thread to: acts to their state, threats to the threat-kind state."""
    state = thread.state(signal.state_id)
    if signal.mode is SignalMode.ACT:
        return state.id
    if state.kind is StateKind.THREAT:
        return state.id
    threat = next((s for s in thread.states if s.kind is StateKind.THREAT), None)
    if threat is not None and state.level > threat.level:
        return threat.id
    return None


def _apply_thread(
    story: StoryConfig,
    state: StoryState,
    tid: str,
    signals: list[Signal],
    item: Item,
    key: str,
    touched: dict[str, None],
) -> Evidence:
    thread = story.threads[tid]
    status = state.threads[tid]
    ordered = sorted(signals, key=lambda s: s.mode is not SignalMode.ACT)  # acts first, then threats
    for signal in ordered:
        target = _target(thread, signal)
        if target is None:
            continue
        record = _joinable(state, tid, target, status, key)
        if record is not None and _recurs(story, thread, record, item, key):
            record = None  # a new instance of a recurring act ("a fourth extension"): the thread moves to itself
        if record is not None:
            record = join(story, state, record, item, key, signal.cue)
            touched[record.key] = None
            add_evidence(record, item, "joined", signal)
            return Evidence(item.item_id, "joined", tid, target, signal.mode.value, signal.cue, record.key)
        if thread.allows(status.state, target):
            record = _move(story, state, tid, thread, target, item, key, signal.cue)
            touched[record.key] = None
            add_evidence(record, item, "moved", signal)
            return Evidence(item.item_id, "moved", tid, target, signal.mode.value, signal.cue, record.key)
    first = ordered[0]
    return Evidence(item.item_id, "ignored", tid, first.state_id, first.mode.value, first.cue)


def _joinable(state: StoryState, tid: str, target: str, status: ThreadStatus, key: str) -> DevRecord | None:
    """A recent development of the same thread and state this item belongs to, if any.

    The thread's current development always qualifies; an older one (the thread moved on since) only for a
    syndicated copy or a close rewrite of its headlines, so a real second move is not swallowed.
    """
    current = state.developments.get(status.development or "")
    if current is not None and current.thread == tid and current.to_state == target and status.state == target:
        return current
    for record in reversed(list(state.developments.values())):
        if record.thread != tid or record.to_state != target:
            continue
        if key in record.syndication or any(similarity(key, t) >= REWRITE_SIMILARITY for t in record.titles):
            return record
    return None


def _move(
    story: StoryConfig,
    state: StoryState,
    tid: str,
    thread: ThreadConfig,
    target: str,
    item: Item,
    key: str,
    cue: str,
) -> DevRecord:
    status = state.threads[tid]
    source, dest = thread.state(status.state), thread.state(target)
    if source.id == dest.id:
        severity = Severity.WARNING  # a recurring act: news, not a new rung
    elif dest.level > source.level:
        severity = Severity.CRITICAL if dest.level >= 3 else Severity.WARNING
    else:
        severity = Severity.NOTICE
    confidence = initial_confidence(item)
    held: int | None = None
    title = f"{name_of(tid, thread)}: {dest.label} (was: {source.label})"
    if confidence is Confidence.REPORTED and _needs_confirmation(thread, source.id, dest.id):
        held, severity = int(max(severity, Severity.WARNING)), min(severity, Severity.WARNING)
        title += UNCONFIRMED
    dev_key = f"{story.id}:{tid}:{target}:{state.next_count(f'{tid}:{target}')}"
    return _record_move(state, tid, target, item, key, cue, dev_key, confidence, severity, title, held=held)


def _record_move(
    state: StoryState,
    tid: str,
    target: str,
    item: Item,
    key: str,
    cue: str | None,
    dev_key: str,
    confidence: Confidence,
    severity: Severity,
    title: str,
    *,
    held: int | None = None,
    label: str = "",
) -> DevRecord:
    """Record a thread change decided by ``item`` and move the thread to ``target``: the one place both a move
    and a correction go through."""
    record = DevRecord(
        key=dev_key,
        kind=DevelopmentKind.THREAD_CHANGE.value,
        thread=tid,
        from_state=state.threads[tid].state,
        to_state=target,
        at=item.published,
        last_at=item.published,
        confidence=confidence.value,
        severity=int(severity),
        title=title,
        label=label,
        held_severity=held,
    )
    add_source(record, item, key, cue)
    state.add_development(record)
    state.set_thread(tid, ThreadStatus(target, item.published, dev_key))
    return record


def name_of(tid: str, thread: ThreadConfig) -> str:
    """A thread's name in development titles: its title, else its id in words."""
    return thread.title or tid.replace("_", " ").capitalize()


def _rungs(thread: ThreadConfig) -> list[int]:
    return sorted({s.level for s in thread.states})


def _needs_confirmation(thread: ThreadConfig, source: str, dest: str) -> bool:
    """A move one ordinary outlet may not make loudly on its own: to the thread's top level, more than one rung
    up the ladder at once, or back down from where it stands (blocked -> designated, an act -> reversed)."""
    rungs = _rungs(thread)
    s_level, d_level = thread.state(source).level, thread.state(dest).level
    if d_level == rungs[-1] or d_level < s_level:
        return True
    return rungs.index(d_level) - rungs.index(s_level) > 1


def _recurs(story: StoryConfig, thread: ThreadConfig, record: DevRecord, item: Item, key: str) -> bool:
    """The item is a new instance of a recurring act rather than more news of ``record``: the state may move to
    itself, the item is no copy or close rewrite of the record's headlines, it came after the record's
    corroboration window, and it names a value (a number, a name) none of the record's headlines has."""
    if not thread.allows(record.to_state or "", record.to_state or ""):
        return False
    if key in record.syndication or any(similarity(key, t) >= REWRITE_SIMILARITY for t in record.titles):
        return False
    if item.published - record.at <= story.corroboration_window:
        return False
    seen = " ".join(record.titles)
    return any(value not in seen for value in _values(item.title))


def _values(title: str) -> list[str]:
    """Numbers and capitalised words after the first word of a headline, lower-cased (record titles are)."""
    words = [w.strip(".,;:!?'\"()") for w in title.split()[1:]]
    return [w.lower() for w in words if w and (w[0].isdigit() or w[0].isupper())]


def _correct(
    story: StoryConfig,
    state: StoryState,
    tid: str,
    signals: list[Signal],
    item: Item,
    key: str,
    touched: dict[str, None],
) -> Evidence | None:
    """A denial of the thread's unconfirmed current state, from another outlet within the corroboration window,
    is a correction: the thread goes back to where it was and a development says the report was not confirmed."""
    status = state.threads[tid]
    current = state.developments.get(status.development or "")
    if current is None or current.confidence == Confidence.CONFIRMED.value or current.from_state is None:
        return None
    denial = next((s for s in signals if s.mode is SignalMode.NEGATED and s.state_id == status.state), None)
    if denial is None or item.outlet_key in current.outlets or item.document in current.documents:
        return None
    if abs(item.published - current.at) > story.corroboration_window:
        return None
    thread = story.threads[tid]
    back = current.from_state
    dev_key = f"{story.id}:{tid}:correction:{state.next_count(f'{tid}:correction')}"
    title = (f"{name_of(tid, thread)}: earlier report not confirmed: {thread.label_of(status.state)} "
             f"(back to: {thread.label_of(back)})")
    record = _record_move(state, tid, back, item, key, denial.cue, dev_key, initial_confidence(item),
                          Severity.WARNING, title, label="correction")
    add_evidence(record, item, "corrected", denial)
    touched[dev_key] = None
    return Evidence(item.item_id, "corrected", tid, back, denial.mode.value, denial.cue, dev_key)


def _join_rewrite(
    engine: CompiledStory,
    state: StoryState,
    by_thread: dict[str, list[Signal]],
    item: Item,
    key: str,
    touched: dict[str, None],
) -> Evidence | None:
    """A headline with no state cue joins a recent development when it is a syndicated copy of one, or a close
    rewrite of one in a thread the item mentions that adds no word new to the story ("Anthropic sues Pentagon
    over supply chain risk designation" is close to "Pentagon designates Anthropic a supply chain risk" but
    "sues" is news, so it goes to the pool)."""
    extra: set[str] | None = None
    for record in reversed(list(state.developments.values())):
        copy = key in record.syndication
        rewrite = False
        if not copy and record.thread in by_thread:
            rewrite = any(similarity(key, t) >= REWRITE_SIMILARITY for t in record.titles)
            if rewrite:
                if extra is None:
                    extra = _novel(engine, state, content_words(item.title))
                seen = {s for t in record.titles for s, _ in content_words(t)}
                rewrite = extra <= seen
        if copy or rewrite:
            join(engine.story, state, record, item, key, None)
            touched[record.key] = None
            return Evidence(item.item_id, "joined", record.thread, record.to_state, development=record.key)
    return None


def _novel(engine: CompiledStory, state: StoryState, words: Sequence[tuple[str, str]]) -> set[str]:
    """Stems new to the story: not in its config and used by fewer than ``known_after`` earlier items."""
    known_after = engine.story.new_developments.known_after
    counts = state.vocabulary.counts
    return {s for s, _ in words if s not in engine.known and counts.get(s, 0) < known_after}


def _pool(
    engine: CompiledStory,
    state: StoryState,
    item: Item,
    key: str,
    words: Sequence[tuple[str, str]],
    touched: dict[str, None],
) -> Evidence:
    """Put untracked news in the pool; fire a NEW_DEVELOPMENT when its cluster is big enough."""
    story, settings = engine.story, engine.story.new_developments
    known_after = settings.known_after
    novel_words = [
        (s, w) for s, w in words if s not in engine.known and state.vocabulary.counts.get(s, 0) < known_after
    ]
    novel = {s for s, _ in novel_words}
    index = state.index()
    cid = best_cluster(state.clusters, index, key, key, novel, settings.similarity)
    if cid is None:
        cid = f"c{state.next_count('cluster')}"
        state.add_cluster(Cluster(cid, key, item.published.timestamp(), item.published.timestamp()))
    cluster = state.own_cluster(cid)
    cluster.add(novel_words, item.outlet_key, item.published, item.source_kind.value, key, item.document)
    index.add(cluster, novel, [key])
    if len(cluster.sources) < MAX_SOURCES and all(s.get("link") != item.link for s in cluster.sources):
        cluster.sources.append(source_to_json(Source.from_item(item)))
    if cluster.development is not None:
        record = state.developments.get(cluster.development)
        if record is not None:
            join(story, state, record, item, key, None)
            touched[record.key] = None
            return Evidence(item.item_id, "joined", development=record.key)
        return Evidence(item.item_id, "pooled")
    if cluster.independent_within(item.published, settings.outlet_window) < settings.min_outlets \
            and not cluster.has_primary():
        return Evidence(item.item_id, "pooled")
    still_new = {s for s in cluster.stems if state.vocabulary.counts.get(s, 0) - cluster.stems[s] + 1 < known_after}
    label = cluster.label(still_new, settings.label_words)
    if not label:
        return Evidence(item.item_id, "pooled")  # nothing new to the story: background coverage
    dev_key = f"{story.id}:new:{state.next_count('new')}"
    # headline: the source whose title carries most of the label (the event itself, not an early side story)
    scores = [sum(1 for w in label if w in {x for _, x in content_words(src["title"])}) for src in cluster.sources]
    first = source_from_json(cluster.sources[scores.index(max(scores))])
    record = DevRecord(
        key=dev_key,
        kind=DevelopmentKind.NEW_DEVELOPMENT.value,
        thread=None,
        from_state=None,
        to_state=None,
        at=item.published,
        last_at=item.published,
        confidence=Confidence.CONFIRMED.value,
        severity=int(Severity.WARNING),
        title=f"New development ({', '.join(label)}): {first.title}",
        label=", ".join(label),
        outlets=sorted({m[0] for m in cluster.members}),
        documents=cluster.documents()[:MAX_DOCUMENTS],
        syndication=list(cluster.syndication),
        titles=list(cluster.syndication[:10]),
        sources=[dict(s) for s in cluster.sources],
    )
    state.add_development(record)
    cluster.development = dev_key
    touched[dev_key] = None
    return Evidence(item.item_id, "moved", development=dev_key)
