"""Thread signals: which thread states a headline speaks of, and whether as an act, a threat, a denial or a noun. Pure.

For every thread of a story and every cue of its states the reader compiles one pattern, adding what a config
should not have to list:

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
from functools import lru_cache

from monitor.config.schema import StoryConfig, ThreadConfig
from monitor.domain import SignalMode, StateKind
from monitor.story.lexicon import Modality
from monitor.story.relevance import fold, phrase_pattern

GAP_WORDS = 4
"""How many other words may stand between two words of a cue ("declares [Anthropic] a supply chain risk")."""

OBJECT_WINDOW = 5
"""How many words right of a cue are searched for one of the thread's objects."""

_ARTICLES = frozenset({"the", "a", "an"})
_FUNCTION_WORDS = frozenset({"to", "of", "on", "in", "under", "for", "with", "by", "from", "and", "as", "its", "no"})
_DETERMINERS = frozenset(
    {"the", "a", "an", "its", "his", "her", "their", "this", "that", "any", "possible", "potential"}
)
_PASSIVE_AUX = frozenset(
    {"is", "was", "are", "were", "be", "been", "being", "gets", "got", "get", "formally", "officially"}
)
_IRREGULAR: dict[str, tuple[str, ...]] = {
    "strike": ("struck", "stricken"),
    "break": ("broke", "broken"),
    "give": ("gave", "given"),
    "say": ("said",),
    "begin": ("began", "begun"),
    "take": ("took", "taken"),
    "hold": ("held",),
    "seek": ("sought",),
    "win": ("won",),
    "make": ("made",),
    "bring": ("brought",),
    "lift": ("lifted",),
    "withdraw": ("withdrew", "withdrawn"),
}
_PARTICIPLES = frozenset(p for forms in _IRREGULAR.values() for p in forms)
_TOKEN = r"\w+(?:'\w+)?"
_SEP = r"""[\s"']+"""
_CONJUNCTIONS = frozenset({"as", "while", "when", "amid", "after", "before", "despite", "and", "but", "or"})
_CLAUSE_END = re.compile(r"[;:.!?|\n]|,\s|\s-\s|\b(?:but|while|after|because)\b")


@dataclass(frozen=True, slots=True)
class Signal:
    """One reading of a thread in a text. ``state_id`` is '' for a MENTION; ``span`` indexes the text given."""

    thread_id: str
    state_id: str
    mode: SignalMode
    cue: str
    span: tuple[int, int]
    qualifier: str | None = None


def inflections(word: str) -> frozenset[str]:
    """Forms of an English verb or noun: base, -s/-es/-ies, -d/-ed/-ied, -ing, doubled consonants, irregulars.

    Over-generates harmlessly: a form that is not a word never occurs in a headline.
    """
    w = word.lower()
    bases = {w}
    if w.endswith("ies") and len(w) > 4:
        bases.add(w[:-3] + "y")
    elif w.endswith(("ches", "shes", "sses", "xes", "zes")):
        bases.add(w[:-2])
    elif w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        bases.add(w[:-1])
    if w.endswith("ied") and len(w) > 4:
        bases.add(w[:-3] + "y")
    elif w.endswith("ed") and len(w) > 4:
        bases.update({w[:-2], w[:-1]})
    if w.endswith("ing") and len(w) > 5:
        bases.update({w[:-3], w[:-3] + "e"})
    forms: set[str] = set()
    for base in bases:
        forms.add(base)
        consonant_y = base.endswith("y") and len(base) > 1 and base[-2] not in "aeiou"
        if consonant_y:
            forms.update({base[:-1] + "ies", base[:-1] + "ied"})
        elif base.endswith(("ch", "sh", "s", "x", "z", "o")):
            forms.add(base + "es")
        else:
            forms.add(base + "s")
        forms.add(base + "d" if base.endswith("e") else base + "ed")
        forms.add(base[:-1] + "ing" if base.endswith("e") and not base.endswith("ee") else base + "ing")
        if len(base) >= 3 and base[-1] not in "aeiouwxy" and base[-2] in "aeiou" and base[-3] not in "aeiou":
            forms.update({base + base[-1] + "ed", base + base[-1] + "ing"})  # drop -> dropped, label -> labelled
        for irregular in _IRREGULAR.get(base, ()):
            forms.add(irregular)
    return frozenset(forms)


def _word_pattern(word: str) -> tuple[str, bool]:
    """Regex for one cue word and whether it may be left out (articles)."""
    folded = fold(word)
    if folded in _ARTICLES:
        return r"(?:a|an|the)", True
    if folded in _FUNCTION_WORDS or not word.islower() or not folded.isalpha():
        return re.escape(folded), False  # proper nouns, acronyms and function words are matched as written
    forms = sorted(inflections(folded), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(f) for f in forms) + ")", False


@lru_cache(maxsize=1024)
def cue_pattern(cue: str) -> re.Pattern[str]:
    """Compile one cue phrase with inflections, optional articles and short gaps between its words."""
    words = cue.split()
    gap = rf"(?:{_TOKEN}{_SEP}){{0,{GAP_WORDS}}}?"
    regex = ""
    for index, word in enumerate(words):
        part, optional = _word_pattern(word)
        if index == 0:
            regex = part if not optional else ""
            continue
        piece = rf"{_SEP}{gap}{part}"
        regex += f"(?:{piece})?" if optional else piece
    return re.compile(rf"(?<!\w){regex}(?!\w)")


