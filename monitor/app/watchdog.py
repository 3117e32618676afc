"""Operations developments: the monitor reporting on itself (failing feeds, blindness, dead deliveries). Pure.

These are what keep the daemon from going blind silently (DESIGN.md invariant 6): each is raised on a change
of state (failing -> recovered, seeing -> blind), never once per tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from monitor.domain import Confidence, Development, DevelopmentKind, Severity, iso_utc


def ops_development(kind: DevelopmentKind, key: str, now: datetime, title: str, summary: str, severity: Severity,
                    details: Mapping[str, Any]) -> Development:
    """An operations development: no story, always confirmed (we observed it ourselves)."""
    return Development(key=f"ops:{key}", kind=kind, story_id="", at=now, title=title, summary=summary,
                       severity=severity, confidence=Confidence.CONFIRMED, details=dict(details))


def feed_failing(feed_id: str, failures: int, error: str, next_poll: datetime | None, now: datetime) -> Development:
    retry = iso_utc(next_poll) if next_poll else "never (disabled)"
    return ops_development(
        DevelopmentKind.FEED_FAILING, f"{feed_id}:failing:{iso_utc(now)}", now, f"Feed {feed_id} is failing: {error}",
        f"{failures} failed poll(s) in a row; last error: {error}. Next attempt {retry}.", Severity.WARNING,
        {"feed": feed_id, "failures": failures},
    )


def feed_recovered(feed_id: str, now: datetime) -> Development:
    return ops_development(
        DevelopmentKind.FEED_RECOVERED, f"{feed_id}:recovered:{iso_utc(now)}", now, f"Feed {feed_id} recovered",
        f"Feed {feed_id} polls normally again.", Severity.NOTICE, {"feed": feed_id},
    )


def is_blind(last_success: datetime | None, watching_since: datetime, blind_after: timedelta, now: datetime) -> bool:
    """No feed has succeeded for ``blind_after``, counted from the last success, else from when we started."""
    return now - (last_success or watching_since) > blind_after


def blind(since: datetime, now: datetime) -> Development:
    return ops_development(
        DevelopmentKind.MONITOR_BLIND, f"blind:{iso_utc(now)}", now, "Monitor is blind: no feed has succeeded",
        f"No feed has been fetched successfully since {iso_utc(since)}. Check the network and `monitor feeds`.",
        Severity.CRITICAL, {"since": iso_utc(since)},
    )


def sight_restored(now: datetime) -> Development:
    return ops_development(
        DevelopmentKind.FEED_RECOVERED, f"sight:{iso_utc(now)}", now, "Monitor can see again",
        "Feeds are being fetched successfully again.", Severity.NOTICE, {},
    )
