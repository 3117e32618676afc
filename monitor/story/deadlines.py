"""Deadline clock: reminders, resolution, passing and extensions read from the news. Pure.

Every function takes the stored :class:`DeadlineState` (and ``now`` where time matters) and returns a new
state plus the developments to record; nothing here reads the clock, the network or the database, so the
daemon and replay drive it identically.

Timing rule for ``Development.at``: a reminder or a passing that is handled within :data:`LATE_GRACE` of its
scheduled instant is stamped with that exact instant (so a 30 s tick or a replay step gives the same output);
one caught up later (after downtime) is stamped ``now``, when it was really sent. A resolution is stamped with
the moment the resolving development happened (``now`` when only the current thread state is known).

Reading an extension out of an item's text is :mod:`monitor.story.extensions` (``read_extension`` and
``ExtensionReading`` stay importable from here); this module applies readings to the state: a change of the due
time (later or earlier) is one event however many outlets rewrite it (see :func:`read_extensions`).

Resolution needs a CONFIRMED act: a resolving thread state reported by one ordinary outlet does not stop the
reminders or the "passed" alert until a second outlet or a wire/primary source confirms it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from monitor.config.schema import DeadlineConfig, StoryConfig
from monitor.domain import Confidence, Development, DevelopmentKind, Item, Severity, Source, SourceKind, iso_utc
from monitor.durations import countdown, format_duration
from monitor.story.extensions import ExtensionReading, read_extension, subject_pattern
from monitor.story.lexicon import Modality
from monitor.story.relevance import RelevanceDecision, RelevanceMatcher

LATE_GRACE = timedelta(minutes=15)
"""A reminder or passing handled this late still carries its scheduled instant as ``at``."""

RECAP_LIMIT = 8
"""At most this many recent developments are listed in a "passed" message."""


# ------------------------------------------------------------------------------------------------ state
def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    # full precision (not iso_utc's seconds) so to_json/from_json round-trips exactly
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _source_json(source: Source) -> dict[str, Any]:
    return {**source.to_json(), "published": _iso(source.published), "feed_id": source.feed_id,
            "item_id": source.item_id, "source_kind": source.source_kind.value}


def _source_from(data: Mapping[str, Any]) -> Source:
    published = _dt(data["published"])
    assert published is not None
    return Source(outlet=data["outlet"], title=data["title"], link=data["link"], published=published,
                  feed_id=data.get("feed_id", ""), item_id=data.get("item_id", ""),
                  source_kind=SourceKind(data.get("source_kind", "ordinary")))


class Relevance(Protocol):
    """What decides that an item is about the story (:class:`~monitor.story.relevance.RelevanceMatcher`)."""

    def match(self, item: Item, /) -> RelevanceDecision: ...


@dataclass(frozen=True)
class DeadlineChange:
    """One change applied to the due time (later or earlier): from ``old_due`` to ``new_due``, learned ``at``.

    ``published`` is when the first report of it was published (the corroboration window and the window in
    which rewrites are the same event run from there); states stored before it was kept fall back to ``at``.
    """

    old_due: datetime
    new_due: datetime
    at: datetime
    link: str | None
    outlet: str
    confidence: Confidence = Confidence.REPORTED
    published: datetime | None = None

    @property
    def reported(self) -> datetime:
        """When the change was first reported (``published``, or ``at`` for changes stored before it)."""
        return self.published or self.at

    def to_json(self) -> dict[str, Any]:
        return {"old_due": _iso(self.old_due), "new_due": _iso(self.new_due), "at": _iso(self.at),
                "link": self.link, "outlet": self.outlet, "confidence": self.confidence.value,
                "published": _iso(self.published)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeadlineChange:
        old, new, at = _dt(data["old_due"]), _dt(data["new_due"]), _dt(data["at"])
        assert old is not None and new is not None and at is not None
        return cls(old, new, at, data["link"], data["outlet"], Confidence(data["confidence"]),
                   _dt(data.get("published")))


@dataclass(frozen=True)
class PendingExtension:
    """A REPORTED change (already applied) waiting for a second outlet or a primary/wire source."""

    key: str
    old_due: datetime
    new_due: datetime
    at: datetime  # when the first report was read; also the development's ``at``
    published: datetime  # of the first report; the corroboration window runs from here
    outlets: tuple[str, ...]
    sources: tuple[Source, ...]
    cues: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()  # feed documents of its reports (Item.document); empty in older states

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "old_due": _iso(self.old_due), "new_due": _iso(self.new_due), "at": _iso(self.at),
                "published": _iso(self.published), "outlets": list(self.outlets),
                "sources": [_source_json(s) for s in self.sources], "cues": list(self.cues),
                "documents": list(self.documents)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingExtension:
        old, new, at, pub = (_dt(data[k]) for k in ("old_due", "new_due", "at", "published"))
        assert old is not None and new is not None and at is not None and pub is not None
        return cls(data["key"], old, new, at, pub, tuple(data["outlets"]),
                   tuple(_source_from(s) for s in data["sources"]), tuple(data.get("cues", ())),
                   tuple(data.get("documents", ())))


@dataclass(frozen=True)
class DeadlineState:
    """What the monitor remembers about one deadline between evaluations (stored as JSON by the service).

    ``reminders_sent`` holds the reminder offsets (seconds before ``due_at``) already handled for the current
    due time: sent, or skipped because a later reminder superseded them or they were already past when the
    due time moved.
    """

    story_id: str
    deadline_id: str
    due_at: datetime
    original_due_at: datetime
    reminders_sent: tuple[int, ...] = ()
    resolved_at: datetime | None = None
    resolution: str | None = None
    passed_at: datetime | None = None
    changes: tuple[DeadlineChange, ...] = ()
    pending_extension: PendingExtension | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id, "deadline_id": self.deadline_id, "due_at": _iso(self.due_at),
            "original_due_at": _iso(self.original_due_at), "reminders_sent": list(self.reminders_sent),
            "resolved_at": _iso(self.resolved_at), "resolution": self.resolution, "passed_at": _iso(self.passed_at),
            "changes": [c.to_json() for c in self.changes],
            "pending_extension": self.pending_extension.to_json() if self.pending_extension else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeadlineState:
        due, original = _dt(data["due_at"]), _dt(data["original_due_at"])
        assert due is not None and original is not None
        pending = data.get("pending_extension")
        return cls(
            story_id=data["story_id"], deadline_id=data["deadline_id"], due_at=due, original_due_at=original,
            reminders_sent=tuple(int(x) for x in data.get("reminders_sent", ())),
            resolved_at=_dt(data.get("resolved_at")), resolution=data.get("resolution"),
            passed_at=_dt(data.get("passed_at")),
            changes=tuple(DeadlineChange.from_json(c) for c in data.get("changes", ())),
            pending_extension=PendingExtension.from_json(pending) if pending else None,
        )


def initial_deadline_state(story: StoryConfig, deadline: DeadlineConfig) -> DeadlineState:
    """A fresh state: due at the configured time (converted to UTC once), nothing sent."""
    due = deadline.due_utc
    return DeadlineState(story_id=story.id, deadline_id=deadline.id, due_at=due, original_due_at=due)


# ---------------------------------------------------------------------------------------------- helpers
def reminder_offsets(deadline: DeadlineConfig) -> tuple[int, ...]:
    """The configured reminder offsets in whole seconds, largest (earliest reminder) first."""
    return tuple(sorted({int(r.total_seconds()) for r in deadline.reminders if r > timedelta(0)}, reverse=True))


def local_text(moment: datetime, zone: str) -> str:
    """``Fri 2026-02-27 17:01 EST``: an instant as wall-clock time in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def threads_line(story: StoryConfig, thread_states: Mapping[str, str], sep: str = "; ") -> str:
    """``The ultimatum: ultimatum issued; Negotiations: talks ongoing`` in the story's thread order; a thread
    missing from ``thread_states`` is in its initial state."""
    return sep.join(
        f"{thread.title or thread_id}: {thread.label_of(thread_states.get(thread_id, thread.initial_state))}"
        for thread_id, thread in story.threads.items()
    )


