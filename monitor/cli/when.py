"""How the CLI writes times: ISO UTC, ``3 min ago``, ``in 4 min``, a zone's wall time; and ``--since``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.domain import iso_utc
from monitor.durations import format_duration, parse_duration
from monitor.errors import UsageError


def iso_or_none(moment: datetime | None) -> str | None:
    """``domain.iso_utc`` (``2026-02-27T22:01:00Z``), or None. Status writes three for each of thousands of feeds,
    so the usual case is formatted here, the same text at a third of the cost."""
    if not moment:
        return None
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad these; isoformat would
        return iso_utc(utc)
    return utc.isoformat(timespec="seconds")[:19] + "Z"


def local(moment: datetime, zone: str) -> str:
    """``Fri 2026-02-27 17:01 EST``: the wall time in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def ago(iso: str | None, now: datetime, never: str = "never") -> str:
    """``3 min ago`` for an ISO time (``never`` for none)."""
    if iso is None:
        return never
    return f"{format_duration(now - datetime.fromisoformat(iso), parts=1)} ago"


def due_text(iso: str | None, now: datetime) -> str:
    """``in 4 min`` for an ISO time ahead, ``due now`` for one passed, ``""`` for none."""
    if iso is None:
        return ""
    due = datetime.fromisoformat(iso)
    return f"in {format_duration(due - now, parts=1)}" if due > now else "due now"


def next_poll_text(feed: dict[str, Any], now: datetime) -> str:
    """When a feed (a ``feeds_report`` row) is polled next: ``in 14 min``, ``due now`` (also a feed never
    polled: the next tick polls it) or ``never`` (disabled)."""
    if not feed["enabled"]:
        return "never"
    return due_text(feed["next_poll_at"], now) or "due now"


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: an ISO date/time (UTC if no offset) or a duration ago (``2d``, ``6h``)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since: cannot read {text!r}; give an ISO time like 2026-02-27T12:00 or a duration "
                         "ago like 2d or 6h") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
