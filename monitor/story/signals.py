"""Thread signals: which thread states a headline speaks of, and whether as an act, a threat, a denial or a noun. Pure.

For every thread of a story and every cue of its states the reader compiles one pattern (``monitor.story.cues``,
which also tells which patterns a line can match at all), adding what a config should not have to list:

- inflections of each content word ("designate" also matches designates/designated/designating, "rejects"
  also reject/rejected/rejecting), with a few irregular verbs (struck, broke, gave, said...);
- optional articles ("invoke the DPA" matches "invokes DPA") and a short gap between cue words, so
  "declare a supply chain risk" matches "declares Anthropic a supply chain risk".

Each match is then qualified:

- an object check: unless the cue phrase itself names one of the thread's ``objects``, one of them must follow
  the cue within a few words of the same clause, or precede it when the cue is a passive participle
  ("Anthropic formally designated by Pentagon"); "designates a new security chief" is not a signal;
- a noun form (the cue after an article or a possessive: "the blacklist", "Pentagon's blacklist") or a thread
  ``mentions`` phrase ("the designation", "supply chain risk label") is a MENTION, never an act;
- hedges and negations to the left (``hedges.Modality`` with the story's extra cues) make it THREAT or NEGATED;
  a cue of a threat-kind state ("threatens to designate") is a THREAT at most.

Overlapping matches keep the one that starts first, then the one with more cue words, so "threatens to
designate" wins over "designate" and "moves to designate" over "designate".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.config.schema import StoryConfig, ThreadConfig
from monitor.domain import SignalMode, StateKind
from monitor.story.actors import ENVOYS, PASSIVE_AUX, Actors
from monitor.story.cues import PARTICIPLES, WORD, CueFilter, cue_pattern, inflections
from monitor.story.lexicon import Modality
from monitor.story.relevance import fold, phrase_pattern
from monitor.story.text import BACKGROUND, clause_left, clause_right, opener

SUBJECT_WORDS = 8
"""How many words left of a cue are read for a subject-first object ("debt ceiling talks are on pause")."""

OBJECT_WINDOW = 5
"""How many words right of a cue are searched for one of the thread's objects."""

_DETERMINERS = frozenset(
    {"the", "a", "an", "its", "his", "her", "their", "this", "that", "any", "possible", "potential"}
)
_PREPOSITIONS = frozenset(
    {"over", "for", "about", "on", "of", "against", "in", "with", "into", "by", "after", "since", "before",
     "following", "amid", "despite", "at", "toward", "towards", "without"}
)
_EMBEDDING = frozenset({"to", "unless", "if", "whether", "until", "that", "who", "which", "so"})
_TOWARD = frozenset({"toward", "towards"})
_INTRANSITIVE_FOLLOWERS = frozenset(
    {"to", "at", "in", "on", "after", "over", "for", "as", "amid", "with", "without", "again", "early", "late",
     "today", "tonight", "overnight", "now", "formally", "officially", "hours", "days", "weeks"}
)
_CONJUNCTIONS = frozenset({"as", "while", "when", "amid", "after", "before", "despite", "and", "but", "or"})


@dataclass(frozen=True, slots=True)
class Signal:
    """One reading of a thread in a text. ``state_id`` is '' for a MENTION; ``span`` indexes the text given."""

    thread_id: str
    state_id: str
    mode: SignalMode
    cue: str
    span: tuple[int, int]
    qualifier: str | None = None


@dataclass(frozen=True, slots=True)
class _Cue:
    state_id: str
    kind: StateKind
    cue: str
    pattern: re.Pattern[str]
    words: int
    names_object: bool
    objects: re.Pattern[str] | None  # what the cue's object must be (the state's own list, else the thread's)
    actors: frozenset[str]  # party ids who can make the state happen; empty is anyone


