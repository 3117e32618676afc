"""The iCalendar export parses back with icalendar and carries exact UTC times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from icalendar import Calendar

from monitor.cli.calendar import deadline_uid, deadlines_calendar
from monitor.config.load import load_settings
from monitor.config.schema import Settings
from monitor.story.deadlines import DeadlineChange, DeadlineState, initial_deadline_state

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 2, 25, 9, 30, tzinfo=UTC)
DUE = datetime(2026, 2, 27, 22, 1, tzinfo=UTC)
H = timedelta(hours=1)


def shipped() -> Settings:
    return load_settings(ROOT / "tests" / "data" / "anthropic-feb2026.toml", env={})  # the February phase


def events(data: bytes) -> list[Any]:
    return list(Calendar.from_ical(data).walk("VEVENT"))


def shipped_state(settings: Settings) -> DeadlineState:
    story = settings.stories[0]
    return initial_deadline_state(story, story.deadlines[0])


def test_shipped_deadline_exports_as_2201_utc_with_exact_utc_alarms() -> None:
    data = deadlines_calendar(shipped(), None, NOW)
    assert b"DTSTART:20260227T220100Z" in data
    (event,) = events(data)
    assert event.decoded("dtstart") == DUE and event.decoded("dtstart").utcoffset() == timedelta(0)
    assert event.decoded("dtstamp") == NOW
    assert str(event["uid"]) == "anthropic-pentagon.friday-ultimatum@deadline-monitor"
    triggers = sorted(alarm.decoded("trigger") for alarm in event.walk("VALARM"))
    assert triggers == [DUE - 24 * H, DUE - 3 * H, DUE - H]


def test_an_extended_deadline_keeps_its_uid_and_moves_with_a_higher_sequence() -> None:
    settings = shipped()
    state = shipped_state(settings)
    monday = datetime(2026, 3, 2, 22, 1, tzinfo=UTC)
    moved = replace(state, due_at=monday, changes=(DeadlineChange(DUE, monday, NOW, None, "example.com"),))
    (before,) = events(deadlines_calendar(settings, None, NOW))
    (after,) = events(deadlines_calendar(settings, {(state.story_id, state.deadline_id): moved}, NOW))
    assert str(after["uid"]) == str(before["uid"])
    assert (after.decoded("dtstart"), int(after["sequence"])) == (monday, 1)
    assert min(alarm.decoded("trigger") for alarm in after.walk("VALARM")) == monday - 24 * H


def test_a_resolved_deadline_has_no_alarms() -> None:
    settings = shipped()
    state = replace(shipped_state(settings), resolved_at=NOW, resolution="negotiations.deal")
    (event,) = events(deadlines_calendar(settings, {(state.story_id, state.deadline_id): state}, NOW))
    assert list(event.walk("VALARM")) == []
    assert "resolved (deal)" in str(event["description"])


def test_export_is_byte_identical_for_the_same_inputs_and_gives_each_deadline_its_own_uid() -> None:
    base = shipped()
    story = base.stories[0]
    second = story.model_copy(update={"id": "second-story", "zone": "Asia/Tokyo", "deadlines": (
        story.deadlines[0].model_copy(update={"id": "tokyo", "zone": "Asia/Tokyo",
                                              "due": datetime(2026, 2, 28, 9, 0)}),)})
    settings = base.model_copy(update={"stories": (story, second)})
    data = deadlines_calendar(settings, None, NOW)
    assert data == deadlines_calendar(settings, None, NOW)
    starts = {str(e["uid"]): e.decoded("dtstart") for e in events(data)}
    assert starts == {
        deadline_uid("anthropic-pentagon", "friday-ultimatum"): DUE,
        deadline_uid("second-story", "tokyo"): datetime(2026, 2, 28, 0, 0, tzinfo=UTC),
    }
