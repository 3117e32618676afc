"""Why an item did or did not move the story: relevance, every signal with its reason, and the reducer's verdict.

Pure: the shell passes the compiled story, the state to judge against (stored, or the story's initial state) and
``now``. The verdict comes from running the real reducer on a copy of the state with this one item, so
``explain`` can never disagree with what the monitor does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.domain import Item, SignalMode
from monitor.story.compiled import CompiledStory
from monitor.story.deadlines import DeadlineState, read_extensions
from monitor.story.reducer import Evidence, advance
from monitor.story.signals import Signal
from monitor.story.state import StoryState


@dataclass(frozen=True)
class SignalReason:
    thread: str
    state: str | None
    mode: str
    cue: str
    where: str  # "title" or "summary"
    at: int  # character offset of the cue in that text
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"thread": self.thread, "state": self.state, "mode": self.mode, "cue": self.cue,
                "where": self.where, "at": self.at, "reason": self.reason}


@dataclass(frozen=True)
class Explanation:
    story: str
    title: str
    summary: str
    relevant: bool
    terms: tuple[str, ...]
    excluded_by: str | None
    signals: tuple[SignalReason, ...]
    verdicts: tuple[str, ...]
    developments: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "story": self.story, "title": self.title, "summary": self.summary,
            "relevance": {"relevant": self.relevant, "terms": list(self.terms), "excluded_by": self.excluded_by},
            "signals": [s.to_json() for s in self.signals],
            "verdicts": list(self.verdicts),
            "developments": list(self.developments),
        }

    def lines(self) -> list[str]:
        """The explanation in words, one fact a line, for a terminal."""
        out = [f"story {self.story}: {self.title!r}"]
        if self.relevant:
            out.append(f"relevant: yes, matched {', '.join(repr(t) for t in self.terms)}")
        elif self.excluded_by:
            out.append(f"relevant: no, excluded by {self.excluded_by!r}")
        else:
            out.append("relevant: no, the item does not match every relevance group")
        if not self.signals:
            out.append("signals: none (no cue of any state, no mention of any thread)")
        for s in self.signals:
            state = f".{s.state}" if s.state else ""
            out.append(f"signal {s.thread}{state}: {s.mode}, {s.reason} ({s.where}, at {s.at})")
        out.extend(f"verdict: {v}" for v in self.verdicts)
        for dev in self.developments:
            out.append(f"would alert: [{dev['severity']}] {dev['title']}")
        return out


def signal_reason(signal: Signal) -> str:
    """The reason for a signal's mode, in words."""
    q = signal.qualifier
    if signal.mode is SignalMode.ACT:
        return f"cue {signal.cue!r} read as done: no hedge or negation stands in its clause"
    if signal.mode is SignalMode.THREAT:
        if q:
            return f"cue {signal.cue!r} hedged by {q!r}: a threat, not an act"
        return f"cue {signal.cue!r} belongs to a threat-kind state"
    if signal.mode is SignalMode.NEGATED:
        return f"cue {signal.cue!r} negated by {q!r}: evidence only, never a move" if q else \
            f"cue {signal.cue!r} negated: evidence only, never a move"
    if signal.state_id:
        return f"cue {signal.cue!r} only mentioned"
    if q and q.startswith("actor: "):
        return f"cue {signal.cue!r} is another actor's act ({q.removeprefix('actor: ')}): a mention, never a move"
    if q:
        return f"cue {signal.cue!r} is a mention ({q}), never a move"
    return f"{signal.cue!r} names the thread without a state cue, or the cue is used as a noun"


def _verdict(evidence: Evidence, before: StoryState, compiled: CompiledStory) -> str:
    story = compiled.story
    thread = story.threads.get(evidence.thread_id or "")
    current = before.threads[evidence.thread_id].state if evidence.thread_id in before.threads else None
    if evidence.action == "moved" and thread is not None:
        return (f"{evidence.thread_id}: moves {thread.label_of(current or thread.initial_state)} -> "
                f"{thread.label_of(evidence.state_id or '')} on a {evidence.mode} of {evidence.cue!r}")
    if evidence.action == "joined":
        return (f"{evidence.thread_id}: joins development {evidence.development} (the same move already reported;"
                " a new outlet can confirm it, it does not alert again)")
    if evidence.action == "corrected" and thread is not None:
        return (f"{evidence.thread_id}: correction: the unconfirmed report is denied by another outlet; the thread "
                f"goes back to {thread.label_of(evidence.state_id or '')}")
    if evidence.action == "ignored" and evidence.mode == "negated":
        return "no move: every state cue is negated; kept as evidence"
    if evidence.action == "ignored" and thread is not None:
        target = evidence.state_id or "?"
        if evidence.mode == "threat" and current is not None:
            return (f"{evidence.thread_id}: no move: a threat of {target!r} can only move the thread to its "
                    f"threat-kind state, and from {current!r} no such transition is configured")
        return (f"{evidence.thread_id}: no move: the thread is at {current!r} and {current!r} -> {target!r} "
                "is not a configured transition")
    if evidence.action == "irrelevant":
        return "no move: not relevant to the story"
    if evidence.action == "duplicate":
        return "no move: this item (or a copy with the same link) was already read"
    if evidence.action == "stale":
        return "no move: the item is older than the story's recent window"
    if evidence.action == "pooled":
        target = f" as development {evidence.development}" if evidence.development else ""
        return (f"no thread move: pooled with other relevant items{target}; a new development alerts when "
                f"{story.new_developments.min_outlets} outlets (or one primary source) report it")
    return f"{evidence.action}"


def explain(compiled: CompiledStory, state: StoryState, deadlines: Mapping[str, DeadlineState], item: Item,
            now: datetime) -> Explanation:
    """Explain ``item`` against the story ``state`` and its ``deadlines`` states by id (none is changed)."""
    story = compiled.story
    decision = compiled.match(item)
    signals: list[SignalReason] = []
    for where, text in (("title", item.title), ("summary", item.summary)):
        if not text:
            continue
        for signal in compiled.reader.read(text):
            signals.append(SignalReason(signal.thread_id, signal.state_id or None, signal.mode.value, signal.cue,
                                        where, signal.span[0], signal_reason(signal)))
    outcome = advance(compiled, state, [item], now)
    verdicts = [_verdict(e, state, compiled) for e in outcome.evidence] or ["no move"]
    found = list(outcome.developments)
    for deadline in story.deadlines:
        d_state = deadlines.get(deadline.id)
        if d_state is None:
            continue
        _, moves = read_extensions(story, deadline, d_state, [item], now)
        found.extend(moves)
        if moves:
            verdicts.extend(f"deadline {deadline.id}: {m.title}" for m in moves)
        elif d_state.resolved_at is not None:
            verdicts.append(f"deadline {deadline.id}: already resolved; deadline changes are not read")
        else:
            verdicts.append(f"deadline {deadline.id}: no deadline change read (no change cue with a readable time, "
                            "or the cue is hedged, negated, used as a noun or names the span already in force)")
    developments = tuple(
        {"key": d.key, "kind": d.kind.value, "severity": d.severity.label, "confidence": d.confidence.value,
         "title": d.title, "thread": d.thread_id, "from": d.from_state, "to": d.to_state}
        for d in found
    )
    return Explanation(story.id, item.title, item.summary, decision.relevant, decision.terms, decision.excluded_by,
                       tuple(signals), tuple(verdicts), developments)