def _stamp(scheduled: datetime, now: datetime) -> datetime:
    return scheduled if now - scheduled <= LATE_GRACE else now


def _key(state: DeadlineState, *parts: object) -> str:
    return ":".join((state.story_id, state.deadline_id, *(str(p) for p in parts)))


def _resolution(deadline: DeadlineConfig, state: DeadlineState, thread_states: Mapping[str, str],
                recent: Sequence[Development], now: datetime,
                unconfirmed: Collection[str] = ()) -> tuple[str, datetime, Development | None] | None:
    """The earliest configured resolver that happened before the due time, with its moment.

    Only a CONFIRMED development resolves: one reported by a single ordinary outlet is not yet an act the
    deadline can rest on. A thread's current state stands in for its development when none is in ``recent``,
    unless the thread is in ``unconfirmed`` (its current state rests on a development still only reported).
    """
    found: list[tuple[datetime, str, Development | None]] = []
    mine = [d for d in recent if d.story_id == state.story_id and d.at < state.due_at]
    for ref in deadline.resolved_by:
        if ref in {k.value for k in DevelopmentKind}:
            found += [(d.at, ref, d) for d in mine if d.kind.value == ref and d.confidence is Confidence.CONFIRMED]
            continue
        thread_id, _, state_id = ref.partition(".")
        changes = [d for d in mine if d.kind is DevelopmentKind.THREAD_CHANGE
                   and d.thread_id == thread_id and d.to_state == state_id]
        found += [(d.at, ref, d) for d in changes if d.confidence is Confidence.CONFIRMED]
        # the current state alone proves "before due" only while the due time has not come yet, and only when
        # nothing says it is unconfirmed (no reported-only development for it, the thread not in ``unconfirmed``)
        if (not changes and thread_states.get(thread_id) == state_id and thread_id not in unconfirmed
                and now < state.due_at):
            found.append((now, ref, None))
    if not found:
        return None
    at, ref, dev = min(found, key=lambda f: (f[0], f[1]))
    return ref, at, dev


