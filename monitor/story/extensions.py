"""Reading a deadline extension from a news item's text. Pure: no clock, no I/O.

:func:`read_extension` finds an extension cue ("extends the deadline", "gives ... until", "72-hour extension")
that is asserted (not hedged or negated) and reads the new due time from the words right after it (or a duration
right before it). :func:`subject_pattern` says which words tie a report to one deadline of a story.
The deadline state machine that applies a reading lives in :mod:`monitor.story.deadlines`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config.schema import DeadlineConfig, StoryConfig
from monitor.domain import SignalMode
from monitor.story.lexicon import Modality
from monitor.story.relevance import fold, phrase_pattern

# Cues that an item reports the deadline moved. The new time is read only from a pattern-matched span next to
# the cue (never by a date parser over the whole headline, which reads "may", "We" or "$40" as dates).
_FILLER = r"(?:[\w'’:.-]+\s+){0,3}?"
_CUES = tuple(re.compile(p, re.IGNORECASE) for p in (
    rf"\bextend(?:s|ed|ing)?\s+{_FILLER}deadline\b",
    r"\bdeadline\s+(?:is\s+|was\s+|has\s+been\s+|had\s+been\s+|now\s+)?"
    r"(?:extended|pushed(?:\s+back)?|moved(?:\s+back)?|delayed|postponed|shifted)\b",
    rf"\b(?:push(?:es|ed)?|mov(?:e|es|ed)|delay(?:s|ed)?|postpone(?:s|d)?)\s+(?:back\s+)?{_FILLER}deadline\b",
    r"\b(?:gives?|gave|giving|grants?|granted|granting)\b",
    r"\bextension\b",
    r"\bmore\s+time\b",
))
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "twenty-four": 24, "thirty-six": 36,
            "forty-eight": 48, "seventy-two": 72}
_UNIT = {"hour": timedelta(hours=1), "hr": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
_DURATION = (r"\b(?:(?P<lead>another|an?\s+(?:additional|extra|further)|additional|extra|further)[-\s]+)?"
             rf"(?:(?P<n>\d{{1,3}}|{'|'.join(sorted(_NUMBERS, key=len, reverse=True))})[-\s]+)?"
             r"(?:(?P<more>more|additional|extra)[-\s]+)?(?P<unit>hour|hr|day|week)s?\b")
_DURATION_RE = re.compile(_DURATION, re.IGNORECASE)
_DURATION_LEFT = re.compile(_DURATION + r"[-\s]*(?:deadline[-\s]+)?$", re.IGNORECASE)
_TIME = re.compile(r"\b(?:(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?\s*(?P<ap>[ap])\.?\s?m\b\.?"
                   r"|(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)\b|(?P<word>noon|midday|midnight))"
                   r"(?:\s+(?:ET|EST|EDT|Eastern(?:\s+time)?)\b)?", re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(rf"\b(?P<next>next\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b|\b(?P<tomorrow>tomorrow)\b",
                      re.IGNORECASE)
_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>20\d\d)\b)?",
                        re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b\.?(?:,?\s+(?P<year>20\d\d)\b)?",
                        re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_SPAN_END = re.compile(r"[;!?\n|\u2014]|\s-\s")
_PREP_GAP = re.compile(r"\s*(?:[\w'’-]+\s+){0,4}?(?:to|until|till|through|by|for|of|at|on)\s+(?:the\s+)?",
                       re.IGNORECASE)
_WORDS_GAP = re.compile(r"\s*(?:[\w'’-]+\s+){0,4}", re.IGNORECASE)
_JOIN_GAP = re.compile(r"[\s,]*(?:(?:at|on|by)\s+)?", re.IGNORECASE)


@dataclass(frozen=True)
class ExtensionReading:
    """An item's report that the deadline moved: the new due time (UTC) and the cue text that said so."""

    new_due: datetime
    cue: str


@dataclass(frozen=True)
class _Part:
    start: int
    end: int
    kind: str  # "time", "weekday", "date" or "duration"
    match: re.Match[str]


def _parts(span: str) -> list[_Part]:
    """Every time, date and duration expression in ``span`` that denotes a valid value, by position."""
    parts = [_Part(m.start(), m.end(), "time", m) for m in _TIME.finditer(span)
             if not m.group("h") or 1 <= int(m.group("h")) <= 12]
    parts += [_Part(m.start(), m.end(), "weekday", m) for m in _WEEKDAY.finditer(span)]
    for regex in (_MONTH_DAY, _DAY_MONTH):
        parts += [_Part(m.start(), m.end(), "date", m) for m in regex.finditer(span) if 1 <= int(m.group("day")) <= 31]
    parts += [_Part(m.start(), m.end(), "duration", m) for m in _DURATION_RE.finditer(span)
              if m.group("n") or m.group("lead")]
    return sorted(parts, key=lambda p: (p.start, -p.end))


def _duration(match: re.Match[str]) -> timedelta:
    count = match.group("n")
    number = 1 if not count else int(count) if count.isdigit() else _NUMBERS[count.lower()]
    return number * _UNIT[match.group("unit").lower()]


def _clock(match: re.Match[str]) -> tuple[int, int, int]:
    """(hour, minute, extra days) of a time expression; midnight is the end of the named day."""
    word = (match.group("word") or "").lower()
    if word:
        return (0, 0, 1) if word == "midnight" else (12, 0, 0)
    if match.group("h24"):
        return int(match.group("h24")), int(match.group("m24")), 0
    hour = int(match.group("h")) % 12 + (12 if match.group("ap").lower() == "p" else 0)
    return hour, int(match.group("m") or 0), 0


