"""The deadline clock: reminders, resolution, passing, extensions read from headlines. Time is injected."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config.load import load_settings
from monitor.config.schema import DeadlineConfig, StoryConfig
from monitor.domain import Confidence, Development, DevelopmentKind, Item, Severity, SourceKind
from monitor.story.deadlines import (
    DeadlineState,
    countdown_text,
    evaluate,
    initial_deadline_state,
    next_due_instants,
    read_extensions,
    surge_active,
)

NY = ZoneInfo("America/New_York")
DUE = datetime(2026, 2, 27, 22, 1, tzinfo=UTC)  # Fri 2026-02-27 17:01 EST
H = timedelta(hours=1)
ROOT = Path(__file__).resolve().parents[2]


def make_story(story_id: str = "s", zone: str = "America/New_York", due: str = "2026-02-27T17:01:00",
               reminders: Iterable[str] = ("24h", "3h", "1h"),
               relevance: Iterable[str] = ("Anthropic", "Pentagon", "Hegseth", "deadline"),
               **deadline: Any) -> StoryConfig:
    return StoryConfig.model_validate({
        "id": story_id, "title": f"Story {story_id}", "zone": zone,
        "relevance": {"require": [list(relevance)]},
        "threads": {
            "ultimatum": {"title": "The ultimatum", "transitions": {"issued": ["accepted", "rejected"]},
                          "states": [{"id": "issued", "title": "ultimatum issued", "level": 1, "kind": "initial"},
                                     {"id": "accepted", "title": "terms accepted", "level": 0},
                                     {"id": "rejected", "title": "terms rejected", "level": 2}]},
            "negotiations": {"title": "Negotiations", "transitions": {"ongoing": ["deal"]},
                             "states": [{"id": "ongoing", "title": "talks ongoing", "level": 1, "kind": "initial"},
                                        {"id": "deal", "title": "deal reached", "level": 0}]},
        },
        "deadlines": [{"id": "d", "title": "The deadline", "due": due, "zone": zone, "reminders": list(reminders),
                       "resolved_by": ["ultimatum.accepted", "negotiations.deal"], **deadline}],
    })


def step(story: StoryConfig, state: DeadlineState, now: datetime, thread_states: Mapping[str, str] | None = None,
         recent: Iterable[Development] = ()) -> tuple[DeadlineState, tuple[Development, ...]]:
    return evaluate(story, story.deadlines[0], state, thread_states=thread_states or {}, recent=tuple(recent),
                    now=now)


def sweep(story: StoryConfig, state: DeadlineState, start: datetime, end: datetime,
          every: timedelta = timedelta(minutes=1)) -> tuple[DeadlineState, list[tuple[datetime, Development]]]:
    """Tick the clock like the daemon does; record (tick time, development)."""
    out = []
    now = start
    while now <= end:
        state, devs = step(story, state, now)
        out += [(now, d) for d in devs]
        now += every
    return state, out


def item(title: str, published: datetime, outlet: str = "example.com", kind: SourceKind = SourceKind.ORDINARY,
         item_id: str | None = None) -> Item:
    return Item(feed_id="f", item_id=item_id or f"{outlet}:{title}", title=title, summary="",
                link=f"https://{outlet}/{abs(hash(title))}", outlet=outlet, published=published,
                fetched_at=published, source_kind=kind)


def thread_change(thread: str, to: str, at: datetime, title: str = "change",
                  confidence: Confidence = Confidence.CONFIRMED) -> Development:
    return Development(key=f"s:{thread}:{to}", kind=DevelopmentKind.THREAD_CHANGE, story_id="s", at=at, title=title,
                       severity=Severity.WARNING, thread_id=thread, to_state=to, confidence=confidence)


# ------------------------------------------------------------------------------------------- reminders
def test_shipped_deadline_is_2201_utc_and_its_reminders_are_real_hours_before() -> None:
    settings = load_settings(ROOT / "tests" / "data" / "anthropic-feb2026.toml", env={})  # the February phase
    story = settings.story("anthropic-pentagon")
    state = initial_deadline_state(story, story.deadlines[0])
    assert state.due_at == DUE == datetime(2026, 2, 27, 22, 1, tzinfo=UTC)
    assert next_due_instants(story, story.deadlines[0], state) == [DUE - 24 * H, DUE - 3 * H, DUE - H, DUE]


def test_each_reminder_fires_exactly_once_at_its_utc_instant_then_the_deadline_passes() -> None:
    story = make_story()
    state, fired = sweep(story, initial_deadline_state(story, story.deadlines[0]), DUE - 26 * H, DUE + 2 * H)
    assert [(now, d.at, d.kind, d.title) for now, d in fired] == [
        (DUE - 24 * H, DUE - 24 * H, DevelopmentKind.DEADLINE_REMINDER, "Deadline in 1 d: The deadline"),
        (DUE - 3 * H, DUE - 3 * H, DevelopmentKind.DEADLINE_REMINDER, "Deadline in 3 h: The deadline"),
        (DUE - H, DUE - H, DevelopmentKind.DEADLINE_REMINDER, "Deadline in 1 h: The deadline"),
        (DUE, DUE, DevelopmentKind.DEADLINE_PASSED, "Deadline passed with no resolution: The deadline"),
    ]
    assert len({d.key for _, d in fired}) == 4
    assert fired[0][1].key == "s:d:reminder:86400:2026-02-27T22:01:00Z"
    assert "ultimatum issued" in fired[0][1].summary and "talks ongoing" in fired[0][1].summary
    assert next_due_instants(story, story.deadlines[0], state) == []


def test_reminder_24h_before_a_deadline_across_the_dst_change_is_24_real_hours() -> None:
    # clocks in New York jump from 02:00 EST to 03:00 EDT on 2026-03-08: 24 h before noon EDT is 11:00 EST
    story = make_story(due="2026-03-08T12:00:00", reminders=("24h",))
    state = initial_deadline_state(story, story.deadlines[0])
    assert state.due_at == datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
    fire = datetime(2026, 3, 7, 16, 0, tzinfo=UTC)
    assert step(story, state, fire - timedelta(seconds=1))[1] == ()
    state, (reminder,) = step(story, state, fire)
    assert reminder.at == fire and state.due_at - reminder.at == 24 * H
    assert reminder.at.astimezone(NY).hour == 11
    assert "in 1 d" in reminder.title


@pytest.mark.parametrize(
    ("restart_before_due", "sent_offset", "left"),
    [
        (timedelta(hours=2), 3 * 3600, "in 2 h"),  # 24 h and 3 h missed: only the 3 h one, saying 2 h left
        (timedelta(minutes=30), 3600, "in 30 min"),  # all three missed: only the 1 h one
        (timedelta(hours=20), 86400, "in 20 h"),
    ],
)
def test_restart_in_the_reminder_window_sends_only_the_latest_missed_reminder(
        restart_before_due: timedelta, sent_offset: int, left: str) -> None:
    story = make_story()
    now = DUE - restart_before_due
    state, devs = step(story, initial_deadline_state(story, story.deadlines[0]), now)
    assert [(d.details["offset_seconds"], d.at, d.details["left"]) for d in devs] == [(sent_offset, now, left)]
    assert step(story, state, now + timedelta(minutes=1))[1] == ()  # no burst of the older ones afterwards
    assert all(t > now for t in next_due_instants(story, story.deadlines[0], state))


def test_restart_after_the_due_time_sends_only_the_passing_stamped_when_it_was_sent() -> None:
    story = make_story()
    now = DUE + 2 * H
    _, devs = step(story, initial_deadline_state(story, story.deadlines[0]), now)
    assert [(d.kind, d.at) for d in devs] == [(DevelopmentKind.DEADLINE_PASSED, now)]


def test_a_reminder_handled_within_the_grace_keeps_its_scheduled_instant() -> None:
    story = make_story()
    _, (dev,) = step(story, initial_deadline_state(story, story.deadlines[0]), DUE - H + timedelta(minutes=5))
    assert dev.at == DUE - H and dev.details["left"] == "in 1 h" and dev.details["remaining_s"] == 3600


def test_two_stories_in_different_zones_remind_at_their_own_utc_instants() -> None:
    ny = make_story("ny")
    tokyo = make_story("tokyo", zone="Asia/Tokyo", due="2026-02-28T09:00:00", reminders=("3h",))
    tokyo_due = datetime(2026, 2, 28, 0, 0, tzinfo=UTC)
    fired: list[tuple[str, datetime, DevelopmentKind]] = []
    for story in (ny, tokyo):
        _, devs = sweep(story, initial_deadline_state(story, story.deadlines[0]), DUE - 25 * H, tokyo_due + H)
        fired += [(d.story_id, d.at, d.kind) for _, d in devs]
    assert sorted(fired, key=lambda f: f[1]) == [
        ("ny", DUE - 24 * H, DevelopmentKind.DEADLINE_REMINDER),
        ("ny", DUE - 3 * H, DevelopmentKind.DEADLINE_REMINDER),
        ("tokyo", tokyo_due - 3 * H, DevelopmentKind.DEADLINE_REMINDER),  # 21:00Z, one minute before New York's
        ("ny", DUE - H, DevelopmentKind.DEADLINE_REMINDER),
        ("ny", DUE, DevelopmentKind.DEADLINE_PASSED),
        ("tokyo", tokyo_due, DevelopmentKind.DEADLINE_PASSED),
    ]


# --------------------------------------------------------------------------------- resolution, passing
def test_a_resolving_thread_state_before_the_deadline_suppresses_reminders_and_the_passed_alert() -> None:
    story = make_story()
    state = initial_deadline_state(story, story.deadlines[0])
    now = DUE - 2 * H
    state, (dev,) = step(story, state, now, {"ultimatum": "accepted"})
    assert (dev.kind, dev.at, state.resolution) == (DevelopmentKind.DEADLINE_RESOLVED, now, "ultimatum.accepted")
    _, later = sweep(story, state, now, DUE + 3 * H)
    assert later == []
    assert countdown_text(state, DUE + H) == "resolved (accepted)"


def test_a_resolving_development_before_due_is_found_even_when_checked_after_due() -> None:
    story = make_story()
    deal = thread_change("negotiations", "deal", DUE - 5 * H, "Anthropic and Pentagon reach a deal")
    state, devs = step(story, initial_deadline_state(story, story.deadlines[0]), DUE + timedelta(minutes=10),
                       {"negotiations": "deal"}, [deal])
    assert [(d.kind, d.at) for d in devs] == [(DevelopmentKind.DEADLINE_RESOLVED, DUE - 5 * H)]
    assert state.resolved_at == DUE - 5 * H


def test_a_resolution_after_the_due_time_does_not_count() -> None:
    story = make_story()
    late_deal = thread_change("negotiations", "deal", DUE + timedelta(minutes=1))
    _, devs = step(story, initial_deadline_state(story, story.deadlines[0]), DUE + timedelta(minutes=5),
                   {"negotiations": "deal"}, [late_deal])
    assert [d.kind for d in devs] == [DevelopmentKind.DEADLINE_PASSED]


def test_passing_unresolved_is_critical_and_lists_what_happened_in_the_last_hours() -> None:
    story = make_story()
    recent = [thread_change("ultimatum", "rejected", DUE - 30 * H, "Old news from yesterday"),
              thread_change("negotiations", "ongoing", DUE - 2 * H, "Talks resume at the Pentagon")]
    state, (dev,) = step(story, initial_deadline_state(story, story.deadlines[0]), DUE, recent=recent)
    assert (dev.kind, dev.severity, dev.at, state.passed_at) == (DevelopmentKind.DEADLINE_PASSED, Severity.CRITICAL,
                                                                  DUE, DUE)
    assert "no resolution" in dev.summary and "Talks resume at the Pentagon" in dev.summary
    assert "Old news" not in dev.summary
    assert step(story, state, DUE + H, recent=recent)[1] == ()
    assert countdown_text(state, DUE + 3 * H) == "passed 3 h ago, unresolved"


# ------------------------------------------------------------------------------------------ extensions
FRI_10 = datetime(2026, 2, 27, 15, 0, tzinfo=UTC)  # Fri 10:00 EST, before the 17:01 deadline


@pytest.mark.parametrize(
    ("headline", "new_due_local"),
    [
        ("Pentagon extends the deadline to Monday", "2026-03-02T17:01"),
        ("Hegseth gives Anthropic until March 6", "2026-03-06T17:01"),
        ("Pentagon grants Anthropic a 72-hour extension", "2026-03-02T17:01"),
        ("Deadline pushed to 5 p.m. Monday", "2026-03-02T17:00"),
        ("Pentagon extends Anthropic deadline by 48 hours", "2026-03-01T17:01"),
        ("Pentagon gives Anthropic 72 more hours", "2026-03-02T17:01"),
        ("Deadline extended to Monday, March 2 at 17:00", "2026-03-02T17:00"),
        ("Pentagon extends deadline from Friday to next Wednesday", "2026-03-04T17:01"),
        ("Deadline extended until 11:59 p.m. ET", "2026-02-27T23:59"),
        ("Pentagon pushes back Friday deadline to midnight", "2026-02-28T00:00"),
        ("Pentagon extends deadline for Anthropic to 6 March", "2026-03-06T17:01"),
        ("Pentagon gives Anthropic another week", "2026-03-06T17:01"),
        ("Deadline postponed to tomorrow at noon", "2026-02-28T12:00"),
        ("Pentagon extends deadline to May 5, 2026", "2026-05-05T17:01"),  # EDT by then: 21:01Z
    ],
)
def test_extension_headlines_move_the_due_time_to_the_stated_local_time(headline: str, new_due_local: str) -> None:
    story = make_story()
    state = initial_deadline_state(story, story.deadlines[0])
    state, (dev,) = read_extensions(story, story.deadlines[0], state, [item(headline, FRI_10)], FRI_10)
    expected = datetime.fromisoformat(new_due_local).replace(tzinfo=NY).astimezone(UTC)
    assert state.due_at == expected
    assert dev.kind is DevelopmentKind.DEADLINE_CHANGED and dev.confidence is Confidence.REPORTED
    assert dev.details["old_due"] == "2026-02-27T22:01:00Z"
    assert dev.details["new_due"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "headline",
    [
        "Pentagon may extend deadline to Monday",  # hedged
        "Pentagon will not extend the deadline past Friday",  # negated
        "Pentagon won't extend deadline to Monday",
        "Pentagon considering an extension to March 6",
        "Anthropic seeks 72-hour extension",
        "Will the Pentagon extend the deadline to Monday?",
        "Pentagon extends deadline. Talks resume Monday",  # the date is not the deadline's
        "Hegseth gives Anthropic until Friday to agree",  # not later than the current due time
        "We may see talks on May 5",  # no cue at all; "may" and "We" are not dates
    ],
)
def test_hedged_negated_and_unreadable_extension_headlines_change_nothing(headline: str) -> None:
    story = make_story()
    state = initial_deadline_state(story, story.deadlines[0])
    assert read_extensions(story, story.deadlines[0], state, [item(headline, FRI_10)], FRI_10) == (state, ())


def test_publication_time_is_read_in_the_story_zone() -> None:
    # Sunday 21:00 EST is already Monday in UTC; "tomorrow" means Monday local, not Tuesday
    story = make_story()
    published = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    state = replace(initial_deadline_state(story, story.deadlines[0]), passed_at=DUE)
    state, _ = read_extensions(story, story.deadlines[0], state,
                               [item("Deadline extended to tomorrow", published)], published)
    assert state.due_at == datetime(2026, 3, 2, 22, 1, tzinfo=UTC)
    assert state.passed_at is None  # moved into the future: the clock runs again


def test_a_second_independent_outlet_confirms_the_same_extension_under_the_same_key() -> None:
    story = make_story()
    deadline = story.deadlines[0]
    state = initial_deadline_state(story, deadline)
    state, (first,) = read_extensions(story, deadline, state, [item("Pentagon extends deadline to Monday", FRI_10)],
                                      FRI_10)
    same_outlet = item("Deadline extended to Monday, officials say", FRI_10 + H, item_id="again")
    assert read_extensions(story, deadline, state, [same_outlet], FRI_10 + H)[1] == ()
    other = item("Deadline pushed to 5 p.m. Monday", FRI_10 + 2 * H, outlet="other.org")
    state, (second,) = read_extensions(story, deadline, state, [other], FRI_10 + 2 * H)
    assert (first.confidence, second.confidence) == (Confidence.REPORTED, Confidence.CONFIRMED)
    assert second.key == first.key and len(second.sources) == 2
    assert state.due_at == datetime(2026, 3, 2, 22, 1, tzinfo=UTC) and state.pending_extension is None
    assert state.changes[-1].confidence is Confidence.CONFIRMED


def test_a_wire_report_confirms_an_extension_on_its_own() -> None:
    story = make_story()
    wire = item("Pentagon extends the deadline to Monday", FRI_10, outlet="reuters.com", kind=SourceKind.WIRE)
    state, (dev,) = read_extensions(story, story.deadlines[0], initial_deadline_state(story, story.deadlines[0]),
                                    [wire], FRI_10)
    assert dev.confidence is Confidence.CONFIRMED and state.pending_extension is None


def test_a_chain_of_two_extensions_reschedules_reminders_and_the_passing() -> None:
    story = make_story()
    deadline = story.deadlines[0]
    state = initial_deadline_state(story, deadline)
    state, _ = sweep(story, state, DUE - 25 * H, FRI_10)  # the 24 h reminder went out before the news
    state, (one,) = read_extensions(story, deadline, state, [item("Pentagon extends the deadline to Monday", FRI_10)],
                                    FRI_10)
    sat = datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    state, (two,) = read_extensions(story, deadline, state,
                                    [item("Deadline pushed again to 5 p.m. March 6", sat, outlet="b.com")], sat)
    final = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
    assert [c.new_due for c in state.changes] == [datetime(2026, 3, 2, 22, 1, tzinfo=UTC), final]
    assert two.details["old_due"] == "2026-03-02T22:01:00Z" and one.key != two.key
    assert state.original_due_at == DUE and state.reminders_sent == ()
    state, fired = sweep(story, state, sat, final + H, every=timedelta(minutes=5))
    assert [(d.kind, d.at) for _, d in fired] == [
        (DevelopmentKind.DEADLINE_REMINDER, final - 24 * H),
        (DevelopmentKind.DEADLINE_REMINDER, final - 3 * H),
        (DevelopmentKind.DEADLINE_REMINDER, final - H),
        (DevelopmentKind.DEADLINE_PASSED, final),
    ]


def test_an_extension_read_inside_the_reminder_window_skips_reminders_already_past() -> None:
    story = make_story()
    now = DUE - 2 * H
    state, _ = read_extensions(story, story.deadlines[0], initial_deadline_state(story, story.deadlines[0]),
                               [item("Deadline extended to 6 p.m.", now)], now)
    assert state.due_at == datetime(2026, 2, 27, 23, 0, tzinfo=UTC)  # its 3 h reminder (20:00Z) is already past
    assert next_due_instants(story, story.deadlines[0], state, after=now) == [state.due_at - H, state.due_at]


# ------------------------------------------------------------------------------- several deadlines
def two_deadlines(a_subjects: Iterable[str] = ("Anthropic",), b_subjects: Iterable[str] = ("OpenAI",)) -> StoryConfig:
    """One story, two deadlines due at the same instant: Anthropic's and OpenAI's."""
    return StoryConfig.model_validate({
        "id": "s", "title": "Two ultimatums", "zone": "America/New_York",
        "relevance": {"require": [["Anthropic", "OpenAI"]]},
        "deadlines": [{"id": key, "title": f"{key} deadline", "due": "2026-02-27T17:01:00", "zone": "America/New_York",
                       "subjects": list(subjects)}
                      for key, subjects in (("a", a_subjects), ("b", b_subjects))],
    })


def moved(story: StoryConfig, items: Iterable[Item], now: datetime = FRI_10) -> dict[str, datetime]:
    """deadline id -> new due time, for each deadline of ``story`` that the items moved."""
    out = {}
    for deadline in story.deadlines:
        state, devs = read_extensions(story, deadline, initial_deadline_state(story, deadline), list(items), now)
        if devs:
            out[deadline.id] = state.due_at
    return out


MONDAY = datetime(2026, 3, 2, 22, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Pentagon extends Anthropic deadline to Monday", "", {"a": MONDAY}),
        ("Pentagon extends OpenAI's deadline to Monday", "", {"b": MONDAY}),
        ("Pentagon extends the deadline for Anthropic and OpenAI to Monday", "", {"a": MONDAY, "b": MONDAY}),
        ("Pentagon extends the deadline to Monday", "", {}),  # names no subject: which deadline is unknown
        ("Pentagon extends the deadline to Monday", "The Anthropic talks go on.", {}),  # the cue's line names none
        ("OpenAI deadline extended to Monday", "Anthropic still faces Friday's cutoff.", {"b": MONDAY}),
        ("Anthropic: Pentagon may extend the deadline to Monday", "", {}),  # a hedge still changes nothing
    ],
)
def test_with_several_deadlines_a_report_moves_only_the_deadline_whose_subject_it_names(
        title: str, summary: str, expected: dict[str, datetime]) -> None:
    report = replace(item(title, FRI_10), summary=summary)
    assert moved(two_deadlines(), [report]) == expected


def test_a_deadline_without_subjects_in_a_story_with_several_falls_back_to_the_relevance_terms() -> None:
    story = two_deadlines(a_subjects=())
    assert moved(story, [item("OpenAI deadline extended to Monday", FRI_10)]) == {"a": MONDAY, "b": MONDAY}
    assert moved(story, [item("Deadline extended to Monday", FRI_10)]) == {}


@pytest.mark.parametrize("headline", ["Pentagon extends the deadline to Monday", "OpenAI deadline extended to Monday"])
def test_a_story_with_one_deadline_applies_any_relevant_report_even_with_subjects(headline: str) -> None:
    story = make_story(subjects=["Anthropic"])
    assert moved(story, [item(headline, FRI_10)]) == {"d": MONDAY}


def test_only_a_report_naming_the_subject_confirms_that_deadlines_extension() -> None:
    story = two_deadlines()
    deadline = story.deadlines[0]
    state, (first,) = read_extensions(story, deadline, initial_deadline_state(story, deadline),
                                      [item("Pentagon extends Anthropic deadline to Monday", FRI_10)], FRI_10)
    unnamed = item("Deadline pushed to 5 p.m. Monday", FRI_10 + H, outlet="other.org")
    assert read_extensions(story, deadline, state, [unnamed], FRI_10 + H) == (state, ())
    named = item("Anthropic deadline pushed to 5 p.m. Monday", FRI_10 + 2 * H, outlet="other.org")
    state, (second,) = read_extensions(story, deadline, state, [named], FRI_10 + 2 * H)
    assert (first.confidence, second.confidence, second.key) == (Confidence.REPORTED, Confidence.CONFIRMED, first.key)


def test_an_empty_subject_is_rejected_by_the_config() -> None:
    with pytest.raises(ValueError, match="subjects"):
        make_story(subjects=[""])


# ------------------------------------------------------------------------------------ state and status
def test_state_round_trips_through_json_exactly() -> None:
    story = make_story()
    state = initial_deadline_state(story, story.deadlines[0])
    state, _ = read_extensions(story, story.deadlines[0], state,
                               [item("Pentagon extends the deadline to Monday", FRI_10 + timedelta(microseconds=7))],
                               FRI_10 + timedelta(microseconds=7))
    state, _ = step(story, state, state.due_at - 3 * H)
    assert state.pending_extension is not None and state.changes and state.reminders_sent
    assert DeadlineState.from_json(json.loads(json.dumps(state.to_json()))) == state


@pytest.mark.parametrize(
    ("now", "active"),
    [(DUE - 6 * H - timedelta(seconds=1), False), (DUE - 6 * H, True), (DUE + 6 * H, True),
     (DUE + 6 * H + timedelta(seconds=1), False)],
)
def test_surge_is_active_from_six_hours_before_to_six_hours_after_due(now: datetime, active: bool) -> None:
    story = make_story()
    deadline: DeadlineConfig = story.deadlines[0]
    assert surge_active(deadline, initial_deadline_state(story, deadline), now) is active


@pytest.mark.parametrize(
    ("now", "text"),
    [(DUE - 2 * H - timedelta(minutes=13), "in 2 h 13 min"), (DUE - 26 * H, "in 1 d 2 h"),
     (DUE, "passed 0 s ago, unresolved"), (DUE + 3 * H, "passed 3 h ago, unresolved")],
)
def test_countdown_text(now: datetime, text: str) -> None:
    story = make_story()
    assert countdown_text(initial_deadline_state(story, story.deadlines[0]), now) == text
