"""Relevance: every required group must match on word boundaries, case- and accent-insensitively; exclusions win."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config.schema import StoryConfig
from monitor.domain import Item
from monitor.story.relevance import RelevanceMatcher, fold

STORY = StoryConfig.model_validate(
    {
        "id": "s",
        "title": "Pentagon and Anthropic",
        "relevance": {
            "require": [["Anthropic", "Claude", "Amodei"], ["Pentagon", "DoD", "Défense", "Department of War"]],
            "exclude": ["Claude Monet"],
        },
    }
)


@pytest.mark.parametrize(
    ("text", "relevant", "terms", "excluded_by"),
    [
        ("Pentagon gives Anthropic a deadline", True, ("Anthropic", "Pentagon"), None),
        ("PENTAGON GIVES ANTHROPIC A DEADLINE", True, ("Anthropic", "Pentagon"), None),
        ("Amodei meets DoD officials", True, ("Amodei", "DoD"), None),
        ("Claude and the Department   of War", True, ("Claude", "Department of War"), None),
        ("Anthropic et la defense", True, ("Anthropic", "Défense"), None),  # accents folded both ways
        ("Anthropic et la DÉFENSE", True, ("Anthropic", "Défense"), None),
        ("Anthropic raises money", False, ("Anthropic",), None),  # second group missing
        ("Pentagon budget", False, ("Pentagon",), None),  # every group is read: the first is missing
        ("Anthropics and Pentagons", False, (), None),  # whole words only
        ("Anthropic drives a Dodge to the Pentagon", True, ("Anthropic", "Pentagon"), None),
        ("Anthropic drives a Dodge", False, ("Anthropic",), None),  # DoD is not Dodge
        ("Claude Monet painting hangs in the Pentagon", False, (), "Claude Monet"),
        ("claude monet and Anthropic at the Pentagon", False, (), "Claude Monet"),  # exclusion wins
    ],
)
def test_relevance_decision_lists_the_terms_that_made_it(
    text: str, relevant: bool, terms: tuple[str, ...], excluded_by: str | None
) -> None:
    decision = RelevanceMatcher(STORY).match(text)
    assert (decision.relevant, decision.terms, decision.excluded_by) == (relevant, terms, excluded_by)


def test_an_item_matches_on_title_and_summary_together() -> None:
    now = datetime(2026, 2, 25, tzinfo=UTC)
    item = Item("f", "1", "Anthropic answers", "The Pentagon had asked", "https://x.test/1", "X", now, now)
    assert RelevanceMatcher(STORY).match(item).relevant
    assert not RelevanceMatcher(STORY).match(item.title).relevant


@pytest.mark.parametrize("text", ["Défense – supply‑chain “risk” İstanbul straße", "plain ascii - text", ""])
def test_fold_keeps_the_length_so_spans_map_back(text: str) -> None:
    assert len(fold(text)) == len(text)


def test_fold_lowercases_strips_accents_and_turns_dashes_into_spaces() -> None:
    assert fold("Défense supply-chain Risk’s") == "defense supply chain risk's"