# ---------------------------------------------------------------------------------------------- evaluate
def evaluate(story: StoryConfig, deadline: DeadlineConfig, state: DeadlineState, *,
             thread_states: Mapping[str, str], recent: Sequence[Development],
             now: datetime, unconfirmed: Collection[str] = ()) -> tuple[DeadlineState, tuple[Development, ...]]:
    """Advance one deadline to ``now``: at most one reminder, a resolution, or the passing.

    ``thread_states`` maps thread id to its current state id; ``recent`` is the story's recent developments
    (resolvers by kind, thread changes for the exact resolution moment, and the recap of a passing);
    ``unconfirmed`` names the threads whose current state rests on a development that is still only REPORTED
    (see ``monitor.app.deadlines.deadline_thread_states``). Only a CONFIRMED act resolves the deadline.
    """
    if state.resolved_at is not None or state.passed_at is not None:
        return state, ()
    due = state.due_at
    all_offsets = reminder_offsets(deadline)
    resolved = _resolution(deadline, state, thread_states, recent, now, unconfirmed)
    if resolved is not None:
        ref, at, dev = resolved
        what = ref.rpartition(".")[2].replace("_", " ")
        development = Development(
            key=_key(state, "resolved", iso_utc(due)), kind=DevelopmentKind.DEADLINE_RESOLVED, story_id=story.id,
            at=at, title=f"Deadline resolved before it was due ({what}): {deadline.title}",
            severity=Severity.NOTICE, confidence=dev.confidence if dev else Confidence.CONFIRMED,
            summary=f"{deadline.title}, due {local_text(due, deadline.zone)}, was resolved: {what}. "
                    f"Threads: {threads_line(story, thread_states)}.",
            sources=dev.sources if dev else (),
            details={"deadline": deadline.id, "due": iso_utc(due), "resolution": ref},
        )
        new_state = replace(state, resolved_at=at, resolution=ref, reminders_sent=all_offsets)
        return new_state, (development,)
    if now >= due:
        return _passed(story, deadline, state, thread_states, recent, now, all_offsets)
    missed = [o for o in all_offsets if o not in state.reminders_sent and due - timedelta(seconds=o) <= now]
    if not missed:
        return state, ()
    offset = min(missed)  # the most recent missed reminder; the older ones are superseded by it
    at = _stamp(due - timedelta(seconds=offset), now)
    left = format_duration(due - at)
    development = Development(
        key=_key(state, "reminder", offset, iso_utc(due)), kind=DevelopmentKind.DEADLINE_REMINDER,
        story_id=story.id, at=at, title=f"Deadline in {left}: {deadline.title}",
        severity=Severity.WARNING if offset == all_offsets[-1] else Severity.NOTICE,
        confidence=Confidence.CONFIRMED,
        summary=f"{deadline.title} is due in {left}, at {local_text(due, deadline.zone)} ({iso_utc(due)}). "
                f"Threads: {threads_line(story, thread_states)}.",
        details={"deadline": deadline.id, "due": iso_utc(due), "offset_seconds": offset, "left": f"in {left}",
                 "remaining_s": int((due - at).total_seconds()),
                 "threads": {t: thread_states.get(t, c.initial_state) for t, c in story.threads.items()}},
    )
    sent = tuple(sorted({*state.reminders_sent, *missed}, reverse=True))
    return replace(state, reminders_sent=sent), (development,)