class _ThreadReader:
    def __init__(self, thread_id: str, thread: ThreadConfig) -> None:
        self.thread_id = thread_id
        self.objects = phrase_pattern(thread.objects)
        self.mentions = phrase_pattern(thread.mentions)
        self.cues = []
        for state in thread.states:
            objects = phrase_pattern(state.objects) if state.objects else self.objects
            actors = frozenset(thread.actors(state.id))
            for cue in state.cues:
                names_object = objects is not None and objects.search(fold(cue)) is not None
                self.cues.append(
                    _Cue(state.id, state.kind, cue, cue_pattern(cue), len(cue.split()), names_object, objects, actors)
                )
        self.filter = CueFilter([cue.cue for cue in self.cues])  # a line runs only the patterns it can match

    def candidates(self, folded: str, tokens: set[str] | None = None) -> list[_Cue]:
        """The cues that may match ``folded`` (whose ``\\w+`` tokens are ``tokens``, when the caller has them), in
        config order: every cue that does match is among them."""
        if tokens is None:
            tokens = set(WORD.findall(folded))
        return [self.cues[index] for index in self.filter.candidates(tokens)]


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of a text being read: as written, folded (same length), its ``\\w+`` tokens, where it starts."""

    line: str
    folded: str
    tokens: set[str]
    offset: int


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a cue's object was found: right of it (active), left as a passive subject, or left as the
    subject of an intransitive verb ("talks collapse"); ``names`` when the cue phrase names it itself."""

    side: str  # "names" | "right" | "passive" | "subject"


