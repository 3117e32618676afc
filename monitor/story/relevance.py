"""Relevance: does an item belong to a story? Pure.

A story's ``[stories.relevance]`` lists groups of terms; an item is relevant when every group has at least one
term in its title or summary and no ``exclude`` term appears. Matching is case- and accent-insensitive and on
word boundaries ("DoD" does not match "Dodge"). The decision keeps the terms that matched, for explanation.

:func:`fold` is the shared text normaliser of the story engine: it keeps the text's length, so a span found in
the folded text is the same span in the original (signals report spans into the original headline).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from monitor.config.schema import StoryConfig
from monitor.domain import Item

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_QUOTES = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in _QUOTES:
        return _QUOTES[char]
    if char in _DASHES:
        return " "  # "supply-chain risk" reads as "supply chain risk"
    lowered = char.lower()
    if len(lowered) != 1:
        return char  # keep length: 'İ'.lower() is two characters
    if lowered.isascii():
        return lowered
    base = "".join(c for c in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(c))
    return base if len(base) == 1 else lowered


def fold(text: str) -> str:
    """Lower-case, strip accents, straighten quotes, dashes to spaces; the result has ``len(text)``."""
    if text.isascii():
        return text.lower().replace("-", " ")
    return "".join(_fold_char(c) for c in text)


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any phrase (folded) on word boundaries, longest first; None for no phrases."""
    folded = sorted({" ".join(fold(p).split()) for p in phrases if p.strip()}, key=len, reverse=True)
    if not folded:
        return None
    parts = [r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in folded]
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])")


@dataclass(frozen=True, slots=True)
class RelevanceDecision:
    """Whether an item belongs to the story, the terms that made it (one per group), and an excluding term."""

    relevant: bool
    terms: tuple[str, ...] = ()
    excluded_by: str | None = None
    missing: int = 0  # how many groups had no term (0 when relevant or excluded)


class RelevanceMatcher:
    """Compiled relevance rules of one story. ``match`` accepts an :class:`Item` (title + summary) or text."""

    def __init__(self, story: StoryConfig) -> None:
        self._groups: list[tuple[re.Pattern[str], dict[str, str]]] = []
        for group in story.relevance.require:
            pattern = phrase_pattern(group)
            if pattern is not None:
                self._groups.append((pattern, _originals(group)))
        self._exclude = phrase_pattern(story.relevance.exclude)
        self._exclude_names = _originals(story.relevance.exclude)

    def match(self, item_or_text: Item | str) -> RelevanceDecision:
        text = item_or_text.text if isinstance(item_or_text, Item) else item_or_text
        folded = fold(text)
        if self._exclude is not None:
            hit = self._exclude.search(folded)
            if hit:
                return RelevanceDecision(False, (), self._exclude_names.get(_key(hit.group(0)), hit.group(0)))
        terms: list[str] = []
        missing = 0
        for pattern, names in self._groups:
            hit = pattern.search(folded)
            if hit is None:
                missing += 1
                continue
            terms.append(names.get(_key(hit.group(0)), hit.group(0)))
        return RelevanceDecision(missing == 0, tuple(terms), missing=missing)

    @property
    def groups(self) -> int:
        return len(self._groups)


def _key(phrase: str) -> str:
    return " ".join(fold(phrase).split())


def _originals(phrases: Iterable[str]) -> dict[str, str]:
    """Folded phrase -> the spelling the config used, so explanations quote the config."""
    return {_key(p): p for p in phrases}
