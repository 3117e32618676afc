"""Hedge and negation lexicon: does the language just before a cue weaken or deny it? Pure.

Used by ``signals`` (thread states) and ``deadlines`` (extensions read from the news). The window to the
left of a cue is cut at clause boundaries (punctuation and conjunctions that start a new clause), so
"Pentagon says it will not wait; Hegseth designates Anthropic" is not negated by the first clause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.domain import SignalMode

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
    "reportedly",
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
)
"""Built-in negation cues: the act is denied, ruled out or held off."""

WINDOW_WORDS = 6
"""How many words to the left of a cue are read for hedges and negations."""

_CLAUSE_BREAK = re.compile(r"[;:.!?\u2014\u2013|]|,\s|\s-\s|\b(?:but|and|after|as|while|because|then)\b", re.IGNORECASE)


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
    """The clause-local text just before ``cue_start``: at most ``words`` words, cut at a clause break."""
    before = text[:cue_start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    tokens = before.split()
    return " ".join(tokens[-words:])


class Modality:
    """Compiled hedge/negation lexicon (built-ins plus a story's extras)."""

    def __init__(self, extra_hedges: Iterable[str] = (), extra_negations: Iterable[str] = ()) -> None:
        self._hedges = _compile((*HEDGES, *extra_hedges))
        self._negations = _compile((*NEGATIONS, *extra_negations))

    def before(self, text: str, cue_start: int) -> tuple[SignalMode, str | None]:
        """How the words just left of a cue qualify it: NEGATED, THREAT (hedged) or ACT, with the qualifier.

        Negation wins over a hedge ("will not designate" is negated). A question mark anywhere in the
        cue's sentence makes it a hedge ("Will the Pentagon designate Anthropic?").
        """
        window = left_window(text, cue_start)
        negation = self._negations.search(window)
        if negation:
            return SignalMode.NEGATED, negation.group(0)
        hedge = self._hedges.search(window)
        if hedge:
            return SignalMode.THREAT, hedge.group(0)
        sentence_end = re.search(r"[.!?]", text[cue_start:])
        if sentence_end and sentence_end.group(0) == "?":
            return SignalMode.THREAT, "?"
        return SignalMode.ACT, None