class SignalReader:
    """A story's cue patterns, compiled once. ``read`` is pure and thread-safe."""

    def __init__(self, story: StoryConfig) -> None:
        self._threads = [_ThreadReader(tid, thread) for tid, thread in story.threads.items()]
        self._modality = Modality(story.signals.hedges, story.signals.negations)
        self._actors = Actors(story)

    def read(self, text: str) -> tuple[Signal, ...]:
        """Every signal in ``text`` (title, or title + summary lines), in thread order then position.

        Lines are read separately: a hedge on one line does not qualify a cue on the next. A thread that has a
        state signal gets no MENTION signals from the same text.
        """
        signals: list[Signal] = []
        lines: list[_Line] = []  # each line folded and split into tokens once, for every thread
        offset = 0
        for line in text.split("\n"):
            folded = fold(line)
            lines.append(_Line(line, folded, set(WORD.findall(folded)), offset))
            offset += len(line) + 1
        for thread in self._threads:
            found: list[Signal] = []
            for read in lines:
                found.extend(self._read_line(thread, read))
            if not any(s.mode is not SignalMode.MENTION for s in found):
                for read in lines:
                    found.extend(self._mentions(thread, read.folded, read.offset))
                found = found[:1]  # the thread is mentioned; one signal says so
            signals.extend(found)
        return tuple(signals)

    def by_thread(self, title: str, summary: str = "") -> dict[str, list[Signal]]:
        """An item's signals grouped by thread: the title's, and the summary's for a thread the title says
        nothing about or only mentions. Spans index the text they were read from (title or summary)."""
        found: dict[str, list[Signal]] = {}
        for signal in self.read(title):
            found.setdefault(signal.thread_id, []).append(signal)
        if summary:
            for signal in self.read(summary):
                if signal.thread_id not in found or all(s.mode is SignalMode.MENTION for s in found[signal.thread_id]):
                    found.setdefault(signal.thread_id, []).append(signal)
        return found

    def _read_line(self, thread: _ThreadReader, read: _Line) -> list[Signal]:
        line, folded, offset = read.line, read.folded, read.offset
        matches: list[tuple[int, int, int, _Cue]] = []
        for cue in thread.candidates(folded, read.tokens):
            for hit in cue.pattern.finditer(folded):
                matches.append((hit.start(), -cue.words, -(hit.end() - hit.start()), cue))
        matches.sort(key=lambda m: (m[0], m[1], m[2], m[3].state_id, m[3].cue))
        taken_until = -1
        out: list[Signal] = []
        for start, _, neg_len, cue in matches:
            end = start - neg_len
            if start < taken_until:
                continue  # overlaps a match that started earlier or has more cue words
            taken_until = end
            place = self._object_place(cue, folded, start, end)
            if place is None:
                continue
            span = (offset + start, offset + end)
            mention = _mention_reason(folded, start, end, cue.cue)
            if mention is None and not cue.cue.split()[0].islower():
                mention = _envoy_in_gap(folded[start:end], cue.cue)  # "Trump [envoy Witkoff] meets Putin"
                if mention is not None:
                    taken_until = start  # a cue that starts later ("Witkoff meets Putin") may still read the clause
            if mention is None and place.side in ("right", "names"):
                mention = self._actors.other_actor(line, folded, start, end, cue.actors,
                                                   _participle(folded, start, end, cue.cue), cue.objects)
            if mention is not None and mention.startswith("gerund"):
                mode, qualifier = self._modality.before(line, start)
                ends_phrase = qualifier is not None and mention.endswith(f"{qualifier.split()[-1]!r}")
                if mode is not SignalMode.ACT and ends_phrase:
                    mention = None  # "stops short of designating", "paves the way for invoking": the phrase decides
            if mention is not None:
                out.append(Signal(thread.thread_id, "", SignalMode.MENTION, cue.cue, span, mention))
                continue
            mode, qualifier = self._qualify(line, folded, start, end, cue)
            if cue.kind is StateKind.THREAT and mode is SignalMode.ACT:
                mode = SignalMode.THREAT
            out.append(Signal(thread.thread_id, cue.state_id, mode, cue.cue, span, qualifier))
        return out

    def _qualify(self, line: str, folded: str, start: int, end: int, cue: _Cue) -> tuple[SignalMode, str | None]:
        """Hedges and negations left of the cue, in the gap between its words ("talks could collapse") and
        hedges right of it in its clause ("an extension is likely")."""
        words = folded[:start].split()
        if words and words[-1] == "from":
            return SignalMode.NEGATED, "from"  # "enjoins Pentagon from blacklisting", "bars it from invoking"
        if words and words[-1] in _TOWARD and _gerund(folded, start, cue.cue):
            return SignalMode.THREAT, words[-1]  # "toward blacklisting": a step, not the act
        mode, qualifier = self._modality.before(line, start)
        if mode is SignalMode.NEGATED:
            return mode, qualifier
        gap = _gap_words(folded[start:end], cue.cue)
        if gap:
            gap_mode, gap_qualifier = self._modality.before(gap + " _", len(gap) + 1)
            if gap_mode is SignalMode.NEGATED or (gap_mode is SignalMode.THREAT and mode is SignalMode.ACT):
                return gap_mode, gap_qualifier
        if mode is SignalMode.ACT:
            return self._modality.after(folded, end)
        return mode, qualifier

    def _object_place(self, cue: _Cue, folded: str, start: int, end: int) -> _Place | None:
        """Where the cue's object stands, or None when the clause has none (the cue is not about the thread)."""
        if cue.objects is None or cue.names_object:
            return _Place("names")
        right = _clause_right(folded, end)
        if cue.objects.search(right) or cue.objects.search(folded[start:end]):
            return _Place("right")
        left_words = clause_left(folded, start).split()
        if _participle(folded, start, end):
            passive = (left_words and left_words[-1] in PASSIVE_AUX) or re.match(r"\W*by\b", folded[end:]) is not None
            passive = passive or re.search(r"\bby\b", right) is not None
            if passive and cue.objects.search(" ".join(left_words[-5:])):
                return _Place("passive")
        # subject-first and intransitive: "talks collapse", "strike widens to Ford's Chicago plant", "deal closes":
        # the object is in the subject, which starts after the last word that opens an embedded clause
        # ("order Anthropic to comply", "unless it complies": Anthropic is not the one complying)
        right_words = right.split()
        intransitive = not right_words or right_words[0] in _INTRANSITIVE_FOLLOWERS
        if intransitive:
            subject = left_words[-SUBJECT_WORDS:]
            cut = max((i for i, w in enumerate(subject) if w in _EMBEDDING), default=-1)
            if cue.objects.search(" ".join(subject[cut + 1 :])):
                return _Place("subject")
        return None

    @staticmethod
    def _mentions(thread: _ThreadReader, folded: str, offset: int) -> list[Signal]:
        if thread.mentions is None:
            return []
        return [
            Signal(thread.thread_id, "", SignalMode.MENTION, hit.group(0), (offset + hit.start(), offset + hit.end()))
            for hit in thread.mentions.finditer(folded)
        ]


