"""Deadline changes read from the news: one event per change, either way, spans from publication, noun phrases,
dates, hedges on both sides of the cue, relevance. The clock is injected; nothing here does I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config.schema import StoryConfig
from monitor.domain import Confidence, Development, DevelopmentKind, Item, SourceKind
from monitor.story.deadlines import (
    DeadlineState,
    evaluate,
    initial_deadline_state,
    read_extensions,
)
from monitor.story.extensions import MID_MONTH_DAY, RIGHT_WORDS
from monitor.story.relevance import RelevanceMatcher
from tests.story.test_deadlines import DUE, FRI_10, NY, H, item, make_story

LONG_DUE = "2026-04-30T17:01:00"  # Thu 2026-04-30 17:01 EDT = 21:01Z
MON_10 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Mon 10:00 EST


def local(text: str) -> datetime:
    """A New York wall-clock time as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=NY).astimezone(UTC)


def feed(story: StoryConfig, reports: Iterable[Item], state: DeadlineState | None = None,
         ) -> tuple[DeadlineState, list[Development]]:
    """Read each report as it arrives (``now`` = its publication); every development emitted, in order."""
    deadline = story.deadlines[0]
    state = state or initial_deadline_state(story, deadline)
    out: list[Development] = []
    for report in reports:
        state, devs = read_extensions(story, deadline, state, [report], report.published)
        out += devs
    return state, out


def russia() -> StoryConfig:
    """The shape of the 2025 ultimatum: 50 days from 14 July, due 2 September 23:59 Eastern."""
    return make_story(due="2025-09-02T23:59:00", relevance=("Russia", "Putin", "Moscow"), reminders=("24h", "1h"))


def sweep(story: StoryConfig, state: DeadlineState, start: datetime, end: datetime,
          every: timedelta = timedelta(minutes=5)) -> list[Development]:
    out: list[Development] = []
    now = start
    while now <= end:
        state, devs = evaluate(story, story.deadlines[0], state, thread_states={}, recent=(), now=now)
        out += devs
        now += every
    return out


# --------------------------------------------------------------------------------- one event per change
def test_another_48_hours_rewritten_by_several_outlets_is_one_extension_that_never_stacks() -> None:
    story = make_story()
    reports = [
        item("Pentagon gives Anthropic another 48 hours", FRI_10, outlet="a.com"),
        item("Pentagon extends Anthropic deadline by another 48 hours", FRI_10 + H, outlet="b.org"),
        item("Hegseth grants Anthropic 48 more hours", FRI_10 + 3 * H, outlet="c.net"),
        item("Anthropic gets another 48 hours as Pentagon gives more time", FRI_10 + 4 * H, outlet="a.com"),
    ]
    state, devs = feed(story, reports)
    assert state.due_at == DUE + 48 * H
    assert [(d.key, d.confidence) for d in devs] == [("s:d:changed:2026-03-01T22:01:00Z", Confidence.REPORTED),
                                                    ("s:d:changed:2026-03-01T22:01:00Z", Confidence.CONFIRMED)]
    assert len(state.changes) == 1 and state.changes[0].confidence is Confidence.CONFIRMED


def test_rewrites_read_in_one_batch_are_one_extension_too() -> None:
    story = make_story()
    reports = [item("Pentagon gives Anthropic another 48 hours", FRI_10, outlet="a.com"),
               item("Pentagon extends Anthropic deadline by another 48 hours", FRI_10 + H, outlet="b.org"),
               item("Hegseth grants Anthropic 48 more hours", FRI_10 + 2 * H, outlet="c.net")]
    state, devs = read_extensions(story, story.deadlines[0], initial_deadline_state(story, story.deadlines[0]),
                                  reports, FRI_10 + 2 * H)
    assert state.due_at == DUE + 48 * H and len(state.changes) == 1
    assert [d.confidence for d in devs] == [Confidence.CONFIRMED]  # one key, its latest version


