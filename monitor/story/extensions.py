"""Reading that a deadline moved from a news item's text. Pure: no clock, no I/O.

:func:`read_extension` finds a cue that the deadline moved ("extends the deadline", "cuts the deadline",
"gives ... until", "new deadline", "72-hour extension") that is asserted (not hedged or negated, on either side
of the cue) and reads the new due time from the words right after it (or an "N-hour extension" right before
it). :func:`subject_pattern` says which words tie a report to one deadline of a story. The deadline state
machine that applies a reading (one event per change, corroboration) lives in :mod:`monitor.story.deadlines`.

How a time is read (all relative to the item's publication, in the story's zone):

- a date ("March 6", "6 March", "Aug. 8, 2025", "the 15th", "mid-April" = the 15th, "the end of April" = the
  last day), a weekday ("Monday", "next Wednesday", "tomorrow") and/or a time of day ("5 p.m.", "17:00",
  "noon", "midnight"); a date without a time keeps the current due time of day;
- an amount added to the deadline in force ("by 48 hours", "another week", "72 more hours", "a 72-hour
  extension"; "cuts the deadline by two days" subtracts);
- a new span counted from the publication ("gives Russia 10 days", "cuts the deadline to two weeks", "a new
  deadline: 10 to 12 days"): hours from the publication instant; days and weeks to the end (23:59) of the
  day that many days after the publication's local date. A range ("10 to 12 days", "10-12 days", "10 or 12
  days") is read as its middle, rounded up to a whole day (11 days), so the reading is at most half the
  range off whichever end is meant.

A duration used as an adjective names a span, not a change: "Trump's 50-day deadline", "the 60-day window" and
"the law's 60-day extension" move nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config.schema import DeadlineConfig, StoryConfig
from monitor.domain import SignalMode
from monitor.story.lexicon import Modality
from monitor.story.relevance import fold, phrase_pattern

LATER, EARLIER, EITHER = 1, -1, 0
"""The direction a cue allows: "extends" only later, "cuts" only earlier, "new deadline" either way."""

END_OF_DAY = time(23, 59)
"""The time of day a span of days counted from the publication ends at ("gives Russia 10 days")."""

MID_MONTH_DAY = 15
"""The day "mid-April" is read as."""

# Words that may stand between a verb cue and the deadline noun ("extends Anthropic's Friday deadline"). Not a
# preposition: "talks move closer to the deadline" and "extends talks ahead of the deadline" are no cues.
_FILLER = (r"(?:(?!(?:to|toward|towards|closer|near|ahead|of|before|after|past|until|by|for|in|on|at|as)\b)"
           r"[\w'’:.-]+\s+){0,3}?")
_NOUN = r"(?:deadline|ultimatum|cut-?off|due\s+date|end\s+date|x-date)"
_BE = r"(?:(?:is|was|has\s+been|had\s+been|have\s+been|now|being)\s+)?"
_ADVERB = r"(?:(?:further|again|once\s+again|formally|officially)\s+)?"
_MOVE = r"(?:mov(?:e|es|ed|ing)|bring(?:s|ing)?|brought|pull(?:s|ed|ing)?)"


@dataclass(frozen=True)
class _Cue:
    regex: re.Pattern[str]
    direction: int  # LATER, EARLIER or EITHER
    kind: str  # "verb", "give" (gives/grants), "noun" ("new deadline"), "extension" ("extension", "more time")


def _cue(pattern: str, direction: int, kind: str = "verb") -> _Cue:
    return _Cue(re.compile(pattern, re.IGNORECASE), direction, kind)


# Cues that an item reports the deadline moved. The new time is read only from a pattern-matched span next to
# the cue (never by a date parser over the whole headline, which reads "may", "We" or "$40" as dates).
_CUES = (
    _cue(rf"\bextend(?:s|ed|ing)?\s+{_FILLER}{_NOUN}\b", LATER),
    _cue(rf"\b(?:push(?:es|ed|ing)?|delay(?:s|ed|ing)?|postpon(?:e|es|ed|ing)|{_MOVE}\s+back)\s+(?:back\s+)?"
         rf"{_FILLER}{_NOUN}\b", LATER),
    _cue(rf"\b{_NOUN}\s+{_BE}{_ADVERB}(?:extended|pushed(?:\s+back)?|moved\s+back|delayed|postponed)\b", LATER),
    _cue(rf"\b(?:cut(?:s|ting)?|shorten(?:s|ed|ing)?|trim(?:s|med|ming)?)\s+{_FILLER}{_NOUN}\b", EARLIER),
    _cue(rf"\b{_MOVE}\s+(?:up|forward)\s+{_FILLER}{_NOUN}\b", EARLIER),
    _cue(rf"\b{_MOVE}\s+{_FILLER}{_NOUN}\s+(?:up|forward)\b", EARLIER),
    _cue(rf"\b{_NOUN}\s+{_BE}{_ADVERB}(?:cut|shortened|trimmed|moved\s+up|brought\s+forward|pulled\s+forward)\b",
         EARLIER),
    _cue(rf"\b(?:mov(?:e|es|ed|ing)|shift(?:s|ed|ing)?)\s+{_FILLER}{_NOUN}\b", EITHER),
    _cue(rf"\b{_NOUN}\s+{_BE}{_ADVERB}(?:moved|shifted)\b", EITHER),
    _cue(r"\b(?:gives?|gave|giving|grants?|granted|granting)\b", EITHER, "give"),
    _cue(rf"\bnew\s+{_NOUN}\b", EITHER, "noun"),
    _cue(r"\bextension\b", LATER, "extension"),
    _cue(r"\bmore\s+time\b", LATER, "extension"),
)

# Right-of-cue qualifiers for deadline text: "an extension is likely", "an extension may be needed", "extension
# sought", "an extension is off the table". The left side is read by lexicon.Modality.before.
# TODO: move these to monitor/story/lexicon.py (next to HEDGES and NEGATIONS) once its right-side hedge
# detection lands, and call that instead of _qualified_after.
RIGHT_QUALIFIERS: tuple[str, ...] = (
    "likely", "unlikely", "possible", "possibly", "probably", "expected", "may", "might", "could", "would",
    "should", "if", "sought", "needed", "under consideration", "being considered", "being discussed",
    "on the table", "off the table", "not", "n't", "never", "ruled out", "rejected", "denied",
)
RIGHT_WORDS = 8
"""How many words right of a cue (to the end of its clause) are read for :data:`RIGHT_QUALIFIERS`."""

_AROUND = 300
"""Characters either side of a cue that are read for its qualifiers, so a cue costs the same on a long text."""

_RIGHT = re.compile("|".join(r"n[’']t\b" if q == "n't" else r"\b" + re.escape(q).replace(r"\ ", r"\s+") + r"\b"
                             for q in sorted(RIGHT_QUALIFIERS, key=len, reverse=True)), re.IGNORECASE)
_CLAUSE_END = re.compile(r"[;:.!?\u2014\u2013|]|,\s|\s-\s"
                         r"|\b(?:but|and|or|after|as|while|because|then|so|that|which|who)\b", re.IGNORECASE)
_ASKS = frozenset({"decide", "decides", "see", "determine", "know", "ask", "asks", "asked", "say", "check"})
"""Verbs after which "if" asks a question ("until Monday to decide if it complies") rather than sets a condition."""

_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "twenty": 20,
            "thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90, "twenty-four": 24, "thirty-six": 36,
            "forty-eight": 48, "seventy-two": 72}
_UNIT = {"hour": timedelta(hours=1), "hr": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
_NUM = rf"(?:\d{{1,3}}|{'|'.join(sorted(_NUMBERS, key=len, reverse=True))})"
_DURATION = (r"\b(?:(?P<lead>another|an?\s+(?:additional|extra|further)|additional|extra|further)[-\s]+)?"
             rf"(?:(?P<n>{_NUM})(?:\s*(?:-|\u2013|\s(?:to|or|and)\s)\s*(?P<n2>{_NUM}))?(?P<sep>[-\s]+))?"
             r"(?:(?P<more>more|additional|extra)[-\s]+)?(?P<unit>hour|hr|day|week)(?P<plural>s)?\b")
_DURATION_RE = re.compile(_DURATION, re.IGNORECASE)
_DURATION_LEFT = re.compile(_DURATION + r"[-\s]*$", re.IGNORECASE)
_TIME = re.compile(r"\b(?:(?P<h>\d{1,2})(?::(?P<m>[0-5]\d))?\s*(?P<ap>[ap])\.?\s?m\b\.?"
                   r"|(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)\b|(?P<word>noon|midday|midnight))"
                   r"(?:\s+(?:ET|EST|EDT|Eastern(?:\s+time)?)\b)?", re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(rf"\b(?P<next>next\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b|\b(?P<tomorrow>tomorrow)\b",
                      re.IGNORECASE)
_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_YEAR = r"(?:,?\s+(?P<year>20\d\d)\b)?"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b{_YEAR}", re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b\.?{_YEAR}", re.IGNORECASE)
_PART_MONTH = re.compile(rf"\b(?:(?P<mid>mid|middle\s+of)|(?P<end>end\s+of))[-\s]+{_MONTH}\b\.?{_YEAR}",
                         re.IGNORECASE)
# "the 15th": a day of the month alone, not followed by a word that makes it something else ("15th Amendment")
_ORDINAL = re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?{_MONTH})(?!\s+(?!at\b|by\b)[a-z])",
                      re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_SPAN_END = re.compile(r"[;!?\n|\u2014]|\s-\s")
_PREPS = r"to|until|till|through|by|for|of|at|on"
_APPROX = r"(?:(?:about|around|roughly|some|approximately|nearly|just|only)\s+)?"
_PREP_GAP = re.compile(rf"\s*(?:[\w'’,-]+\s+){{0,4}}?(?P<prep>{_PREPS})\s+{_APPROX}(?:the\s+)?", re.IGNORECASE)
_CUE_PREP = re.compile(rf"\b(?:{_PREPS})$", re.IGNORECASE)  # a cue that ends in its preposition ("... until")
_BARE_GAP = re.compile(rf"\s*{_APPROX}(?:the\s+)?", re.IGNORECASE)
_COLON_GAP = re.compile(rf"\s*(?:(?:for|to)\s+(?:[\w'’-]+\s+){{0,2}}[\w'’-]+)?\s*:\s*{_APPROX}(?:the\s+)?",
                        re.IGNORECASE)  # "new deadline: ...", "new deadline for Russia: ..."
_WORDS_GAP = re.compile(rf"\s*(?:[\w'’-]+\s+){{0,4}}{_APPROX}", re.IGNORECASE)
_JOIN_GAP = re.compile(r"[\s,]*(?:(?:at|on|by)\s+)?", re.IGNORECASE)
_FROM = re.compile(r"\bfrom\s+$", re.IGNORECASE)
_DETERMINER = re.compile(r"\b(?:the|its|their|his|her|our|this|that|whose)\s+$", re.IGNORECASE)
_NAMED_SPAN = re.compile(r"(?:\b(?:the|its|their|his|her|our|this|that|whose|built-in)|[\w][’']s?)\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class ExtensionReading:
    """An item's report that the deadline moved: the new due time (UTC) and the cue text that said so.

    ``earliest``/``latest`` are the ends of a range ("10 to 12 days") when one was read, else None.
    """

    new_due: datetime
    cue: str
    earliest: datetime | None = None
    latest: datetime | None = None


@dataclass(frozen=True)
class _Part:
    start: int
    end: int
    kind: str  # "time", "weekday", "date" or "duration"
    match: re.Match[str]


def _adjectival(match: re.Match[str]) -> bool:
    """ "50-day", "72-hour", "10 day": a duration that qualifies a noun ("50-day deadline"), not an amount."""
    count = (match.group("n2") or match.group("n") or "").lower()
    number = int(count) if count.isdigit() else _NUMBERS.get(count, 1)
    return not match.group("plural") and not match.group("lead") and not match.group("more") and (
        number > 1 or "-" in (match.group("sep") or ""))


def _parts(span: str) -> list[_Part]:
    """Every time, date and duration expression in ``span`` that denotes a valid value, by position."""
    parts = [_Part(m.start(), m.end(), "time", m) for m in _TIME.finditer(span)
             if not m.group("h") or 1 <= int(m.group("h")) <= 12]
    parts += [_Part(m.start(), m.end(), "weekday", m) for m in _WEEKDAY.finditer(span)]
    for regex in (_MONTH_DAY, _DAY_MONTH, _ORDINAL):
        parts += [_Part(m.start(), m.end(), "date", m) for m in regex.finditer(span) if 1 <= int(m.group("day")) <= 31]
    parts += [_Part(m.start(), m.end(), "date", m) for m in _PART_MONTH.finditer(span)]
    for m in _DURATION_RE.finditer(span):
        if m.group("n2") and _FROM.search(span[: m.start()]):
            m = _DURATION_RE.match(span, m.start("n2")) or m  # "from 50 to 60 days": the new span is 60 days
        if (m.group("n") or m.group("lead")) and not _adjectival(m):
            parts.append(_Part(m.start(), m.end(), "duration", m))
    return sorted(parts, key=lambda p: (p.start, -p.end))


def _count(text: str | None) -> int:
    return 1 if not text else int(text) if text.isdigit() else _NUMBERS[text.lower()]


def _amounts(match: re.Match[str]) -> tuple[timedelta, timedelta]:
    """The low and high end of a duration ("10 to 12 days": 10 and 12 days; "48 hours": 48 hours both)."""
    unit = _UNIT[match.group("unit").lower()]
    low = _count(match.group("n"))
    high = _count(match.group("n2")) if match.group("n2") else low
    return (low * unit, high * unit) if low <= high else (high * unit, high * unit)


def _middle(low: timedelta, high: timedelta, unit: str) -> timedelta:
    """The middle of a range; for days and weeks rounded up to a whole day."""
    middle = (low + high) / 2
    return middle if unit.lower() in ("hour", "hr") else timedelta(days=math.ceil(middle / timedelta(days=1)))


def _from_publication(amount: timedelta, unit: str, published: datetime, zone: ZoneInfo) -> datetime:
    """A span counted from the publication: hours from its instant, days to the end of the day they end on."""
    if unit.lower() in ("hour", "hr"):
        return published + amount
    day = published.astimezone(zone).date() + timedelta(days=amount.days)
    return datetime.combine(day, END_OF_DAY, tzinfo=zone).astimezone(UTC)


def _clock(match: re.Match[str]) -> tuple[int, int, int]:
    """(hour, minute, extra days) of a time expression; midnight is the end of the named day."""
    word = (match.group("word") or "").lower()
    if word:
        return (0, 0, 1) if word == "midnight" else (12, 0, 0)
    if match.group("h24"):
        return int(match.group("h24")), int(match.group("m24")), 0
    hour = int(match.group("h")) % 12 + (12 if match.group("ap").lower() == "p" else 0)
    return hour, int(match.group("m") or 0), 0


def _date(match: re.Match[str], pub: date) -> date | None:
    """The calendar day a date expression names, the next one on or after ``pub`` when it gives no year."""
    groups = match.groupdict()
    if not groups.get("mon"):  # "the 15th": this month's, or next month's when that is past
        month_start = pub.replace(day=1)
        for months_ahead in (0, 1):
            first = (month_start + timedelta(days=32 * months_ahead)).replace(day=1)
            try:
                day = first.replace(day=int(match.group("day")))
            except ValueError:
                continue
            if day >= pub:
                return day
        return None
    month = _MONTHS.index(match.group("mon")[:3].lower()) + 1
    year = int(groups.get("year") or pub.year)
    if groups.get("mid"):
        number = MID_MONTH_DAY
    elif groups.get("end"):
        number = ((date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)).day
    else:
        number = int(match.group("day"))
    try:
        day = date(year, month, number)
    except ValueError:
        return None
    if not groups.get("year") and day < pub:
        return _date_next_year(day)
    return day


def _date_next_year(day: date) -> date | None:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return None


def _when(found: dict[str, _Part], published: datetime, due: datetime, zone: ZoneInfo) -> datetime | None:
    """Combine a date part and/or a time part into a UTC instant, relative to publication, in ``zone``."""
    pub, due_local = published.astimezone(zone), due.astimezone(zone)
    hour, minute, extra = (due_local.hour, due_local.minute, 0)
    if "time" in found:
        hour, minute, extra = _clock(found["time"].match)
    weekly = False
    if "date" in found:
        named = _date(found["date"].match, pub.date())
        if named is None:
            return None
        day = named
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


@dataclass(frozen=True)
class _Context:
    """What a reading is relative to: the publication, the current due time, the base amounts are added to."""

    published: datetime
    due: datetime
    base: datetime
    zone: ZoneInfo


def _duration_reading(cue: _Cue, cue_text: str, gap: str, m: re.Match[str], ctx: _Context) -> ExtensionReading | None:
    """A duration right after a cue: an amount added to the base ("by 48 hours", "another week"), a span from
    the publication ("to two weeks", "gives Russia 10 days", "new deadline: 10 days"), or None."""
    prep_gap = _PREP_GAP.fullmatch(gap)
    prep = prep_gap.group("prep").lower() if prep_gap else None
    direct = _BARE_GAP.fullmatch(gap) is not None
    if m.group("lead") or m.group("more"):
        if not (prep_gap or _WORDS_GAP.fullmatch(gap)):
            return None
        kind = "added"
    elif prep in ("by", "for") or (prep == "of" and cue.kind == "extension"):
        kind = "added"
    elif prep in ("to", "until", "till", "through", "of") or (cue.kind == "noun" and _COLON_GAP.fullmatch(gap)):
        kind = "span"
    elif cue.kind == "give" and prep is None and _WORDS_GAP.fullmatch(gap):
        # "gives Russia 10 days" is news when it is said; "gave Russia 50 days" recalls the span already set
        if cue_text.lower() in ("gave", "granted"):
            return None
        kind = "span"
    elif direct and cue.kind == "verb":
        kind = "added"  # "extends the deadline 30 days"
    else:
        return None
    low, high = _amounts(m)
    unit = m.group("unit")
    if kind == "added":
        sign = -1 if cue.direction == EARLIER and prep == "by" else 1  # "cuts the deadline by two days"
        ends = (ctx.base + sign * low, ctx.base + sign * high)
        new_due = ctx.base + sign * _middle(low, high, unit)
    else:
        ends = (_from_publication(low, unit, ctx.published, ctx.zone),
                _from_publication(high, unit, ctx.published, ctx.zone))
        new_due = _from_publication(_middle(low, high, unit), unit, ctx.published, ctx.zone)
    earliest, latest = min(ends), max(ends)
    ranged = earliest != latest
    return ExtensionReading(new_due, cue_text, earliest if ranged else None, latest if ranged else None)


def _read_after(cue: _Cue, cue_text: str, span: str, ctx: _Context) -> ExtensionReading | None:
    """The new due time named right after a cue ("to 5 p.m. Monday", "until March 6", "by 48 hours")."""
    parts = _parts(span)
    ends_in_prep = _CUE_PREP.search(cue_text.rstrip()) is not None
    for index, first in enumerate(parts):
        gap = span[: first.start]
        if first.kind == "duration":
            if ends_in_prep and _BARE_GAP.fullmatch(gap):
                gap = " to "  # "stayed the case until 10 days ..." reads as "to 10 days"
            reading = _duration_reading(cue, cue_text, gap, first.match, ctx)
            if reading is not None:
                return reading
            continue
        if not (_PREP_GAP.fullmatch(gap) or (ends_in_prep and _BARE_GAP.fullmatch(gap))
                or (cue.kind == "noun" and _COLON_GAP.fullmatch(gap))):
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
        moment = _when(found, ctx.published, ctx.due, ctx.zone)
        return None if moment is None else ExtensionReading(moment, cue_text)
    return None


def _qualified_after(block: str, cue_end: int) -> bool:
    """Whether the words right of a cue, to the end of its clause, hedge or negate it ("an extension is likely").

    Dates and times in those words are blanked first, so "to May 5" is not read as "may".
    """
    rest = block[cue_end: cue_end + _AROUND]
    clause = _CLAUSE_END.search(rest)
    rest = rest[: clause.start()] if clause else rest
    for part in _parts(rest):
        rest = rest[: part.start] + " " * (part.end - part.start) + rest[part.end:]
    window = " ".join(rest.split()[:RIGHT_WORDS])
    for hit in _RIGHT.finditer(window):
        before = window[: hit.start()].split()
        if hit.group(0).lower() == "if" and before and before[-1].lower() in _ASKS:
            continue
        return True
    return False


def _noun_use(block: str, cue: re.Match[str]) -> bool:
    """ "the extended deadline", "its shortened deadline": a participle qualifying the noun, not a report."""
    first = cue.group(0).split(maxsplit=1)[0].lower()
    return first.endswith("ed") and _DETERMINER.search(block[max(0, cue.start() - 20): cue.start()]) is not None


def _direction_ok(direction: int, new_due: datetime, base: datetime) -> bool:
    if direction == LATER:
        return new_due > base
    if direction == EARLIER:
        return new_due < base
    return True


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
                   extra_cues: Sequence[str] = (), subjects: re.Pattern[str] | None = None, *,
                   relative_to: datetime | None = None) -> ExtensionReading | None:
    """The new due time an item's text reports, or None (no cue, a hedged, negated or noun-use cue, no readable
    time, or a time the cue's direction rules out).

    Dates are read relative to ``published`` in ``zone_name``: a weekday is its next occurrence after
    publication, a month-day without a year the next one on or after the publication date, a date without a
    time keeps the current due time of day, a time without a date keeps the due day. Amounts ("by 48 hours",
    "72 more hours", "a 72-hour extension") are added to ``relative_to`` (the deadline in force when the change
    was first reported) or, without it, to ``due``. The cue's direction must hold against that base or against
    ``due`` ("extends" must give a later time, "cuts" an earlier one). Spans ("gives Russia 10 days") count from the
    publication (module docstring). The time must be after the publication and within a year of the base.
    Config ``extra_cues`` allow either direction. With ``subjects`` (from :func:`subject_pattern`), only a
    line of the text (title or summary) that names a subject counts, so "OpenAI deadline extended" does not
    move Anthropic's deadline.
    """
    zone = ZoneInfo(zone_name)
    base = relative_to or due
    ctx = _Context(published, due, base, zone)
    extra = [_cue(r"\b" + re.escape(c.strip()).replace(r"\ ", r"\s+") + r"\b", EITHER) for c in extra_cues if c.strip()]
    for block in text.split("\n"):
        if subjects is not None and not subjects.search(fold(block)):
            continue  # this line is not about the deadline's subject (fold keeps length, so search is enough)
        found = [(m, cue) for cue in (*_CUES, *extra) for m in cue.regex.finditer(block)]
        found.sort(key=lambda f: (f[0].start(), -(f[0].end() - f[0].start())))
        tried: set[int] = set()
        for match, cue in found:
            if match.start() in tried or _noun_use(block, match):
                continue  # the longest cue at a position decides: "moves the deadline up" is not "moves the deadline"
            tried.add(match.start())
            low = max(0, match.start() - _AROUND)
            mode, _ = modality.before(block[low: match.end() + _AROUND], match.start() - low)
            if mode is not SignalMode.ACT or _qualified_after(block, match.end()):
                continue
            reading = _reading(block, match, cue, ctx)
            if reading is None or reading.new_due <= published or abs(reading.new_due - base) > timedelta(days=366):
                continue
            if any(_direction_ok(cue.direction, reading.new_due, ref) for ref in (base, due)):
                return ExtensionReading(reading.new_due, match.group(0), reading.earliest, reading.latest)
    return None


def _reading(block: str, match: re.Match[str], cue: _Cue, ctx: _Context) -> ExtensionReading | None:
    """The time a cue names: right after it, else an "N-hour extension" right before it, else in the cue
    itself (a config cue such as "another 75 days")."""
    span = block[match.end(): match.end() + 90]
    end = _SPAN_END.search(span)
    reading = _read_after(cue, match.group(0), span[: end.start()] if end else span, ctx)
    if reading is not None:
        return reading
    if cue.kind == "extension":
        before = block[max(0, match.start() - 60): match.start()]
        left = _DURATION_LEFT.search(before)
        if left and (left.group("n") or left.group("lead")) and not _NAMED_SPAN.search(before[: left.start()]):
            low, high = _amounts(left)
            return ExtensionReading(ctx.base + _middle(low, high, left.group("unit")), "")
    inside = _DURATION_RE.search(match.group(0))
    if inside and (inside.group("lead") or inside.group("more")):
        low, high = _amounts(inside)
        return ExtensionReading(ctx.base + _middle(low, high, inside.group("unit")), "")
    return None
