"""The engine's one lexicon: does the language around a cue weaken, deny or defer it? Pure.

Used by ``signals`` (thread states) and ``extensions`` (deadline moves). Clauses come from
:mod:`monitor.story.text`, so "Pentagon says it will not wait; Hegseth designates Anthropic" is not negated
by the first clause, and a parenthetical ("will not, in good conscience, accept") does not hide a negation.

What the lexicon knows:

- :data:`HEDGES` left of a cue: modal and reporting verbs ("could", "weighs", "threatens to") and prospective
  or preparatory frames ("first step toward", "moves closer to", "paves the way for", "prepares to", "is
  poised to", "plans to"): the act is threatened, floated or approached, not done.
- :data:`NEGATIONS` left of a cue: "not", "never", "can't", "unable to", "won't", "refuses to", "declines
  to", "rules out", "has no plans to", "averts"...: the act is denied, ruled out or prevented.
- :data:`RIGHT_HEDGES` right of a cue, in its clause: "an extension is likely", "a strike may be needed",
  "designation expected", "sources say it could".
- :data:`ADJACENT_HEDGES` only right before a cue ("talks near collapse", "on the brink of a deal").

Two refinements of the plain left window:

- A bare "to" hedges ("Pentagon to blacklist Anthropic" is announced, not done) except after a verb that
  reports the decision itself (``DECIDED``): "council votes to ban Acme" is the council's act. "moves to"
  stays a hedge: a move toward the act is a step, not the act (a story that tracks the step gives it a cue).
- A verb joined by "or"/"and" to an earlier verb of the same clause shares its qualifier: in "could designate
  X or seize its terminals" the seizure is hedged too. Only a bare verb or a participle right after the
  conjunction is joined ("and invoke", "or seizing"); a finite verb ("won't wait and invokes") or a new
  subject ("may appeal and the Pentagon blacklists") starts a new clause and is read on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.domain import SignalMode
from monitor.story.text import PARENTHETICAL_WORDS, clause_right, clause_start

HEDGES: tuple[str, ...] = (
    "could",
    "may",
    "might",
    "would",
    "should",
    "threatens to",
    "threatened to",
    "threatening to",
    "threat to",
    "threat of",
    "weighs",
    "weighing",
    "mulls",
    "mulling",
    "considers",
    "considering",
    "floats",
    "floated",
    "floating",
    "is poised to",
    "poised to",
    "set to",
    "plans to",
    "planning to",
    "seeks to",
    "seeks",
    "asks",
    "asked to",
    "if",
    "whether",
    "likely to",
    "expected to",
    "ready to",
    "prepared to",
    "warns",
    "warned",
    "vows to",
    "to",
    "over",
    "unless",
    "will",
    "wants to",
    "pushes to",
    "urges",
    "calls to",
    "calls for",
    "moving toward",
    "looms",
    "possible",
    "potential",
    "proposed",
    # prospective and preparatory frames: a step toward the act is not the act
    "step toward",
    "step towards",
    "steps toward",
    "steps towards",
    "moves closer to",
    "moved closer to",
    "closer to",
    "paves the way for",
    "paved the way for",
    "paving the way for",
    "clears the way for",
    "cleared the way for",
    "sets the stage for",
    "set the stage for",
    "setting the stage for",
    "lays the groundwork for",
    "ahead of",
    "prepares to",
    "prepared for",
    "preparing to",
    "prepares for",
    "preparing for",
    "gears up to",
    "gearing up to",
    "gears up for",
    "plan to",
    "intends to",
    "intend to",
    "aims to",
    "aim to",
    "eyes",
    "eyeing",
    "in talks to",
    "bid to",
    "tries to",
    "trying to",
    "attempt to",
    "attempts to",
    "on track to",
    "opens the door to",
    "opened the door to",
    "door open to",
    "leaves open",
    "would-be",
    "fears of",
    "fear of",
    "risk of",
    "prospect of",
    "talk of",
)
"""Built-in hedge cues: the act is threatened, floated or speculated about, not done."""

NEGATIONS: tuple[str, ...] = (
    "not",
    "n't",
    "no",
    "never",
    "declines to",
    "declined to",
    "refuses to",
    "refused to",
    "holds off",
    "held off",
    "stops short of",
    "stopped short of",
    "rules out",
    "ruled out",
    "denies",
    "denied",
    "without",
    "no plans to",
    "backs away from",
    "cannot",
    "unable to",
    "fails to",
    "failed to",
    "yet to",
    "not yet",
    "no longer",
    "backs off",
    "backed off",
    "backs down from",
    "backed down from",
    "walks back",
    "walked back",
    "drops plan to",
    "dropped plans to",
    "shies away from",
    "averts",
    "averted",
    "averting",
    "avert",
    "avoids",
    "avoided",
    "avoiding",
    "avoid",
    "staves off",
    "stave off",
    "staved off",
    "heads off",
    "headed off",
    "prevents",
    "prevented",
    "prevent",
    "blocks",
    "blocked",
)
"""Built-in negation cues: the act is denied, ruled out or held off."""

ADJACENT_HEDGES: tuple[str, ...] = (
    "near",
    "nears",
    "nearing",
    "close to",
    "on the verge of",
    "on the brink of",
    "edges toward",
    "edges towards",
    "edges closer to",
)
"""Hedges that count only right before the cue ("talks near collapse", "on the brink of a deal"): further
left they are usually something else ("sources close to the talks say a deal was reached")."""

RIGHT_HEDGES: tuple[str, ...] = (
    "likely",
    "unlikely",
    "expected",
    "possible",
    "looms",
    "looming",
    "may",
    "might",
    "could",
    "would",
    "should",
    "planned",
    "proposed",
    "mulled",
    "weighed",
    "considered",
    "floated",
    "eyed",
    "under consideration",
    "on the table",
    "in the works",
    "in the offing",
    "in sight",
    "imminent",
    "nears",
    "draws near",
    "is coming",
    "are coming",
    "ahead",
)
"""Hedges right of a cue, in its clause: "an extension is likely", "a strike may be needed"."""

RIGHT_NEGATIONS: tuple[str, ...] = ("not", "n't", "never", "off the table", "ruled out")
"""Negations right of a cue, in its clause: "prioritising payments is not feasible"."""

RIGHT_WORDS = 5
"""How many words right of a cue are read for :data:`RIGHT_HEDGES`."""

ADJACENT_WORDS = 4
"""How many words just left of a cue are read for :data:`ADJACENT_HEDGES`."""

DECIDED: frozenset[str] = frozenset({"votes", "voted", "decides", "decided"})
"""Verbs after which "to <act>" reports the act as decided, so the bare "to" is no hedge."""

WINDOW_WORDS = 6
"""How many words to the left of a cue are read for hedges and negations."""

JOINED_WINDOW_WORDS = 12
"""How many words before "or"/"and" are read for the qualifier of the verb it joins (the verb and its object)."""

_JOINED = re.compile(r"\b(?:and|or)\s+$", re.IGNORECASE)


def _compile(phrases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    parts = []
    for phrase in ordered:
        escaped = re.escape(phrase).replace(r"\ ", r"\s+")
        if phrase == "n't":
            parts.append(r"n[’']t\b")
        else:
            parts.append(rf"\b{escaped}\b")
    return re.compile("|".join(parts), re.IGNORECASE)


def left_window(text: str, cue_start: int, words: int = WINDOW_WORDS) -> str:
    """The clause-local text just before ``cue_start``: at most ``words`` words, cut at a clause break
    (parentheticals between commas are skipped over and left out)."""
    start = clause_start(text, cue_start, coordination=True)
    before = text[start:cue_start]
    for b_start, b_end in reversed(_parentheticals(text, start, cue_start)):
        before = before[: b_start - start] + " " + before[b_end - start :]
    tokens = before.split()
    return " ".join(tokens[-words:])


def right_window(text: str, cue_end: int, words: int = RIGHT_WORDS) -> str:
    """The clause-local text just after ``cue_end``: at most ``words`` words."""
    return " ".join(clause_right(text, cue_end, coordination=True).split()[:words])


def _parentheticals(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Comma-enclosed asides between ``start`` and ``end`` (the clause splitter does not break at them)."""
    spans = []
    for hit in re.finditer(r",\s[^,;:.!?]*?,\s", text[start:end]):
        if 0 < len(hit.group(0)[1:-2].split()) <= PARENTHETICAL_WORDS:
            spans.append((start + hit.start(), start + hit.end()))
    return spans


