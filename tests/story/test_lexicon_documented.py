"""docs/configuration.md lists the built-in vocabulary a new user writes cues against: keep it true."""

from __future__ import annotations

from pathlib import Path

from monitor.story import cues, lexicon, signals

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")


def test_every_built_in_hedge_negation_and_adjacent_hedge_is_listed_in_the_configuration_docs() -> None:
    missing = [w for w in (*lexicon.HEDGES, *lexicon.NEGATIONS, *lexicon.ADJACENT_HEDGES) if f"`{w}`" not in DOC]
    assert missing == []


def test_the_documented_windows_are_the_ones_the_reader_uses() -> None:
    assert f"within {signals.OBJECT_WINDOW} words" in DOC
    assert f"up to {cues.GAP_WORDS} other words" in DOC
    assert f"among the {lexicon.WINDOW_WORDS} words left of the cue" in DOC
