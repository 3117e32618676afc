"""Feed dates -> aware datetimes, for the fast path (``fastfeed``). Pure.

RSS dates are RFC 822 (``Tue, 01 Dec 2026 11:23:00 GMT``), Atom and Dublin Core ones ISO 8601. The usual RFC 822
shape is read by one regex (``email.utils.parsedate_to_datetime`` is pure Python and costs about ten times as
much); any other shape goes through ``parsedate_to_datetime`` as before, then feedparser's many formats.
The answers are the same instants (``tests/ingest/test_feeddates.py`` checks the regex against
``parsedate_to_datetime``).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}  # not calendar's: that follows the locale
# ASCII digits only: int() reads other scripts' digits too, and those are the general path's business.
_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([12]\d{3}) (\d\d):(\d\d):(\d\d) (?:GMT|UTC?|Z|([+-])([01]\d|2[0-3])([0-5]\d))\Z",
    re.ASCII,
)


def feed_date(text: str | None, iso: bool) -> datetime | None:
    """The instant ``text`` names (whole seconds; an offset-less time is UTC), or None when it names none."""
    if not text:
        return None
    text = text.strip()
    if not text:
        return None
    if not iso:
        match = _RFC822.match(text)
        if match is not None:
            moment = _rfc822(match)
            if moment is not None:
                return moment
    try:
        moment = datetime.fromisoformat(text) if iso else parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        from feedparser.datetimes import _parse_date  # the many odd formats feeds use

        return from_struct(_parse_date(text))
    # Whole seconds, like feedparser's struct_time, so both paths give the same instant.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).replace(microsecond=0)


def _rfc822(match: re.Match[str]) -> datetime | None:
    """``parsedate_to_datetime`` of the text ``_RFC822`` matched, or None when no such instant exists."""
    day, month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    zone = UTC
    if sign is not None:
        offset = int(tz_hours) * 3600 + int(tz_minutes) * 60
        if offset:  # "-0000" is UTC with no claim about the source's zone: the same instant
            zone = timezone(timedelta(seconds=-offset if sign == "-" else offset))
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=zone)
    except ValueError:  # 31 February, hour 24: what parsedate_to_datetime makes of it is its business
        return None


def from_struct(value: Any) -> datetime | None:
    """feedparser's ``struct_time`` (UTC) as an aware datetime; None when it has none or it is out of range."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None