def test_a_relative_amount_applies_to_the_deadline_in_force_when_the_change_was_first_reported() -> None:
    # "to Monday" moved Friday 17:01 to Monday 17:01; "72 more hours" from Friday is the same Monday, not Thursday
    story = make_story()
    state, devs = feed(story, [item("Pentagon extends the deadline to Monday", FRI_10, outlet="a.com"),
                               item("Pentagon gives Anthropic 72 more hours", FRI_10 + 2 * H, outlet="b.org")])
    assert state.due_at == local("2026-03-02T17:01")
    assert [d.confidence for d in devs] == [Confidence.REPORTED, Confidence.CONFIRMED]
    assert devs[0].key == devs[1].key


def test_a_reported_new_time_equal_to_the_current_due_corroborates_instead_of_alerting_again() -> None:
    story = make_story()
    state, devs = feed(story, [item("Pentagon extends the deadline to Monday", FRI_10, outlet="a.com"),
                               item("Hegseth gives Anthropic until Monday", FRI_10 + H, outlet="b.org"),
                               item("Deadline extended to Monday, Pentagon says", FRI_10 + 2 * H, outlet="c.net")])
    assert [(d.kind, d.confidence) for d in devs] == [(DevelopmentKind.DEADLINE_CHANGED, Confidence.REPORTED),
                                                     (DevelopmentKind.DEADLINE_CHANGED, Confidence.CONFIRMED)]
    assert len(state.changes) == 1 and state.due_at == local("2026-03-02T17:01")


def test_the_same_amount_reported_after_the_corroboration_window_is_a_new_extension() -> None:
    story = make_story()  # corroboration_window 24 h
    later = FRI_10 + story.corroboration_window + H
    state, devs = feed(story, [item("Pentagon gives Anthropic another 48 hours", FRI_10, outlet="a.com"),
                               item("Pentagon gives Anthropic another 48 hours", later, outlet="b.org",
                                    item_id="second")])
    assert state.due_at == DUE + 96 * H
    assert len({d.key for d in devs}) == 2


def test_a_rewrite_of_a_change_since_superseded_does_not_move_the_deadline_back() -> None:
    story = make_story()
    state, devs = feed(story, [
        item("Pentagon extends the deadline to Monday", FRI_10, outlet="a.com"),
        item("Pentagon extends the deadline to Tuesday", FRI_10 + H, outlet="wire.com", kind=SourceKind.WIRE),
        item("Deadline pushed to Monday, Anthropic says", FRI_10 + 2 * H, outlet="c.net"),
    ])
    assert state.due_at == local("2026-03-03T17:01")
    assert [c.new_due for c in state.changes] == [local("2026-03-02T17:01"), local("2026-03-03T17:01")]
    assert len(devs) == 2


# ------------------------------------------------------------------------------------- moved earlier
@pytest.mark.parametrize(
    ("headline", "new_due_local"),
    [
        ("Pentagon cuts the 60-day Anthropic deadline to two weeks", "2026-03-16T23:59"),
        ("Hegseth shortens Anthropic's deadline to 10-12 days", "2026-03-13T23:59"),
        ("Pentagon moves the Anthropic deadline up to the 15th", "2026-03-15T17:01"),
        ("Pentagon moves up the deadline to Thursday", "2026-03-05T17:01"),
        ("Anthropic deadline brought forward to March 20", "2026-03-20T17:01"),
        ("Pentagon cuts Anthropic deadline by two weeks", "2026-04-16T17:01"),
        ("Pentagon sets a new deadline for Anthropic: Friday, March 6", "2026-03-06T17:01"),
    ],
)
def test_a_deadline_moved_earlier_says_so_and_takes_the_earlier_time(headline: str, new_due_local: str) -> None:
    story = make_story(due=LONG_DUE)
    state, (dev,) = feed(story, [item(headline, MON_10)])
    assert state.due_at == local(new_due_local)
    assert dev.title.startswith("Deadline moved earlier to ") and "extended" not in dev.title
    assert "was moved earlier from Thu 2026-04-30 17:01 EDT" in dev.summary
    assert dev.details["direction"] == "earlier" and dev.details["old_due"] == "2026-04-30T21:01:00Z"