def _when(found: dict[str, _Part], published: datetime, due: datetime, zone: ZoneInfo) -> datetime | None:
    """Combine a date part and/or a time part into a UTC instant, relative to publication, in ``zone``."""
    pub, due_local = published.astimezone(zone), due.astimezone(zone)
    hour, minute, extra = (due_local.hour, due_local.minute, 0)
    if "time" in found:
        hour, minute, extra = _clock(found["time"].match)
    weekly = False
    if "date" in found:
        m = found["date"].match
        month = _MONTHS.index(m.group("mon")[:3].lower()) + 1
        year = int(m.group("year") or pub.year)
        try:
            day = pub.date().replace(year=year, month=month, day=int(m.group("day")))
        except ValueError:
            return None
        if not m.group("year") and day < pub.date():
            day = day.replace(year=year + 1)
    elif "weekday" in found:
        m = found["weekday"].match
        if m.group("tomorrow"):
            day = pub.date() + timedelta(days=1)
        else:
            ahead = (_WEEKDAYS.index(m.group("wd").lower()) - pub.weekday()) % 7
            day, weekly = pub.date() + timedelta(days=ahead or (7 if m.group("next") else 0)), True
    else:
        day = due_local.date()  # a time with no date changes the time of day of the deadline's day
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone) + timedelta(days=extra)
    moment = local.astimezone(UTC)
    if weekly and moment <= published:
        moment = (local + timedelta(days=7)).astimezone(UTC)
    return moment


def _read_after(span: str, published: datetime, due: datetime, zone: ZoneInfo) -> datetime | None:
    """The new due time named right after a cue ("to 5 p.m. Monday", "until March 6", "by 48 hours")."""
    parts = _parts(span)
    for index, first in enumerate(parts):
        gap = span[: first.start]
        if first.kind == "duration":
            m = first.match
            loose = (m.group("lead") or m.group("more")) and _WORDS_GAP.fullmatch(gap)
            if not gap.strip() or _PREP_GAP.fullmatch(gap) or loose:
                return due + _duration(m)
            continue
        if not _PREP_GAP.fullmatch(gap):
            continue
        found = {first.kind: first}
        position = first.end
        for part in parts[index + 1:]:
            if part.start < position or not _JOIN_GAP.fullmatch(span[position: part.start]):
                break
            if part.kind == "time" and "time" not in found:
                found["time"] = part
            elif (part.kind == "date" and "date" not in found) or (part.kind == "weekday" and found.keys() == {"time"}):
                found[part.kind] = part  # "Monday, March 2": the month-day wins over the weekday
            else:
                break
            position = part.end
        return _when(found, published, due, zone)
    return None


def subject_pattern(story: StoryConfig, deadline: DeadlineConfig) -> re.Pattern[str] | None:
    """What a report must name to move ``deadline``: None (anything relevant) when it is the story's only one.

    With several deadlines in a story, a report is tied to one by naming its ``subjects``; a deadline without
    subjects falls back to the story's relevance terms. The pattern matches :func:`monitor.relevance.fold`-ed text.
    """
    if len(story.deadlines) <= 1:
        return None
    words = deadline.subjects or tuple(term for group in story.relevance.require for term in group)
    return phrase_pattern(words)


def read_extension(text: str, published: datetime, due: datetime, zone_name: str, modality: Modality,
                   extra_cues: Sequence[str] = (), subjects: re.Pattern[str] | None = None) -> ExtensionReading | None:
    """The new due time an item's text reports, or None (no cue, hedged or negated cue, or no readable time).

    Dates are read relative to ``published`` in ``zone_name``: a weekday is its next occurrence after
    publication, a month-day without a year the next one on or after the publication date, a date without a
    time keeps the current due time of day, a time without a date keeps the due day. "N-hour extension",
    "by 48 hours" and "72 more hours" add to the current due time. Zone abbreviations after a time are ignored.
    With ``subjects`` (from :func:`subject_pattern`), only a line of the text (title or summary) that names a
    subject counts, so "OpenAI deadline extended" does not move Anthropic's deadline.
    """
    zone = ZoneInfo(zone_name)
    extra = [re.compile(r"\b" + re.escape(c.strip()).replace(r"\ ", r"\s+") + r"\b", re.IGNORECASE)
             for c in extra_cues if c.strip()]
    for block in text.split("\n"):
        if subjects is not None and not subjects.search(fold(block)):
            continue  # this line is not about the deadline's subject (fold keeps length, so search is enough)
        cues = sorted((m for regex in (*_CUES, *extra) for m in regex.finditer(block)), key=lambda m: m.start())
        for cue in cues:
            mode, _ = modality.before(block, cue.start())
            if mode is not SignalMode.ACT:
                continue
            span = block[cue.end(): cue.end() + 90]
            end = _SPAN_END.search(span)
            new_due = _read_after(span[: end.start()] if end else span, published, due, zone)
            left = _DURATION_LEFT.search(block[: cue.start()])
            if new_due is None and left and (left.group("n") or left.group("lead")):
                new_due = due + _duration(left)
            if new_due is not None and new_due - due <= timedelta(days=366):
                return ExtensionReading(new_due=new_due, cue=cue.group(0))
    return None