@dataclass(frozen=True, slots=True)
class _Cue:
    state_id: str
    kind: StateKind
    cue: str
    pattern: re.Pattern[str]
    words: int
    names_object: bool
    objects: re.Pattern[str] | None  # what the cue's object must be (the state's own list, else the thread's)


class _ThreadReader:
    def __init__(self, thread_id: str, thread: ThreadConfig) -> None:
        self.thread_id = thread_id
        self.objects = phrase_pattern(thread.objects)
        self.mentions = phrase_pattern(thread.mentions)
        self.cues = []
        for state in thread.states:
            objects = phrase_pattern(state.objects) if state.objects else self.objects
            for cue in state.cues:
                names_object = objects is not None and objects.search(fold(cue)) is not None
                self.cues.append(
                    _Cue(state.id, state.kind, cue, cue_pattern(cue), len(cue.split()), names_object, objects)
                )


class SignalReader:
    """A story's cue patterns, compiled once. ``read`` is pure and thread-safe."""

    def __init__(self, story: StoryConfig) -> None:
        self._threads = [_ThreadReader(tid, thread) for tid, thread in story.threads.items()]
        self._modality = Modality(story.signals.hedges, story.signals.negations)

    def read(self, text: str) -> tuple[Signal, ...]:
        """Every signal in ``text`` (title, or title + summary lines), in thread order then position.

        Lines are read separately: a hedge on one line does not qualify a cue on the next. A thread that has a
        state signal gets no MENTION signals from the same text.
        """
        signals: list[Signal] = []
        offset = 0
        lines = text.split("\n")
        for thread in self._threads:
            found: list[Signal] = []
            offset = 0
            for line in lines:
                found.extend(self._read_line(thread, line, offset))
                offset += len(line) + 1
            if not any(s.mode is not SignalMode.MENTION for s in found):
                offset = 0
                for line in lines:
                    found.extend(self._mentions(thread, line, offset))
                    offset += len(line) + 1
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

    def _read_line(self, thread: _ThreadReader, line: str, offset: int) -> list[Signal]:
        folded = fold(line)
        matches: list[tuple[int, int, int, _Cue]] = []
        for cue in thread.cues:
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
            if not cue.names_object and not self._has_object(cue.objects, folded, start, end):
                continue
            span = (offset + start, offset + end)
            if _after_determiner(folded, start):
                out.append(Signal(thread.thread_id, "", SignalMode.MENTION, cue.cue, span, None))
                continue
            mode, qualifier = self._qualify(line, folded, start, end, cue)
            if cue.kind is StateKind.THREAT and mode is SignalMode.ACT:
                mode = SignalMode.THREAT
            out.append(Signal(thread.thread_id, cue.state_id, mode, cue.cue, span, qualifier))
        return out

    def _qualify(self, line: str, folded: str, start: int, end: int, cue: _Cue) -> tuple[SignalMode, str | None]:
        """Hedges and negations left of the cue and in the gap between its words ("talks could collapse")."""
        words = folded[:start].split()
        if words and words[-1] == "from":
            return SignalMode.NEGATED, "from"  # "enjoins Pentagon from blacklisting", "bars it from invoking"
        mode, qualifier = self._modality.before(line, start)
        if mode is SignalMode.NEGATED:
            return mode, qualifier
        gap = _gap_words(folded[start:end], cue.cue)
        if gap:
            gap_mode, gap_qualifier = self._modality.before(gap + " _", len(gap) + 1)
            if gap_mode is SignalMode.NEGATED or (gap_mode is SignalMode.THREAT and mode is SignalMode.ACT):
                return gap_mode, gap_qualifier
        return mode, qualifier

    @staticmethod
    def _has_object(objects: re.Pattern[str] | None, folded: str, start: int, end: int) -> bool:
        if objects is None:
            return True
        right = _clause_right(folded, end)
        if objects.search(right) or objects.search(folded[start:end]):
            return True
        first_word = folded[start:end].split()[0] if folded[start:end].split() else ""
        if not (first_word.endswith(("ed", "en")) or first_word in _PARTICIPLES):
            return False
        left_words = _clause_left(folded, start).split()
        passive = (left_words and left_words[-1] in _PASSIVE_AUX) or re.match(r"\W*by\b", folded[end:]) is not None
        passive = passive or re.search(r"\bby\b", right) is not None
        return bool(passive) and objects.search(" ".join(left_words[-5:])) is not None

    @staticmethod
    def _mentions(thread: _ThreadReader, line: str, offset: int) -> list[Signal]:
        if thread.mentions is None:
            return []
        return [
            Signal(thread.thread_id, "", SignalMode.MENTION, hit.group(0), (offset + hit.start(), offset + hit.end()))
            for hit in thread.mentions.finditer(fold(line))
        ]


def _clause_right(folded: str, end: int) -> str:
    """The words right of a cue up to the end of its clause, at most OBJECT_WINDOW of them.

    A conjunction after the first word also ends the clause: in "designates new chief as Anthropic deadline
    nears", Anthropic belongs to the next clause."""
    rest = folded[end:]
    cut = _CLAUSE_END.search(rest)
    if cut:
        rest = rest[: cut.start()]
    words = rest.split()[:OBJECT_WINDOW]
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


def _clause_left(folded: str, start: int) -> str:
    before = folded[:start]
    cuts = list(_CLAUSE_END.finditer(before))
    return before[cuts[-1].end() :] if cuts else before


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