def test_a_later_move_keeps_its_wording() -> None:
    story = make_story()
    _, (dev,) = feed(story, [item("Pentagon extends the deadline to Monday", FRI_10)])
    assert dev.title.startswith("Deadline moved to Mon 2026-03-02 17:01") and dev.details["direction"] == "later"


@pytest.mark.parametrize(
    "headline",
    [
        "Pentagon extends the Anthropic deadline to March 20",  # "extends" to an earlier time: misread, not a move
        "Pentagon cuts the Anthropic deadline to June 5",  # "cuts" to a later time
        "Anthropic deadline moved up to May 8",
    ],
)
def test_a_time_against_the_direction_of_its_cue_changes_nothing(headline: str) -> None:
    story = make_story(due=LONG_DUE)
    state = initial_deadline_state(story, story.deadlines[0])
    assert read_extensions(story, story.deadlines[0], state, [item(headline, MON_10)], MON_10) == (state, ())


def test_an_earlier_deadline_gets_its_reminders_and_passes_at_the_new_time() -> None:
    story = make_story(due=LONG_DUE)
    state, _ = feed(story, [item("Hegseth shortens Anthropic's deadline to 10-12 days", MON_10)])
    new = local("2026-03-13T23:59")
    fired = sweep(story, state, MON_10, new + H)
    assert [(d.kind, d.at) for d in fired] == [
        (DevelopmentKind.DEADLINE_REMINDER, new - 24 * H),
        (DevelopmentKind.DEADLINE_REMINDER, new - 3 * H),
        (DevelopmentKind.DEADLINE_REMINDER, new - H),
        (DevelopmentKind.DEADLINE_PASSED, new),
    ]


def test_a_passed_deadline_is_never_moved_earlier() -> None:
    story = make_story()
    state = replace(initial_deadline_state(story, story.deadlines[0]), passed_at=DUE)
    late = item("Pentagon moves the Anthropic deadline up to 3 p.m.", FRI_10)  # published before due, read after
    assert read_extensions(story, story.deadlines[0], state, [late], DUE + H) == (state, ())


# --------------------------------------------------------------------- spans from publication, noun phrases
def test_an_ultimatum_of_10_to_12_days_runs_from_its_report_to_the_middle_of_the_range_at_end_of_day() -> None:
    story = russia()
    monday = datetime(2025, 7, 28, 13, 40, tzinfo=UTC)
    state, devs = feed(story, [
        item("Trump sets Putin a new deadline: 10 to 12 days", monday, outlet="ledger.com"),
        item("Trump shortens Putin's cease-fire deadline to 10-12 days", monday + 90 * timedelta(minutes=1),
             outlet="wire.com", kind=SourceKind.WIRE),
        item("Trump gives Russia until Aug. 8: '10 days from today'", datetime(2025, 7, 30, 2, 30, tzinfo=UTC),
             outlet="wire.com"),
    ])
    due = local("2025-08-08T23:59")  # 28 July + 11 days (the middle of 10 to 12), 23:59 Eastern
    assert state.due_at == due == datetime(2025, 8, 9, 3, 59, tzinfo=UTC)
    assert [(d.confidence, d.details["direction"]) for d in devs] == [(Confidence.REPORTED, "earlier"),
                                                                     (Confidence.CONFIRMED, "earlier")]
    passed = [d for d in sweep(story, state, due - H, due + H) if d.kind is DevelopmentKind.DEADLINE_PASSED]
    assert [d.at for d in passed] == [due]


