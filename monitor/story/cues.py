"""Cue phrases compiled into patterns, and the prefilter that tells which of them a line can match. Pure.

A cue is a phrase of a state ("designates a supply chain risk"). Its pattern adds what a config should not have to
list: inflections of each content word (``inflections``), optional articles, and a short gap between its words
(``GAP_WORDS``). Every word of a cue is read the same way by ``word_forms``: the forms it may take, or None for an
article, which may be left out. The pattern is built from those forms, and so is the prefilter
(``CueFilter``): a line whose words miss a required word's forms cannot match the cue, so its pattern is not run.
``monitor.story.signals`` reads what the patterns match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from monitor.story.relevance import fold

GAP_WORDS = 4
"""How many other words may stand between two words of a cue ("declares [Anthropic] a supply chain risk")."""

_ARTICLES = frozenset({"the", "a", "an"})
_FUNCTION_WORDS = frozenset({"to", "of", "on", "in", "under", "for", "with", "by", "from", "and", "as", "its", "no"})
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
PARTICIPLES = frozenset(p for forms in _IRREGULAR.values() for p in forms)
_TOKEN = r"[$€£]?\w+(?:[.,'’]\w+)*%?"
_SEP = r"""[\s"']+"""
WORD = re.compile(r"\w+")
"""A word of a folded line, as the cue patterns bound them (``\\w``)."""


@lru_cache(maxsize=4096)
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


def word_forms(word: str) -> frozenset[str] | None:
    """The forms a cue word may take in a folded line, or None for an article (which may be left out).

    Proper nouns, acronyms, function words and words with digits or punctuation are matched as written; other
    words with their inflections."""
    folded = fold(word)
    if folded in _ARTICLES:
        return None
    if folded in _FUNCTION_WORDS or not word.islower() or not folded.isalpha():
        return frozenset({folded})
    return inflections(folded)


def _word_pattern(word: str) -> tuple[str, bool]:
    """Regex for one cue word and whether it may be left out (articles)."""
    forms = word_forms(word)
    if forms is None:
        return r"(?:a|an|the)", True
    return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")", False


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


def required_words(cue: str) -> tuple[frozenset[str], ...] | None:
    """For each word a match of ``cue_pattern(cue)`` must contain, the forms it may take, each a whole ``\\w+``
    token of the folded line; None when a required word has a form that is not one token ("u.s.", "won't").

    A necessary condition, so a line whose tokens miss a word's forms cannot match the cue: each word's pattern is
    an alternation of these literal forms, bounded on both sides by a non-word character or the end of the line
    (``(?<!\\w)``, ``_SEP`` and ``(?!\\w)``). Articles are optional and require nothing."""
    required = []
    for word in cue.split():
        forms = word_forms(word)
        if forms is None:
            continue
        if not all(WORD.fullmatch(form) for form in forms):
            return None
        required.append(forms)
    return tuple(required)


class CueFilter:
    """Which of a list of cues a line can match, from the line's words alone (a headline has few of them).

    Each cue is filed under the forms of its first required word and checked against the rest; a cue that cannot
    be filed (no required word, or one that is not a single token) is always a candidate."""

    def __init__(self, cues: Sequence[str]) -> None:
        self.by_form: dict[str, list[int]] = {}
        self.unfiled: list[int] = []
        self.rest: list[tuple[frozenset[str], ...]] = []
        for index, cue in enumerate(cues):
            required = required_words(cue)
            if not required:
                self.unfiled.append(index)
                self.rest.append(())
                continue
            for form in required[0]:
                self.by_form.setdefault(form, []).append(index)
            self.rest.append(required[1:])

    def candidates(self, tokens: set[str]) -> list[int]:
        """The indexes, in order, of the cues a line whose ``\\w+`` tokens are ``tokens`` may match: every cue that
        does match is among them."""
        chosen = set(self.unfiled)
        for token in tokens:
            for index in self.by_form.get(token, ()):
                if all(not forms.isdisjoint(tokens) for forms in self.rest[index]):
                    chosen.add(index)
        return sorted(chosen)