def _passed(story: StoryConfig, deadline: DeadlineConfig, state: DeadlineState, thread_states: Mapping[str, str],
            recent: Sequence[Development], now: datetime,
            all_offsets: tuple[int, ...]) -> tuple[DeadlineState, tuple[Development, ...]]:
    due = state.due_at
    since = due - deadline.recap_window
    recap = sorted((d for d in recent if d.story_id == story.id and since <= d.at <= now
                    and not d.kind.value.startswith(("deadline.", "ops."))), key=lambda d: (d.at, d.key))
    lines = [f"- {local_text(d.at, deadline.zone)}: {d.title}" for d in recap[-RECAP_LIMIT:]]
    hours = format_duration(deadline.recap_window)
    happened = (f"In the last {hours} before it:\n" + "\n".join(lines)) if lines else \
        f"Nothing was reported in the last {hours} before it."
    development = Development(
        key=_key(state, "passed", iso_utc(due)), kind=DevelopmentKind.DEADLINE_PASSED, story_id=story.id,
        at=_stamp(due, now), title=f"Deadline passed with no resolution: {deadline.title}",
        severity=Severity.CRITICAL, confidence=Confidence.CONFIRMED,
        summary=f"{deadline.title} passed at {local_text(due, deadline.zone)} ({iso_utc(due)}) with no resolution. "
                f"Threads: {threads_line(story, thread_states)}.\n{happened}",
        details={"deadline": deadline.id, "due": iso_utc(due), "resolved": False,
                 "recent": [d.key for d in recap[-RECAP_LIMIT:]]},
    )
    return replace(state, passed_at=due, reminders_sent=all_offsets), (development,)


# -------------------------------------------------------------------------------------------- extensions
def _modality(story: StoryConfig) -> Modality:
    return Modality(story.signals.hedges, story.signals.negations)


def _confirms(item: Item, pending: PendingExtension, story: StoryConfig) -> bool:
    """A second independent outlet in another feed document (or a primary/wire source) reporting the pending
    change, in the window."""
    independent = (item.outlet_key not in pending.outlets and item.document not in pending.documents) \
        or item.source_kind is not SourceKind.ORDINARY
    return independent and abs(item.published - pending.published) <= story.corroboration_window


def _same_day(one: datetime, other: datetime, zone: ZoneInfo) -> bool:
    return one.astimezone(zone).date() == other.astimezone(zone).date()


def _rewrite_of(reading: ExtensionReading, recent: Sequence[DeadlineChange], zone: ZoneInfo) -> DeadlineChange | None:
    """The recent change a reading reports again (its new time on the same local day), latest first."""
    for change in reversed(recent):
        if _same_day(reading.new_due, change.new_due, zone):
            return change
    return None


def _change_development(story: StoryConfig, deadline: DeadlineConfig, pending: PendingExtension,
                        confidence: Confidence) -> Development:
    old, new = pending.old_due, pending.new_due
    earlier = new < old
    outlets = ", ".join(dict.fromkeys(s.outlet for s in pending.sources))
    moved = "was moved earlier" if earlier else "moved"
    return Development(
        key=pending.key, kind=DevelopmentKind.DEADLINE_CHANGED, story_id=story.id, at=pending.at,
        title=f"Deadline moved {'earlier ' if earlier else ''}to {local_text(new, deadline.zone)}: {deadline.title}",
        severity=Severity.WARNING, confidence=confidence, sources=pending.sources, cues=pending.cues,
        summary=f"{outlets} report{'s' if len(pending.sources) == 1 else ''} that {deadline.title} {moved} from "
                f"{local_text(old, deadline.zone)} to {local_text(new, deadline.zone)} ({iso_utc(new)}).",
        details={"deadline": deadline.id, "old_due": iso_utc(old), "new_due": iso_utc(new),
                 "direction": "earlier" if earlier else "later"},
    )