def _clause_right(folded: str, end: int) -> str:
    """The words right of a cue up to the end of its clause, at most OBJECT_WINDOW of them.

    A conjunction after the first word also ends the clause: in "designates new chief as Anthropic deadline
    nears", Anthropic belongs to the next clause."""
    words = clause_right(folded, end).split()[:OBJECT_WINDOW]
    for index, word in enumerate(words[1:], start=1):
        if word in _CONJUNCTIONS:
            return " ".join(words[:index])
    return " ".join(words)


def _gap_words(matched: str, cue: str) -> str:
    """The words of a match that are not the cue's own words (the gap filler), for hedge and negation checks."""
    cue_forms: set[str] = set()
    for word in fold(cue).split():
        cue_forms |= inflections(word)
    return " ".join(w for w in matched.split() if w.strip("\"'") not in cue_forms)


def _mention_reason(folded: str, start: int, end: int, cue: str) -> str | None:
    """Why a cue is used as a mention, not a predicate, or None: a noun after a determiner ("the designation"),
    a gerund after a preposition ("over designating"), an attributive participle ("blacklisted firm Anthropic"),
    or a background clause ("after the Pentagon blacklisted it")."""
    if _after_determiner(folded, start):
        return "noun use"
    previous = folded[:start].split()
    last = previous[-1].strip("\"'(") if previous else ""
    if last in _PREPOSITIONS and last not in _TOWARD and last != "without" and _gerund(folded, start, cue):
        return f"gerund after {last!r}"
    if _participle(folded, start, end, cue):
        clause_words = clause_left(folded, start).split()
        attributive = not clause_words or clause_words[-1] in _DETERMINERS or clause_words[-1] in _PREPOSITIONS
        following = folded[end:].split()
        if attributive and following and following[0] not in {"by", "as", "on", "in", "at", "to", "over"}:
            return "participle before a noun"
    background = opener(folded, start)
    if background in BACKGROUND:
        return f"background clause ({background!r})"
    return None


def _envoy_in_gap(matched: str, cue: str) -> str | None:
    """A cue that starts with a name ("Trump meets Putin") matched across someone acting for that name
    ("Trump envoy Witkoff meets Putin"): the envoy acts, not the name."""
    gap = _gap_words(matched, cue).split()
    envoy = next((w for w in gap if w in ENVOYS), None)
    return f"actor: {cue.split()[0]} {envoy}" if envoy else None


def _participle(folded: str, start: int, end: int, cue: str | None = None) -> bool:
    """The cue's first word, as matched, is a past participle of a verb ("designated", "struck", "withdrawn").

    With ``cue``: only when the cue's own first word is a lower-case verb (not a name such as "Biden")."""
    first = folded[start:end].split()[0] if folded[start:end].split() else ""
    if cue is not None and not cue.split()[0].islower():
        return False
    return first.endswith("ed") or first in PARTICIPLES


def _gerund(folded: str, start: int, cue: str | None = None) -> bool:
    """The word at ``start`` is a gerund ("designating"); with ``cue``, only when the cue's own first word is
    not already an -ing noun ("rating", "hearing", "ruling")."""
    word = folded[start:].split(maxsplit=1)
    if cue is not None and cue.split()[0].lower().endswith("ing"):
        return False
    return bool(word) and word[0].endswith("ing") and len(word[0]) > 5


def _after_determiner(folded: str, start: int) -> bool:
    """The cue is used as a noun: right after an article, a possessive or 'possible'/'potential'."""
    words = folded[:start].split()
    if not words:
        return False
    previous = words[-1].strip("\"'")
    return previous in _DETERMINERS or previous.endswith("'s")


def read_headline(story: StoryConfig | SignalReader, text: str) -> list[tuple[str, str, str]]:
    """``(thread, state, mode)`` for each signal of ``text``; state is '-' for a mention. For table tests."""
    reader = story if isinstance(story, SignalReader) else SignalReader(story)
    return [(s.thread_id, s.state_id or "-", s.mode.value) for s in reader.read(text)]
