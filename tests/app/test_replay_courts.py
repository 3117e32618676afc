"""Replay of the court-phase archive (tests/data/archive-courts, scenario in its README.md) through the shipped
config (config/monitor.toml), against an editor's expectations written before the replay was first run.

The archive is invented and set in December 2026, after the day the config's initial states describe (2026-12-02):
the full D.C. Circuit denies rehearing, the department reaffirms the designation, Anthropic petitions the Supreme
Court, the department finishes moving its classified work off Claude; around it, hedges, denials, a recap, a
question, another company's lawsuit, an agreement with another department and Anthropic's copyright case.

Where the engine disagrees with the editor, the expectation stands and the case is marked
``xfail(strict=True)`` with the item, what the editor expected and what the engine did, so the gap stays visible
(and the mark must go when the engine is fixed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.clirunner import ROOT, json_lines, monitor

ARCHIVE = ROOT / "tests" / "data" / "archive-courts"
CONFIG = "config/monitor.toml"


@pytest.fixture(scope="module")
def developments(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    db: Path = tmp_path_factory.mktemp("courts") / "replayed.db"
    done = monitor("--config", CONFIG, "replay", str(ARCHIVE), "--db", f"sqlite:///{db}", "--json")
    assert done.exit_code == 0, done.stderr
    return json_lines(done.stdout)


# ------------------------------------------------------------------------------- what should alert (editor)
# name: (kind, thread, from, to, confidence, severity, at = publication time of the first report of it)
# Severity follows docs/configuration.md ("Levels and severity"): up to level 3 critical, sideways or down notice,
# a new development warning.
EXPECTED: dict[str, tuple[str, str | None, str | None, str | None, str, str, str]] = {
    # Mon 12-07: the full D.C. Circuit denies Anthropic's petition for rehearing en banc. First reported by the wire
    # (E2, 16:05Z, "won't rehear"); the docket entry (E1, primary, dated midnight Pacific) and two outlets follow.
    "rehearing-denied": ("thread.changed", "litigation", "split-rulings", "appeal-decided", "confirmed", "critical",
                         "2026-12-07T16:05:00Z"),
    # Mon 12-07: the department's release reaffirms its determination (E5, primary); GovCon Ledger rewrites it.
    "designation-reaffirmed": ("thread.changed", "designation", "split", "reaffirmed", "confirmed", "notice",
                               "2026-12-07T20:30:00Z"),
    # Wed 12-09: Anthropic petitions the Supreme Court. First reported by the wire (F1, 15:00Z: "asks Supreme Court
    # to overturn ..."), then two outlets ("files Supreme Court petition", "petitions Supreme Court").
    "cert-petition-filed": ("thread.changed", "litigation", "appeal-decided", "appealed", "confirmed", "notice",
                            "2026-12-09T15:00:00Z"),
    # Thu 12-10: three outlets report the department's migration off Claude finished: news no thread tracks; the
    # third independent outlet (G3, 17:00Z) makes it a development.
    "migration-complete": ("story.new_development", None, None, None, "confirmed", "warning", "2026-12-10T17:00:00Z"),
}

# Items that must move nothing and join nothing (no development cites them), with why.
MUST_NOT_ALERT: dict[str, tuple[str, str]] = {
    "N1": ("Will the Supreme Court take up Anthropic's fight with the Pentagon?", "a question"),
    "N2": ("Ten months after Hegseth blacklisted Anthropic, contractors still ask what the label covers",
           "a recap of February in the past tense"),
    "N3": ("Anthropic could ask Supreme Court to review Pentagon blacklisting, lawyers say", "a hedge"),
    "N4": ("Trump says he could still use Defense Production Act on Anthropic",
           "a hedge of a threat the DPA thread already holds"),
    "NC": ("Ninth Circuit revives part of authors' copyright case against Anthropic",
           "Anthropic's copyright case, another story (relevance exclude)"),
    "H1": ("Anthropic plans to take its Pentagon fight to the Supreme Court", "a plan, not a filing"),
    "H2": ("What the en banc denial means for Anthropic's Supreme Court odds", "an explainer: noun forms"),
    "X1": ("Vireo Labs sues Pentagon over canceled contract, citing Anthropic ruling", "another company's lawsuit"),
    "X2": ("Anthropic and Commerce Department reach agreement on Mythos testing as Pentagon ban stands",
           "an agreement with another department, not the Pentagon deal"),
    "X3": ("White House says it has no plans to lift Anthropic ban", "a denial"),
    "X4": ("Judge's ruling lets civilian agencies keep using Claude, but the Pentagon holds out",
           "the effect of an old ruling, no new act"),
    "X5": ("Entry #41 in Anthropic PBC v. United States Department of War, et al. (26-2011)",
           "a docket entry keeping the appeal in abeyance: no new event"),
    "F4": ("Anthropic's cert petition against the Department of War, explained", "an explainer: noun forms"),
}

# Kinds that must not appear at all: the February deadline passed (unresolved, or resolved by Anthropic's refusal
# of 2026-02-26) nine months before this archive; a desk installing the monitor in December must not be told it
# "passed", reminded of it or told it was resolved.
FORBIDDEN_KINDS = ("deadline.reminder", "deadline.passed", "deadline.resolved", "deadline.changed")

# How the comparison went. The first replay (config as first written) differed from the editor in five places; the
# items and the expectations above were not changed, the config was corrected where the docs showed it wrong:
#   - rehearing-denied came at 08:00Z from the docket entry (CourtListener dates entries at midnight Pacific): the
#     wire's "won't rehear" and Capitol Docket Daily's "denies Anthropic bid for full-court rehearing" matched no cue
#     (the config had no cue for the refusal wording, and the second exceeds the 4-word gap). Fixed in the config with
#     cues "won't rehear", "declines to rehear", "denies bid for full-court rehearing" (docs: hedges and negations are
#     read left of a cue and between its words, not as its first word).
#   - designation-reaffirmed came from GovCon Ledger (reported), while the department's own release became a
#     story.new_development: "The Department reaffirms ..." read as an unknown actor ("The Department"). Fixed by naming
#     "the Department" among the department's party names (docs: list the names that speak or act for a party).
#   - X2 (agreement with the Commerce Department) moved negotiations collapsed -> deal: the deal state's objects
#     included "agreement". Fixed with objects naming the Pentagon side (docs, worked example step 3).
#   - cert-petition-filed came at 15:40Z as warning: the wire's "asks Supreme Court to overturn" matched no cue
#     ("asks" is a built-in hedge, so the config had none). Fixed with cues "asks Supreme Court to overturn" etc.
# The one disagreement left is below, as a strict xfail: name -> what the editor expected and what the engine did.
XFAIL_EXPECTED: dict[str, str] = {}
XFAIL_SEVERITY_AT: dict[str, str] = {}
XFAIL_MUST_NOT: dict[str, str] = {
    "X5": "engine cites the Ninth Circuit's routine order 'Entry #41 in Anthropic PBC v. United States Department of "
          "War, et al. (26-2011)' ('This appeal remains held in abeyance ...', published 12-08) as a source of the "
          "D.C. Circuit rehearing development of 12-07; it reads as a mention of the litigation thread ('appeal') and "
          "joins the open development. Editor: a different court's order with no new event, a day later, cites "
          "nothing.",
}
XFAIL_KINDS: dict[str, str] = {}


def _cases(names: list[str], reasons: dict[str, str]) -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=reasons[n])) if n in reasons else n
            for n in names]


def _matching(developments: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    kind, thread, from_, to, *_ = EXPECTED[name]
    return [d for d in developments if (d["kind"], d["thread"], d["from"], d["to"]) == (kind, thread, from_, to)]


@pytest.mark.parametrize("name", _cases(list(EXPECTED), XFAIL_EXPECTED))
def test_expected_development_happens_once_with_its_confidence(developments: list[dict[str, Any]], name: str) -> None:
    confidence = EXPECTED[name][4]
    found = _matching(developments, name)
    assert [d["confidence"] for d in found] == [confidence], found


@pytest.mark.parametrize("name", _cases(list(EXPECTED), XFAIL_SEVERITY_AT))
def test_expected_development_has_its_severity_and_first_report_time(developments: list[dict[str, Any]],
                                                                     name: str) -> None:
    *_, severity, at = EXPECTED[name]
    found = _matching(developments, name)
    assert [(d["severity"], d["at"]) for d in found] == [(severity, at)], found


@pytest.mark.parametrize("key", _cases(list(MUST_NOT_ALERT), XFAIL_MUST_NOT))
def test_noise_item_moves_nothing(developments: list[dict[str, Any]], key: str) -> None:
    title, _why = MUST_NOT_ALERT[key]
    citing = [d for d in developments if any(title in s["title"] for s in d["sources"])]
    assert citing == [], f"{key} ({MUST_NOT_ALERT[key][1]}) is cited by {citing}"


@pytest.mark.parametrize("kind", _cases(list(FORBIDDEN_KINDS), XFAIL_KINDS))
def test_no_deadline_alert_for_a_deadline_that_passed_before_the_archive(developments: list[dict[str, Any]],
                                                                         kind: str) -> None:
    assert [d for d in developments if d["kind"] == kind] == []


def test_nothing_else_alerts(developments: list[dict[str, Any]]) -> None:
    expected = {EXPECTED[n][:4] for n in EXPECTED}
    other = [d for d in developments if (d["kind"], d["thread"], d["from"], d["to"]) not in expected
             and d["kind"] not in FORBIDDEN_KINDS]
    assert other == []


def test_replay_is_deterministic(developments: list[dict[str, Any]], tmp_path: Path) -> None:
    again = monitor("--config", CONFIG, "replay", str(ARCHIVE), "--db", f"sqlite:///{tmp_path / 'again.db'}", "--json")
    assert again.exit_code == 0, again.stderr
    assert json_lines(again.stdout) == developments