class Modality:
    """Compiled hedge/negation lexicon (built-ins plus a story's extras)."""

    def __init__(self, extra_hedges: Iterable[str] = (), extra_negations: Iterable[str] = ()) -> None:
        self._hedges = _compile((*HEDGES, *extra_hedges))
        self._negations = _compile((*NEGATIONS, *extra_negations))
        self._adjacent = _compile(ADJACENT_HEDGES)
        self._right = _compile(RIGHT_HEDGES)
        self._right_negations = _compile(RIGHT_NEGATIONS)

    def after(self, text: str, cue_end: int) -> tuple[SignalMode, str | None]:
        """How the words right of a cue, in its clause, qualify it: NEGATED ("is not feasible"), THREAT ("is
        likely") or ACT."""
        window = right_window(text, cue_end)
        negation = self._right_negations.search(window)
        if negation:
            return SignalMode.NEGATED, negation.group(0)
        hit = self._right.search(window)
        return (SignalMode.THREAT, hit.group(0)) if hit else (SignalMode.ACT, None)

    def before(self, text: str, cue_start: int) -> tuple[SignalMode, str | None]:
        """How the words just left of a cue qualify it: NEGATED, THREAT (hedged) or ACT, with the qualifier.

        Negation wins over a hedge ("will not designate" is negated). A question mark anywhere in the
        cue's sentence makes it a hedge ("Will the Pentagon designate Anthropic?").
        """
        found = self._read(left_window(text, cue_start))
        if found is not None:
            return found
        joined = _JOINED.search(text[:cue_start])
        if joined and _joinable_verb(text[cue_start:]):
            # the first verb's qualifier stands before it and its object: read the clause further back
            found = self._read(left_window(text, joined.start(), JOINED_WINDOW_WORDS))
            if found is not None:
                return found
        sentence_end = re.search(r"[.!?]", text[cue_start:])
        if sentence_end and sentence_end.group(0) == "?":
            return SignalMode.THREAT, "?"
        return SignalMode.ACT, None

    def _read(self, window: str) -> tuple[SignalMode, str] | None:
        """NEGATED or THREAT with the qualifier found in ``window``, negation first; None when it has neither."""
        negation = self._negations.search(window)
        if negation:
            return SignalMode.NEGATED, negation.group(0)
        hedge = self._hedge(window)
        if hedge is None:
            adjacent = self._adjacent.search(" ".join(window.split()[-ADJACENT_WORDS:]))
            hedge = adjacent.group(0) if adjacent else None
        return (SignalMode.THREAT, hedge) if hedge is not None else None

    def _hedge(self, window: str) -> str | None:
        """The first hedge of the window, skipping a bare "to" after a verb of decision ("votes to ban")."""
        for hit in self._hedges.finditer(window):
            if hit.group(0).lower() == "to":
                previous = window[: hit.start()].split()
                if previous and previous[-1].lower() in DECIDED:
                    continue
            return hit.group(0)
        return None


def _joinable_verb(rest: str) -> bool:
    """The word at the cue is a bare verb or a participle, which can share the clause of a verb before "or"/"and"
    ("could designate X or seize"); a finite -s/-ed form ("and invokes", "and blacklisted") is its own predicate."""
    words = rest.split(maxsplit=1)
    word = words[0].lower().strip("\"'") if words else ""
    if word.endswith("ing"):
        return True
    return bool(word) and not word.endswith("ed") and not (word.endswith("s") and not word.endswith("ss"))