@pytest.mark.parametrize(
    ("headline", "published", "new_due"),
    [
        ("Trump gives Russia 10 days to agree a ceasefire", datetime(2025, 7, 29, 14, 0, tzinfo=UTC),
         local("2025-08-08T23:59")),
        ("Trump gives Putin 48 hours", datetime(2025, 7, 29, 14, 0, tzinfo=UTC),
         datetime(2025, 7, 31, 14, 0, tzinfo=UTC)),
        ("Trump: Moscow has a new deadline of two weeks", datetime(2025, 7, 29, 14, 0, tzinfo=UTC),
         local("2025-08-12T23:59")),
    ],
)
def test_a_span_given_in_days_or_hours_counts_from_the_reports_publication(headline: str, published: datetime,
                                                                           new_due: datetime) -> None:
    story = russia()
    state, (_,) = feed(story, [item(headline, published)])
    assert state.due_at == new_due


@pytest.mark.parametrize(
    "headline",
    [
        "Trump's 50-day deadline for Russia to agree a ceasefire",
        "Trump's 50-day deadline to Russia expires in September",
        "The 50-day deadline for Putin was extended",
        "Putin shrugs off the 60-day window",
        "Trump gives Russia a 50-day deadline to agree a ceasefire",
        "Trump gave Russia 50 days last week; Moscow answers with drones",
        "Putin and the law's built-in 60-day extension, explained",
    ],
)
def test_a_noun_phrase_naming_the_span_is_not_a_change(headline: str) -> None:
    story = russia()
    state = initial_deadline_state(story, story.deadlines[0])
    published = datetime(2025, 7, 28, 12, 0, tzinfo=UTC)
    assert read_extensions(story, story.deadlines[0], state, [item(headline, published)], published) == (state, ())


def test_a_noun_phrase_naming_the_span_leaves_the_passing_alert_in_place() -> None:
    story = russia()
    published = datetime(2025, 7, 28, 12, 0, tzinfo=UTC)
    state, devs = feed(story, [item("Trump's 50-day deadline for Russia to agree a ceasefire", published)])
    due = datetime(2025, 9, 3, 3, 59, tzinfo=UTC)
    assert devs == [] and state.due_at == due
    assert [d.kind for d in sweep(story, state, due - timedelta(minutes=30), due)] == [
        DevelopmentKind.DEADLINE_REMINDER, DevelopmentKind.DEADLINE_PASSED]


# -------------------------------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("headline", "new_due_local"),
    [
        ("Pentagon's Anthropic deadline extended for a third time, to March 17", "2026-03-17T17:01"),
        ("Pentagon extends Anthropic deadline until mid-April", "2026-04-15T17:01"),
        ("The Anthropic deadline was further extended until May 2", "2026-05-02T17:01"),
        ("Pentagon extends the deadline until the end of March", "2026-03-31T17:01"),
        ("Hegseth gives Anthropic until Aug. 8, 2026", "2026-08-08T17:01"),
        ("Pentagon extends Anthropic deadline to the 6th", "2026-03-06T17:01"),  # the next 6th after 27 February
        ("Pentagon extends Anthropic deadline to March 17, 2026 at 5 p.m.", "2026-03-17T17:00"),
    ],
)
def test_dates_with_commas_month_parts_and_bare_days_are_read(headline: str, new_due_local: str) -> None:
    story = make_story()
    state, (_,) = feed(story, [item(headline, FRI_10)])
    assert state.due_at == local(new_due_local)


def test_a_config_cue_ending_in_its_preposition_reads_the_time_right_after_it() -> None:
    story = make_story(extension_cues=["stayed the litigation until"])
    report = item("Judge stayed the litigation until 5 p.m. on March 6", FRI_10)
    state, _ = feed(story, [replace(report, title="Anthropic v. Pentagon: judge acts",
                                    summary="The judge stayed the litigation until 5 p.m. on March 6.")])
    assert state.due_at == local("2026-03-06T17:00")


