"""Feed dates: the RFC 822 regex gives parsedate_to_datetime's instant (or declines to it)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.feeddates import _RFC822, feed_date

DAYS = st.sampled_from(["", "Mon, ", "Tue, ", "Fri,", "mon, ", "Sun , "])
MONTHS = st.sampled_from(["Jan", "Feb", "Jun", "Dec", "dec", "June", "Xyz"])
ZONES = st.sampled_from(["GMT", "UT", "UTC", "Z", "+0000", "-0000", "+0530", "-0800", "+2359", "+2400", "+0590",
                         "EST", "PDT", "gmt", "", "+05:30", "-9999"])


@st.composite
def rfc822(draw: st.DrawFn) -> str:
    day = draw(st.sampled_from(["1", "01", "09", "28", "29", "30", "31", "0", "32", "7"]))
    year = draw(st.sampled_from(["2026", "1999", "2024", "1900", "0099", "99", "2100", "3000"]))
    time = draw(st.sampled_from(["00:00:00", "23:59:59", "24:00:00", "12:60:00", "11:23", "11:23:00.5", "7:05:00"]))
    return f"{draw(DAYS)}{day} {draw(MONTHS)} {year} {time} {draw(ZONES)}".strip()


def reference(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@settings(max_examples=3000, deadline=None)
@given(rfc822())
def test_the_regex_gives_parsedate_to_datetimes_instant(text: str) -> None:
    if _RFC822.match(text):
        expected = reference(text)
        got = feed_date(text, iso=False)
        if expected is None:  # no such day: both go on to feedparser's formats
            return
        assert got == expected


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)), st.booleans())
def test_every_written_date_takes_the_regex(moment: datetime, gmt: bool) -> None:
    """So the property above compares something: the dates feeds write do match the regex."""
    text = format_datetime(moment.replace(microsecond=0, tzinfo=UTC), usegmt=gmt)
    assert _RFC822.match(text)
    assert feed_date(text, iso=False) == moment.replace(microsecond=0, tzinfo=UTC)
