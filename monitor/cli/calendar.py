"""Deadlines as an iCalendar file (RFC 5545) a user can import or subscribe to. Pure: settings + states in, bytes out.

One VEVENT per configured deadline at its current due time in UTC, with a VALARM per reminder at its exact
UTC instant (none once the deadline is resolved). UIDs depend only on the story and deadline ids, and SEQUENCE
counts the extensions, so a subscribed calendar moves the event instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from monitor.config.schema import Settings
from monitor.durations import format_duration
from monitor.story.deadlines import DeadlineState, countdown_text, initial_deadline_state, local_text, reminder_offsets

PRODID = "-//deadline-monitor//deadlines//EN"
UID_DOMAIN = "deadline-monitor"


def deadline_uid(story_id: str, deadline_id: str) -> str:
    """The stable UID of a deadline's event."""
    return f"{story_id}.{deadline_id}@{UID_DOMAIN}"


def deadlines_calendar(settings: Settings, states: Mapping[tuple[str, str], DeadlineState] | None,
                       now: datetime) -> bytes:
    """Every deadline of every story as a VCALENDAR; ``states`` (keyed by (story id, deadline id)) gives the
    current due time after extensions, and a missing state means the configured due time. DTSTAMP is ``now``.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Story deadlines")
    for story in settings.stories:
        for deadline in story.deadlines:
            state = (states or {}).get((story.id, deadline.id)) or initial_deadline_state(story, deadline)
            event = Event()
            event.add("uid", deadline_uid(story.id, deadline.id))
            event.add("dtstamp", now)
            event.add("dtstart", state.due_at)  # UTC: rendered as ...Z, no VTIMEZONE needed
            event.add("sequence", len(state.changes))
            event.add("summary", f"{deadline.title} ({story.title})")
            event.add("description", _description(deadline.zone, state, now))
            event.add("categories", ["deadline", story.id])
            event.add("status", "CONFIRMED")
            if state.resolved_at is None:
                for offset in reminder_offsets(deadline):
                    event.add_component(_alarm(deadline.title, state.due_at, offset))
            calendar.add_component(event)
    return bytes(calendar.to_ical())


def _alarm(title: str, due: datetime, offset: int) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    # an absolute UTC trigger: a relative "-P1D" is a nominal day, which clients may make 23 h across DST
    alarm.add("trigger", due - timedelta(seconds=offset), parameters={"VALUE": "DATE-TIME"})
    alarm.add("description", f"{title}: due in {format_duration(timedelta(seconds=offset))}")
    return alarm


def _description(zone: str, state: DeadlineState, now: datetime) -> str:
    lines = [f"Due {local_text(state.due_at, zone)} ({countdown_text(state, now)} at export)."]
    if state.changes:
        lines.append(f"Originally due {local_text(state.original_due_at, zone)}; moved {len(state.changes)} time(s).")
    return "\n".join(lines)