# ------------------------------------------------------------------------------------- hedges, negations
@pytest.mark.parametrize(
    "headline",
    [
        "Pentagon could extend the deadline to Monday",
        "An extension of the Anthropic deadline to Monday is likely, officials say",
        "An extension to Monday may be needed, Pentagon says",
        "Pentagon is expected to extend the deadline to Monday",
        "If talks progress the deadline could be pushed to Monday",
        "Pentagon extends the deadline to Monday if talks progress",
        "Anthropic extension to March 6 under consideration",
        "Extension to March 6 sought by Anthropic",
        "Pentagon: an extension to Monday is off the table",
        "Pentagon rules out extending the deadline to Monday",
        "Hegseth to cut Anthropic's deadline to two days",
    ],
)
def test_a_hedged_or_conditional_change_is_a_threat_and_moves_nothing(headline: str) -> None:
    story = make_story()
    state = initial_deadline_state(story, story.deadlines[0])
    assert read_extensions(story, story.deadlines[0], state, [item(headline, FRI_10)], FRI_10) == (state, ())


@pytest.mark.parametrize(
    "headline",
    [
        "Pentagon gives Anthropic until Monday to decide if it will comply",  # "if" asks, it sets no condition
        "Pentagon gives Anthropic until Monday to respond or it will not get another chance",  # the "or" clause
    ],
)
def test_a_qualifier_outside_the_cues_clause_does_not_hedge_it(headline: str) -> None:
    state, _ = feed(make_story(), [item(headline, FRI_10)])
    assert state.due_at == local("2026-03-02T17:01")


def test_a_month_named_may_right_of_the_cue_is_a_date_not_a_hedge() -> None:
    story = make_story()
    state, _ = feed(story, [item("Pentagon extends Anthropic deadline to May 5", FRI_10)])
    assert state.due_at == local("2026-05-05T17:01")


# --------------------------------------------------------------------------------------------- relevance
def test_an_item_not_relevant_to_the_story_cannot_move_its_deadline() -> None:
    story = make_story(relevance=("Anthropic",))
    deadline = story.deadlines[0]
    state = initial_deadline_state(story, deadline)
    unrelated = [item("Congress grants the farm bill a 60-day extension", FRI_10),
                 item("Library deadline extended to Monday", FRI_10 + H)]
    assert read_extensions(story, deadline, state, unrelated, FRI_10 + H) == (state, ())
    assert read_extensions(story, deadline, state, unrelated, FRI_10 + H,
                           relevance=RelevanceMatcher(story)) == (state, ())
    related = item("Pentagon grants Anthropic a 60-day extension", FRI_10 + 2 * H)
    moved, _ = read_extensions(story, deadline, state, [*unrelated, related], FRI_10 + 2 * H)
    assert moved.due_at == DUE + timedelta(days=60)


def test_a_stale_item_cannot_move_the_deadline() -> None:
    story = make_story()
    old = item("Pentagon extends the deadline to Monday", FRI_10)
    state = initial_deadline_state(story, story.deadlines[0])
    now = FRI_10 + story.recent_window + H
    assert read_extensions(story, story.deadlines[0], state, [old], now) == (state, ())


# ------------------------------------------------------------------------------------------ stored state
def test_a_state_stored_before_changes_kept_their_publication_still_loads_and_reads_rewrites() -> None:
    story = make_story()
    state, _ = feed(story, [item("Pentagon extends the deadline to Monday", FRI_10, outlet="a.com")])
    stored = json.loads(json.dumps(state.to_json()))
    for change in stored["changes"]:
        del change["published"]  # the JSON of earlier versions
    old = DeadlineState.from_json(stored)
    assert old.changes[0].published is None and old.changes[0].reported == old.changes[0].at
    again, devs = feed(story, [item("Pentagon gives Anthropic 72 more hours", FRI_10 + H, outlet="b.org")], old)
    assert again.due_at == local("2026-03-02T17:01") and [d.confidence for d in devs] == [Confidence.CONFIRMED]
    assert DeadlineState.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_the_documented_right_window_is_the_one_the_reader_uses() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert f"at most {RIGHT_WORDS} words" in doc
    assert "mid-April\" = April 15" in doc and MID_MONTH_DAY == 15
