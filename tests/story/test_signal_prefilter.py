"""The cue prefilter of the signal reader never drops a cue that matches: the patterns a line skips are ones that
cannot match it. Checked on every story the project ships or tests with, on lines made of the cues' own words,
their inflections, the threads' objects and noise, joined by the separators a cue's pattern allows and others."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config.load import load_settings
from monitor.story.cues import inflections, required_words
from monitor.story.relevance import fold
from monitor.story.signals import SignalReader

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted([ROOT / "config" / "monitor.toml", *(ROOT / "config" / "examples").glob("*.toml"),
                  *(ROOT / "tests" / "judgement" / "stories").glob("*/config.toml"),
                  *(ROOT / "tests" / "data").glob("*.toml")])  # fmt: skip
ENV = {"MONITOR_EMAIL_URL": "mailto://user:pass@127.0.0.1", "MONITOR_NTFY_URL": "ntfy://127.0.0.1/topic",
       "MONITOR_SLACK_URL": "json://127.0.0.1/hook"}  # the examples' channels: read, never used here
THREADS = [(config.parent.name + "/" + config.stem, reader)
           for config in CONFIGS
           for story in load_settings(config, env=ENV).stories
           for reader in SignalReader(story)._threads]  # fmt: skip
NOISE = ["the", "a", "to", "over", "its", "not", "won't", "u.s.", "$5bn", "10%", "co-op", "über", "Straße", "x"]
SEPARATORS = [" ", "  ", ' "', "' ", ", ", "-", ".", "’", "\u00a0", "\t", ": ", "/"]


def _vocabulary(reader: object) -> list[str]:
    words: list[str] = list(NOISE)
    for cue in reader.cues:  # type: ignore[attr-defined]
        for word in cue.cue.split():
            words.append(word)
            if word.isalpha():
                words.extend(sorted(inflections(fold(word))))
    return words


def _matching(reader: object, folded: str) -> list[str]:
    return [cue.cue for cue in reader.cues if cue.pattern.search(folded)]  # type: ignore[attr-defined]


def _candidates(reader: object, folded: str) -> list[str]:
    return [cue.cue for cue in reader.candidates(folded)]  # type: ignore[attr-defined]


def test_every_shipped_and_tested_story_has_threads_to_check() -> None:
    assert len(CONFIGS) >= 12 and len(THREADS) >= 30


@pytest.mark.parametrize(("name", "reader"), THREADS, ids=[f"{n}:{r.thread_id}" for n, r in THREADS])
def test_a_cue_written_out_or_inflected_is_always_a_candidate(name: str, reader: object) -> None:
    for cue in reader.cues:  # type: ignore[attr-defined]
        variants = [cue.cue, f"Officials say {cue.cue}, again", f'"{cue.cue}"']
        words = cue.cue.split()
        if words[0].isalpha():
            variants += [" ".join([form, *words[1:]]) for form in sorted(inflections(fold(words[0])))]
        for line in variants:
            folded = fold(line)
            assert set(_matching(reader, folded)) <= set(_candidates(reader, folded)), (name, line)


@pytest.mark.parametrize(("name", "reader"), THREADS, ids=[f"{n}:{r.thread_id}" for n, r in THREADS])
@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_no_matching_cue_is_left_out_of_the_candidates(name: str, reader: object, data: st.DataObject) -> None:
    vocabulary = _vocabulary(reader)
    words = data.draw(st.lists(st.sampled_from(vocabulary), min_size=1, max_size=14))
    separators = data.draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words), max_size=len(words)))
    line = "".join(word + sep for word, sep in zip(words, separators, strict=True))
    folded = fold(line)
    matching = _matching(reader, folded)
    assert set(matching) <= set(_candidates(reader, folded)), (name, line, matching)


def test_a_line_without_a_cue_word_runs_no_filed_pattern() -> None:
    """The prefilter does filter: a line with none of a thread's cue words is given none of its filed cues."""
    _, reader = THREADS[0]
    assert _candidates(reader, fold("Weather: sunny spells across the north")) == [
        cue.cue for index, cue in enumerate(reader.cues) if index in reader.filter.unfiled]  # type: ignore[attr-defined]


def test_required_words_skip_articles_and_refuse_words_that_are_not_one_token() -> None:
    assert required_words("declare a supply chain risk") is not None
    assert [sorted(f)[:1] for f in required_words("invoke the DPA") or ()] == [["invoke"], ["dpa"]]
    assert required_words("won't sign") is None
    assert required_words("U.S. sanctions") is None
