"""`monitor explain`: the reasons in words for the constructions the judgement corpus found hard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from monitor.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = str(ROOT / "tests" / "data" / "anthropic-feb2026.toml")  # the February phase of the shipped story
FICTIONAL = str(ROOT / "tests" / "data" / "fictional.toml")
ARCHIVE = str(ROOT / "tests" / "data" / "archive")

# (construction, headline): the nine of the judgement issue, in the shipped story's words
CONSTRUCTIONS = [
    ("a step toward an act", "Pentagon takes first step toward blacklisting Anthropic"),
    ("a negation the lexicon lacks", "Anthropic cannot in good conscience accept the Pentagon's terms"),
    ("another party's act", "Rival lab reaches Pentagon agreement hours after the Anthropic ban"),
    ("a participle of a known state", "CEO of blacklisted firm Anthropic heads to the White House"),
    ("a hedge after the cue", "An extension of the Anthropic deadline is likely, Pentagon officials say"),
    ("a noun use", "Anthropic and the Pentagon: the law's built-in 60-day extension explained"),
    ("one extension in many rewrites", "Pentagon extends Anthropic deadline by 45 days"),
    ("a subject-first event", "Anthropic and Pentagon talks collapse"),
    ("a recurring act", "Pentagon extends Anthropic deadline again, to March 20"),
]


def _explain(*args: str, config: str = SHIPPED, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", config, "explain", *args], env=env or {})
    return result.exit_code, result.output


@pytest.mark.parametrize(("construction", "headline"), CONSTRUCTIONS, ids=[c for c, _ in CONSTRUCTIONS])
def test_explain_gives_relevance_signals_and_a_verdict_in_words(construction: str, headline: str) -> None:
    code, out = _explain(headline, "--fresh")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("story anthropic-pentagon:")
    assert lines[1].startswith("relevant: yes, matched")
    assert any(line.startswith("verdict: ") and len(line.split()) >= 4 for line in lines)
    for line in lines:
        if line.startswith("signal "):
            assert "cue" in line or "names the thread" in line  # every signal says why it has its mode


# what a careful editor answers for each construction: (signal that must be read, verdict words, alert words or
# "" for no alert); the deadline readings are taken two days before the shipped Friday deadline
ANSWERS = {
    "a step toward an act": ("designation.designated: threat, cue 'blacklist' hedged by 'toward'",
                             "moves not threatened -> designation threatened", "designation threatened"),
    "a negation the lexicon lacks": ("ultimatum.accepted: negated, cue 'accepts' negated by 'cannot'",
                                     "no move: every state cue is negated", ""),
    "another party's act": ("negotiations: mention, cue 'reach agreement' is another actor's act (rival lab)",
                            "no thread move", ""),
    "a participle of a known state": ("designation: mention, cue 'blacklist' is a mention (participle before a noun)",
                                      "no thread move", ""),
    "a hedge after the cue": ("ultimatum: mention", "deadline friday-ultimatum: no deadline change read", ""),
    "a noun use": ("signals: none", "deadline friday-ultimatum: no deadline change read", ""),
    "one extension in many rewrites": ("ultimatum.extended: act", "Deadline moved to Mon 2026-04-13 18:01 EDT",
                                       "[warning] Deadline moved to Mon 2026-04-13 18:01 EDT"),
    "a subject-first event": ("negotiations.collapsed: act, cue 'talks collapse'",
                              "moves talks ongoing -> talks collapsed",
                              "[warning] Negotiations: talks collapsed (was: talks ongoing) (unconfirmed, one outlet)"),
    "a recurring act": ("ultimatum.extended: act", "Deadline moved to Fri 2026-03-20 17:01 EDT",
                        "[warning] Deadline moved to Fri 2026-03-20 17:01 EDT"),
}


@pytest.mark.parametrize(("construction", "headline"), CONSTRUCTIONS, ids=[c for c, _ in CONSTRUCTIONS])
def test_explain_answers_each_hard_construction_as_an_editor_would(construction: str, headline: str) -> None:
    signal, verdict, alert = ANSWERS[construction]
    with freeze_time("2026-02-25T15:00:00Z"):
        code, out = _explain(headline, "--fresh")
    assert code == 0, out
    lines = out.splitlines()
    assert any(line.startswith(("signal " + signal, signal)) for line in lines), out
    assert any(line.startswith("verdict: ") and verdict in line for line in lines), out
    alerts = [line for line in lines if line.startswith("would alert: ")]
    if alert:
        assert any(alert in line for line in alerts), out
    else:
        assert alerts == [], out


def test_explain_json_names_the_hedge_that_made_a_cue_a_threat() -> None:
    code, out = _explain("Pentagon could designate Anthropic a supply chain risk", "--fresh", "--json")
    assert code == 0, out
    found = json.loads(out)
    hedged = [s for s in found["signals"] if s["mode"] == "threat"]
    assert hedged and "could" in hedged[0]["reason"]
    assert found["relevance"]["relevant"] is True


def test_explain_says_why_an_off_topic_item_is_not_relevant() -> None:
    code, out = _explain("Local bakery wins award", "--fresh")
    assert code == 0
    assert "relevant: no" in out and "verdict: no move: not relevant to the story" in out


def test_explain_needs_exactly_one_thing_to_explain() -> None:
    code, out = _explain()
    assert code == 2 and "exactly one of TITLE" in out


def test_explain_of_an_unknown_story_names_the_configured_ones() -> None:
    code, out = _explain("Anything", "--story", "nosuch", "--fresh")
    assert code == 2 and "anthropic-pentagon" in out  # a usage error, as every unknown id


def test_a_replayed_development_shows_the_evidence_it_was_decided_on_and_its_items_explain(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'replay.db'}"
    runner = CliRunner()
    replayed = runner.invoke(main, ["--config", FICTIONAL, "replay", ARCHIVE, "--db", db, "--json"])
    assert replayed.exit_code == 0, replayed.output
    moves = [json.loads(line) for line in replayed.output.splitlines() if '"thread.changed"' in line]
    assert moves
    key = moves[0]["key"]
    env = {"MONITOR_DATABASE_URL": db}
    code, out = _explain("--development", key, config=FICTIONAL, env=env)
    assert code == 0, out
    assert out.startswith(f"development {key}:")
    evidence_lines = [line for line in out.splitlines() if line.strip().startswith(("moved on item", "joined on item"))]
    assert evidence_lines
    item_key = evidence_lines[0].split("on item ")[1].split(":")[0] + ":" + \
        evidence_lines[0].split("on item ")[1].split(":")[1]
    code, out = _explain("--item", item_key, config=FICTIONAL, env=env)
    assert code == 0, out
    assert "verdict:" in out and "relevant: yes" in out
    code, out = _explain("--development", "no-such-key", config=FICTIONAL, env=env)
    assert code == 2 and "monitor history" in out  # an unknown id is a usage error