def read_extensions(story: StoryConfig, deadline: DeadlineConfig, state: DeadlineState, items: Sequence[Item],
                    now: datetime, *, relevance: Relevance | None = None,
                    ) -> tuple[DeadlineState, tuple[Development, ...]]:
    """Apply changes of the due time (later or earlier) reported by ``items`` (the story's new items).

    Only items relevant to the story count (``relevance``: the story's compiled ``RelevanceMatcher``, every
    ``relevance.require`` group; built from ``story`` when not given), and not stale ones (published more than
    the story's ``recent_window`` before ``now``).

    A change is one event. One ordinary outlet moves the due time at once with REPORTED confidence; a second
    independent outlet, or a primary/wire source, within the story's corroboration window makes it CONFIRMED
    (the same development key, re-emitted). Within that window of a change's first report, a report of the
    same new day is a rewrite of it, never a new move: it corroborates the change in force, and a rewrite of a
    change since superseded is ignored. A relative amount ("another 48 hours") read within the window applies
    to the deadline in force when the first change of the window was reported, so rewrites never stack. A
    report of exactly the current due time changes nothing. Hedged or negated reports and unreadable times
    change nothing; a passed deadline is never moved earlier. A resolved deadline ignores changes. Reminders
    restart for the new due time; those whose time is already past at ``now`` are marked handled (the change
    alert itself tells the user). In a story with several deadlines a report moves only those whose subject it
    names (see ``extensions.subject_pattern``).
    """
    if state.resolved_at is not None:
        return state, ()
    pending = state.pending_extension
    if pending is not None and now - pending.at > story.corroboration_window:
        state = replace(state, pending_extension=None)
    out: dict[str, Development] = {}
    matcher = relevance if relevance is not None else RelevanceMatcher(story)
    modality, subjects, zone = _modality(story), subject_pattern(story, deadline), ZoneInfo(story.zone)
    for item in sorted(items, key=lambda i: (i.published, i.item_id)):
        if item.published < now - story.recent_window or not matcher.match(item).relevant:
            continue
        recent = [c for c in state.changes if abs(item.published - c.reported) <= story.corroboration_window]
        base = recent[0].old_due if recent else state.due_at
        reading = read_extension(item.text, item.published, state.due_at, story.zone, modality,
                                 deadline.extension_cues, subjects, relative_to=base)
        if reading is None:
            continue
        rewritten = _rewrite_of(reading, recent, zone)
        if rewritten is not None or reading.new_due == state.due_at:
            pending = state.pending_extension
            current = rewritten is None or rewritten.new_due == state.due_at
            if current and pending is not None and pending.new_due == state.due_at and _confirms(item, pending, story):
                pending = replace(pending, outlets=(*pending.outlets, item.outlet_key),
                                  documents=(*pending.documents, item.document),
                                  sources=(*pending.sources, Source.from_item(item)))
                changes = tuple(replace(c, confidence=Confidence.CONFIRMED) if c.new_due == pending.new_due else c
                                for c in state.changes)
                state = replace(state, pending_extension=None, changes=changes)
                out[pending.key] = _change_development(story, deadline, pending, Confidence.CONFIRMED)
            continue  # a rewrite of a change already applied (or of none): never a second move
        if state.passed_at is not None and reading.new_due < state.due_at:
            continue
        confidence = Confidence.REPORTED if item.source_kind is SourceKind.ORDINARY else Confidence.CONFIRMED
        new = reading.new_due
        candidate = PendingExtension(key=_key(state, "changed", iso_utc(new)), old_due=state.due_at, new_due=new,
                                     at=now, published=item.published, outlets=(item.outlet_key,),
                                     documents=(item.document,),
                                     sources=(Source.from_item(item),), cues=(reading.cue,))
        handled = tuple(o for o in reminder_offsets(deadline) if new - timedelta(seconds=o) <= now)
        change = DeadlineChange(state.due_at, new, now, item.link, item.outlet, confidence, item.published)
        state = replace(state, due_at=new, reminders_sent=handled, changes=(*state.changes, change),
                        passed_at=state.passed_at if new <= now else None,
                        pending_extension=candidate if confidence is Confidence.REPORTED else None)
        out[candidate.key] = _change_development(story, deadline, candidate, confidence)
    return state, tuple(out.values())


# ------------------------------------------------------------------------------------- scheduling, status
def next_due_instants(story: StoryConfig, deadline: DeadlineConfig, state: DeadlineState,
                      after: datetime | None = None) -> list[datetime]:
    """Reminder instants not yet handled, plus the due time, sorted; only those later than ``after`` if given.

    Empty once the deadline is resolved or has passed (until an extension moves it).
    """
    if state.resolved_at is not None or state.passed_at is not None:
        return []
    instants = [state.due_at - timedelta(seconds=o) for o in reminder_offsets(deadline)
                if o not in state.reminders_sent]
    instants.append(state.due_at)
    return sorted(t for t in set(instants) if after is None or t > after)


def surge_active(deadline: DeadlineConfig, state: DeadlineState, now: datetime) -> bool:
    """Whether ``now`` lies in ``[due - surge_before, due + surge_after]`` of the current due time."""
    return state.due_at - deadline.surge_before <= now <= state.due_at + deadline.surge_after


def countdown_text(state: DeadlineState, now: datetime) -> str:
    """``in 2 h 13 min``, ``passed 3 h ago, unresolved`` or ``resolved (deal)``."""
    if state.resolved_at is not None:
        what = (state.resolution or "").rpartition(".")[2].replace("_", " ")
        return f"resolved ({what})" if what else "resolved"
    if now >= state.due_at:
        return f"passed {format_duration(now - state.due_at)} ago, unresolved"
    return countdown(state.due_at - now)
