"""Routing: which channel wants a development, when it is released (quiet hours, digests, DST) and retry timing."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config.schema import ChannelConfig
from monitor.domain import Confidence, Development, DevelopmentKind, Severity
from monitor.notify.routing import (
    CONSOLE_CHANNEL,
    channel_wants,
    parse_quiet_hours,
    quiet_hours_end,
    release_time,
    retry_at,
)


def channel(**kw: Any) -> ChannelConfig:
    return ChannelConfig(id="c", urls=("json://127.0.0.1/hook",), **kw)


def dev(
    kind: DevelopmentKind = DevelopmentKind.THREAD_CHANGE,
    severity: Severity = Severity.WARNING,
    confidence: Confidence = Confidence.REPORTED,
    story: str = "anthropic-pentagon",
) -> Development:
    return Development(
        key="k",
        kind=kind,
        story_id=story,
        at=datetime(2026, 2, 27, tzinfo=UTC),
        title="t",
        severity=severity,
        confidence=confidence,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ channel_wants
@pytest.mark.parametrize(
    ("settings", "development", "wanted"),
    [
        ({}, dev(severity=Severity.NOTICE), True),  # default min_severity is notice
        ({}, dev(severity=Severity.INFO), False),
        ({"min_severity": "critical"}, dev(severity=Severity.WARNING), False),
        ({"min_severity": "critical"}, dev(severity=Severity.CRITICAL), True),
        ({"kinds": ("deadline.",)}, dev(kind=DevelopmentKind.DEADLINE_PASSED), True),
        ({"kinds": ("deadline.",)}, dev(kind=DevelopmentKind.THREAD_CHANGE), False),
        ({"kinds": ("thread.changed",)}, dev(kind=DevelopmentKind.THREAD_CHANGE), True),
        ({"kinds": ("thread.changed",)}, dev(kind=DevelopmentKind.NEW_DEVELOPMENT), False),
        ({"kinds": ("ops.", "deadline.passed")}, dev(kind=DevelopmentKind.DELIVERY_DEAD), True),
        ({"kinds": ("ops.", "deadline.passed")}, dev(kind=DevelopmentKind.DEADLINE_REMINDER), False),
        ({"stories": ("other",)}, dev(story="anthropic-pentagon"), False),
        ({"stories": ("anthropic-pentagon",)}, dev(story="anthropic-pentagon"), True),
        # operations alerts are about the monitor, not a story: the stories filter does not hide them
        ({"stories": ("other",)}, dev(kind=DevelopmentKind.MONITOR_BLIND, story=""), True),
        ({"min_confidence": "confirmed"}, dev(confidence=Confidence.REPORTED), False),
        ({"min_confidence": "confirmed"}, dev(confidence=Confidence.CONFIRMED), True),
        ({"min_confidence": "confirmed"}, dev(kind=DevelopmentKind.NEW_DEVELOPMENT), False),
        # a deadline reminder is our own clock, not a report to corroborate
        ({"min_confidence": "confirmed"}, dev(kind=DevelopmentKind.DEADLINE_REMINDER), True),
        ({"min_confidence": "confirmed"}, dev(kind=DevelopmentKind.FEED_FAILING), True),
    ],
)
def test_channel_wants_filters_on_severity_kinds_stories_and_confidence(
    settings: dict[str, Any], development: Development, wanted: bool
) -> None:
    assert channel_wants(channel(**settings), development) is wanted


def test_a_reported_development_is_wanted_once_upgraded_to_confirmed() -> None:
    strict = channel(min_confidence="confirmed")
    reported = dev(confidence=Confidence.REPORTED)
    assert not channel_wants(strict, reported)
    assert channel_wants(strict, replace(reported, confidence=Confidence.CONFIRMED))


def test_console_channel_is_a_valid_text_channel_that_wants_everything() -> None:
    assert CONSOLE_CHANNEL.urls == ("console://",)
    assert CONSOLE_CHANNEL.format == "text"
    for kind in DevelopmentKind:
        assert channel_wants(CONSOLE_CHANNEL, dev(kind=kind, severity=Severity.INFO))


# ------------------------------------------------------------------------------------------- release time
def test_immediate_channel_releases_now() -> None:
    now = utc(2026, 2, 27, 3, 0)
    assert release_time(channel(), dev(), now) == now


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Berlin is UTC+1 in February: quiet 22:00-07:00 local is 21:00Z-06:00Z
        (utc(2026, 2, 26, 22, 30), utc(2026, 2, 27, 6, 0)),  # 23:30 local, before midnight -> tomorrow 07:00
        (utc(2026, 2, 27, 1, 0), utc(2026, 2, 27, 6, 0)),  # 02:00 local, after midnight -> today 07:00
        (utc(2026, 2, 26, 21, 0), utc(2026, 2, 27, 6, 0)),  # exactly 22:00 local: inside
        (utc(2026, 2, 27, 6, 0), utc(2026, 2, 27, 6, 0)),  # exactly 07:00 local: outside, released now
        (utc(2026, 2, 27, 12, 0), utc(2026, 2, 27, 12, 0)),  # daytime: now
        # the night the clocks go forward (2026-03-29 02:00 CET -> 03:00 CEST): 07:00 local is 05:00Z
        (utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 5, 0)),
        # the night they go back (2026-10-25 03:00 CEST -> 02:00 CET): 07:00 local is 06:00Z
        (utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 6, 0)),
    ],
)
def test_quiet_hours_hold_non_critical_until_they_end_in_the_channel_zone(now: datetime, expected: datetime) -> None:
    quiet = channel(quiet_hours="22:00-07:00", zone="Europe/Berlin")
    assert release_time(quiet, dev(severity=Severity.WARNING), now) == expected


def test_quiet_hours_do_not_hold_critical_developments() -> None:
    quiet = channel(quiet_hours="22:00-07:00", zone="Europe/Berlin")
    now = utc(2026, 2, 26, 23, 0)
    assert release_time(quiet, dev(severity=Severity.CRITICAL), now) == now


def test_quiet_hours_within_one_day_and_an_end_inside_the_dst_gap() -> None:
    # 01:00-02:30 on 2026-03-29 in Berlin: 02:30 does not exist; the end moves past the gap to 03:30 CEST = 01:30Z
    assert quiet_hours_end("01:00-02:30", "Europe/Berlin", utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1, 30)
    assert quiet_hours_end("01:00-02:30", "Europe/Berlin", utc(2026, 3, 29, 12, 0)) is None
    assert quiet_hours_end("07:00-07:00", "UTC", utc(2026, 3, 29, 7, 0)) is None


@pytest.mark.parametrize("text", ["25:00-07:00", "22:61-07:00", "22-07", ""])
def test_impossible_quiet_hours_are_rejected_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="quiet_hours"):
        parse_quiet_hours(text)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 08:00 in New York: EST (UTC-5) before 2026-03-08, EDT (UTC-4) from then on
        (utc(2026, 3, 6, 14, 0), utc(2026, 3, 7, 13, 0)),  # after today's digest -> tomorrow 08:00 EST
        (utc(2026, 3, 7, 4, 30), utc(2026, 3, 7, 13, 0)),  # 23:30 local on the 6th: across midnight
        (utc(2026, 3, 7, 14, 0), utc(2026, 3, 8, 12, 0)),  # across the DST change: 08:00 EDT is 12:00Z
        (utc(2026, 3, 8, 12, 0), utc(2026, 3, 8, 12, 0)),  # exactly at a fire: released at once
    ],
)
def test_digest_channel_releases_at_the_next_cron_fire_in_its_zone(now: datetime, expected: datetime) -> None:
    digest = channel(mode="digest", digest_cron="0 8 * * *", zone="America/New_York")
    assert release_time(digest, dev(), now) == expected


def test_digest_holds_critical_too_and_ignores_quiet_hours() -> None:
    digest = channel(mode="digest", digest_cron="30 6 * * *", zone="UTC", quiet_hours="22:00-07:00")
    now = utc(2026, 2, 27, 23, 0)
    assert release_time(digest, dev(severity=Severity.CRITICAL), now) == utc(2026, 2, 28, 6, 30)


def test_developments_between_two_digests_share_one_release_time() -> None:
    digest = channel(mode="digest", digest_cron="0 */6 * * *")
    times = {release_time(digest, dev(), utc(2026, 2, 27, 0, 1) + timedelta(minutes=m)) for m in range(0, 359, 7)}
    assert times == {utc(2026, 2, 27, 6, 0)}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        release_time(channel(), dev(), datetime(2026, 2, 27))


# ----------------------------------------------------------------------------------------------- retry_at
@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (1, 15, 30),
        (2, 30, 60),
        (3, 60, 120),
        (5, 240, 480),
        (7, 960, 1920),
        (8, 1800, 3600),  # 3840 s capped at one hour
        (40, 1800, 3600),
        (10_000, 1800, 3600),  # no overflow
        (0, 15, 30),  # treated as the first attempt
    ],
)
def test_retry_backoff_doubles_with_jitter_up_to_the_cap(attempts: int, low: float, high: float) -> None:
    now = utc(2026, 2, 27)
    rng = random.Random(7)
    waits = [(retry_at(attempts, now, rng=rng) - now).total_seconds() for _ in range(200)]
    assert all(low <= w <= high for w in waits)
    assert max(waits) - min(waits) > (high - low) * 0.5  # jitter really spreads retries


def test_retry_uses_the_given_rng_and_base() -> None:
    now = utc(2026, 2, 27)
    first = retry_at(3, now, rng=random.Random(1), base=timedelta(seconds=10), cap=timedelta(minutes=5))
    again = retry_at(3, now, rng=random.Random(1), base=timedelta(seconds=10), cap=timedelta(minutes=5))
    assert first == again
    assert timedelta(seconds=20) <= first - now <= timedelta(seconds=40)
