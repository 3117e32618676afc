"""Thread signals: the headline tables (shipped story) and the reading rules one by one (a small story)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.load import load_settings
from monitor.config.schema import StoryConfig
from monitor.domain import SignalMode
from monitor.story.relevance import RelevanceMatcher
from monitor.story.signals import Signal, SignalReader, inflections, read_headline

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_settings(ROOT / "tests" / "data" / "anthropic-feb2026.toml").stories[0]  # the February phase
RELEVANCE = RelevanceMatcher(SHIPPED)


def _table(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            headline, expected = line.split("\t")
            rows.append((headline, " ".join(sorted(expected.split()))))
    return rows


def _reading(headline: str) -> str:
    """What the pipeline reads: nothing for an irrelevant headline, else every signal as thread:state:mode."""
    if not RELEVANCE.match(headline).relevant:
        return "-"
    return " ".join(sorted(":".join(signal) for signal in read_headline(SHIPPED, headline))) or "-"


TABLE = _table("headlines.tsv")
HELDOUT = _table("headlines_heldout.tsv")


def test_the_headline_table_is_big_enough() -> None:
    assert len(TABLE) >= 150
    assert len(HELDOUT) >= 40


@pytest.mark.parametrize(("headline", "expected"), TABLE, ids=[h[:60] for h, _ in TABLE])
def test_headline_reads_as_expected(headline: str, expected: str) -> None:
    assert _reading(headline) == expected


def test_heldout_headlines_score_at_least_80_percent() -> None:
    misses = [(h, e, _reading(h)) for h, e in HELDOUT if _reading(h) != e]
    score = 1 - len(misses) / len(HELDOUT)
    print(f"\nheld-out headline score: {len(HELDOUT) - len(misses)}/{len(HELDOUT)} = {score:.1%}")
    for headline, expected, got in misses:
        print(f"  miss: {headline!r}: expected {expected}, got {got}")
    assert score >= 0.80


# ---------------------------------------------------------------------------------------- rules in isolation
SMALL = StoryConfig.model_validate(
    {
        "id": "acme",
        "title": "Ministry against Acme",
        "relevance": {"require": [["Acme"]]},
        "signals": {"hedges": ["eyes"], "negations": ["shelves"]},
        "threads": {
            "ban": {
                "objects": ["Acme", "the company"],
                "mentions": ["ban"],
                "states": [
                    {"id": "none", "level": 0, "kind": "initial"},
                    {"id": "threatened", "level": 1, "kind": "threat", "cues": ["threatens to ban"]},
                    {"id": "banned", "level": 3, "kind": "act", "cues": ["ban", "declare an import risk"]},
                ],
                "transitions": {"none": ["threatened", "banned"], "threatened": ["banned"]},
            }
        },
    }
)
READER = SignalReader(SMALL)


def _one(text: str) -> Signal:
    signals = READER.read(text)
    assert len(signals) == 1, signals
    return signals[0]


@pytest.mark.parametrize(
    ("text", "mode", "qualifier"),
    [
        ("Ministry bans Acme", SignalMode.ACT, None),
        ("Ministry banned Acme", SignalMode.ACT, None),
        ("Ministry banning Acme", SignalMode.ACT, None),
        ("Ministry could ban Acme", SignalMode.THREAT, "could"),
        ("Ministry eyes banning Acme", SignalMode.THREAT, "eyes"),  # a story's extra hedge
        ("Ministry shelves banning Acme", SignalMode.NEGATED, "shelves"),  # a story's extra negation
        ("Ministry won't ban Acme", SignalMode.NEGATED, "n't"),
        ("Will the ministry ban Acme?", SignalMode.THREAT, "Will"),  # quoted as written
        ("Does the ministry ban Acme?", SignalMode.THREAT, "?"),
        ("Ministry says no; then it bans Acme", SignalMode.ACT, None),  # the negation is in another clause
        ("Ministry threatens to ban Acme", SignalMode.THREAT, None),  # a threat-kind cue is a threat at most
        ("Ministry declares Acme an import risk", SignalMode.ACT, None),  # a word between the cue's words
        ("Ministry declares Acme could be an import risk", SignalMode.THREAT, "could"),  # hedge inside the gap
        ("Court bars ministry from banning Acme", SignalMode.NEGATED, "from"),
        ("Riverton council votes to ban Acme's delivery drones", SignalMode.ACT, None),  # the vote is the act
        ("Ministry decided to ban Acme", SignalMode.ACT, None),
        ("Ministry to ban Acme", SignalMode.THREAT, "to"),  # headline future: announced, not done
        ("Ministry moves to ban Acme", SignalMode.THREAT, "to"),  # a step toward the act, not the act
        ("Council could vote to ban Acme", SignalMode.THREAT, "could"),
    ],
)
def test_mode_and_qualifier(text: str, mode: SignalMode, qualifier: str | None) -> None:
    signal = _one(text)
    assert (signal.mode, signal.qualifier) == (mode, qualifier)


FICTIONAL = load_settings(ROOT / "tests" / "data" / "fictional.toml", env={}).stories[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Port authority could designate Northwind Freight a critical operator or seize its terminals",
            [("designation", "designated", "threat"), ("seizure", "invoked", "threat")],
        ),
        (
            "Port authority may designate Northwind Freight and seize its terminals",
            [("designation", "designated", "threat"), ("seizure", "invoked", "threat")],
        ),
        (
            "Port authority will not designate Northwind Freight or seize its terminals",
            [("designation", "designated", "negated"), ("seizure", "invoked", "negated")],
        ),
        # a finite verb after "and" is a predicate of its own; a new subject starts a new clause
        ("Port authority won't wait and seizes Northwind terminals", [("seizure", "invoked", "act")]),
        ("Northwind may appeal and the port authority seizes its terminals", [("seizure", "invoked", "act")]),
    ],
)
def test_a_qualifier_carries_over_or_and_to_a_verb_of_the_same_clause(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert read_headline(FICTIONAL, text) == expected


def test_signal_keeps_the_cue_and_the_span_it_matched_in_the_original_text() -> None:
    text = "Über-news: Ministry BANNED Acme"
    signal = _one(text)
    assert (signal.thread_id, signal.state_id, signal.cue) == ("ban", "banned", "ban")
    assert text[signal.span[0] : signal.span[1]] == "BANNED"


def test_spans_of_a_summary_line_index_the_whole_text() -> None:
    text = "Acme news\nMinistry bans Acme"
    signal = _one(text)
    assert text[signal.span[0] : signal.span[1]] == "bans"


def test_longer_cue_wins_over_the_cue_it_contains() -> None:
    signal = _one("Ministry threatens to ban Acme")
    assert (signal.state_id, signal.cue) == ("threatened", "threatens to ban")


@pytest.mark.parametrize(
    "text",
    [
        "Ministry bans plastic straws",  # another object of the same verb
        "Ministry bans straws as Acme watches",  # the party is in the next clause
        "Ministry bans straws, Acme says",
    ],
)
def test_a_cue_whose_object_is_something_else_is_no_signal(text: str) -> None:
    assert READER.read(text) == ()


@pytest.mark.parametrize("text", ["Acme banned by the ministry", "Acme is banned", "The company was banned"])
def test_a_passive_with_the_party_as_subject_is_an_act(text: str) -> None:
    signal = _one(text)
    assert (signal.state_id, signal.mode) == ("banned", SignalMode.ACT)


@pytest.mark.parametrize("text", ["Acme fights the ban", "What the ban on Acme means", "Ministry's ban of Acme"])
def test_noun_forms_are_mentions_never_acts(text: str) -> None:
    signal = _one(text)
    assert (signal.state_id, signal.mode) == ("", SignalMode.MENTION)


def test_a_thread_with_a_state_signal_gets_no_mention_from_the_same_text() -> None:
    assert [s.mode for s in READER.read("Ministry bans Acme; the ban starts Monday")] == [SignalMode.ACT]


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("designate", {"designate", "designates", "designated", "designating"}),
        ("rejects", {"reject", "rejects", "rejected", "rejecting"}),
        ("defies", {"defy", "defies", "defied", "defying"}),
        ("drops", {"drop", "drops", "dropped", "dropping"}),
        ("reaches", {"reach", "reaches", "reached", "reaching"}),
        ("strike", {"strike", "strikes", "struck", "striking"}),
        ("label", {"label", "labels", "labeled", "labelled", "labeling", "labelling"}),
    ],
)
def test_inflections_cover_the_usual_verb_forms(word: str, forms: set[str]) -> None:
    assert forms <= inflections(word)


def test_read_headline_gives_thread_state_mode_triples() -> None:
    assert read_headline(SMALL, "Ministry may ban Acme") == [("ban", "banned", "threat")]
    assert read_headline(SMALL, "Acme fights the ban") == [("ban", "-", "mention")]
