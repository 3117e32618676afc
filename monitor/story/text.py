"""Clauses of a headline: the one clause splitter the story engine reads with. Pure.

Signals (thread states), the hedge and negation lexicon and extensions (deadline moves) all ask the same
questions of a line of text: which words belong to the clause of a cue, what opens that clause, and what the
words just left or right of it are. They ask them here, so "Pentagon says it will not wait; Hegseth designates
Anthropic" splits the same way everywhere.

A clause ends at sentence punctuation (a period only where it ends a sentence, not in "U.S." or "Aug. 8" or
"$1.2bn"), a semicolon or colon, a dash between words, ", " and a subordinating word (but, while, because,
although, whereas, after, as, since, when, amid, following, despite). Two commas around four words or fewer
("will not, in good conscience, accept") enclose a parenthetical and are not breaks. ``coordination=True``
also breaks at "and", "or" and "then" (the hedge window: "may appeal and the Pentagon blacklists" are two
predicates); without it a subject such as "Biden and McCarthy" stays whole.

Every function takes text that :func:`monitor.story.relevance.fold` has lower-cased (or the original: the
patterns ignore case) and returns spans or slices of it; work is linear in the length of the line.
"""

from __future__ import annotations

import re
from functools import lru_cache

SUBORDINATORS: frozenset[str] = frozenset(
    {"but", "while", "because", "although", "though", "whereas", "after", "as", "since", "when", "amid",
     "following", "despite"}
)
"""Words that open a new clause. Words that carry modality ("if", "unless", "whether", "until") are not here:
the hedge lexicon must see them inside the clause they qualify."""

BACKGROUND: frozenset[str] = frozenset({"after", "since", "following", "amid", "despite"})
"""Openers of a background clause: "sues after last month's designation" reports the designation as known."""

COORDINATORS: frozenset[str] = frozenset({"and", "or", "then"})

PARENTHETICAL_WORDS = 4
"""At most this many words between two commas make a parenthetical ("will not, in good conscience, accept")."""

_ABBREVIATIONS = frozenset(
    {"u.s", "u.k", "u.n", "mr", "ms", "mrs", "dr", "st", "gen", "sen", "rep", "gov", "jan", "feb", "mar", "apr",
     "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "vs", "inc", "corp", "co", "jr", "lt", "col"}
)
_PUNCT = re.compile(r"[;:!?|\n\u2014\u2013]|\.(?=\s|$|[\"'])|,\s|\s-\s")
_WORD_BREAK = re.compile(r"\b(?:" + "|".join(sorted(SUBORDINATORS | COORDINATORS)) + r")\b", re.IGNORECASE)
_WORD = re.compile(r"[\w.'’$%]+")


@lru_cache(maxsize=512)
def clause_breaks(text: str, coordination: bool = False) -> tuple[tuple[int, int], ...]:
    """Spans of the clause breaks of ``text``, in order (see the module docstring for what breaks)."""
    found: list[tuple[int, int, str]] = []
    for hit in _PUNCT.finditer(text):
        if hit.group(0) == "." and _abbreviation(text, hit.start()):
            continue
        found.append((hit.start(), hit.end(), hit.group(0)))
    for hit in _WORD_BREAK.finditer(text):
        word = hit.group(0).lower()
        if word in COORDINATORS and not coordination:
            continue
        found.append((hit.start(), hit.end(), word))
    found.sort()
    return tuple((start, end) for start, end, _ in _drop_parentheticals(text, found))


def _abbreviation(text: str, dot: int) -> bool:
    """The period at ``dot`` closes an abbreviation or an initial ("U.S.", "Aug.", "Elon R. Musk")."""
    start = dot
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    return len(word) == 1 or word in _ABBREVIATIONS or "." in word


def _drop_parentheticals(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Remove pairs of comma breaks that enclose a short aside with no other break inside."""
    keep = [True] * len(found)
    for index in range(len(found) - 1):
        (_, e1, k1), (s2, _, k2) = found[index], found[index + 1]
        if k1.startswith(",") and k2.startswith(",") and keep[index]:
            inner = text[e1:s2].split()
            if 0 < len(inner) <= PARENTHETICAL_WORDS:
                keep[index] = keep[index + 1] = False
    return [f for f, kept in zip(found, keep, strict=True) if kept]


def clause_start(text: str, pos: int, coordination: bool = False) -> int:
    """Where the clause holding position ``pos`` begins (just after the last break before it)."""
    start = 0
    for _, b_end in clause_breaks(text, coordination):
        if b_end > pos:
            break
        start = b_end
    return start


def clause_end(text: str, pos: int, coordination: bool = False) -> int:
    """Where the clause holding position ``pos`` ends (at the first break after it)."""
    for b_start, _ in clause_breaks(text, coordination):
        if b_start >= pos:
            return b_start
    return len(text)


def clause_left(text: str, pos: int, coordination: bool = False) -> str:
    """The words of the clause left of ``pos``."""
    return text[clause_start(text, pos, coordination) : pos]


def clause_right(text: str, pos: int, coordination: bool = False) -> str:
    """The words of the clause right of ``pos``."""
    return text[pos : clause_end(text, pos, coordination)]


def opener(text: str, pos: int) -> str | None:
    """The subordinating word that opens the clause holding ``pos`` ("after", "as"...), or None."""
    start = clause_start(text, pos)
    if start == 0:
        return None
    before = text[:start].split()
    word = before[-1].lower() if before else ""
    return word if word in SUBORDINATORS else None


def words(text: str) -> list[str]:
    """The word tokens of ``text`` ("$1.2bn", "25%" and "Putin's" are one token each)."""
    return _WORD.findall(text)
