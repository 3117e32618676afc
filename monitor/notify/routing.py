"""Which channel wants which development, and when it may be sent. Pure: ``now`` is always an argument.

The store writes one outbox row per (development, channel) for which :func:`channel_wants` is true, with
``next_attempt_at = release_time(...)``; a failed attempt is rescheduled with :func:`retry_at`.

Decisions a reader may not guess:

- ``min_confidence`` only filters story news (``thread.changed`` and ``story.new_development``): a deadline
  reminder or an operations alert is our own observation, not a report to corroborate.
- ``stories`` does not filter operations developments (``ops.*``): they are about the monitor, not a story, and a
  channel opts in or out of them with ``kinds``.
- Digest channels hold everything, critical included, until the next cron fire in the channel's zone; the user
  chose a digest for that channel (add an immediate channel for critical alerts). Quiet hours do not apply to
  digests: the cron expression already says when the user wants to read.
- Quiet hours hold non-critical developments on immediate channels until the window ends (channel zone,
  daylight-saving aware); critical ones go at once.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config.schema import ChannelConfig, Settings
from monitor.domain import Development, DevelopmentKind, Severity

CONSOLE_URL = "console://"

CONSOLE_CHANNEL = ChannelConfig(
    id="console",
    urls=(CONSOLE_URL,),
    format="text",
    min_severity=Severity.INFO,
)
"""The built-in channel used when no ``[[channels]]`` are configured: prints to the daemon's output."""

# Kinds whose confidence (reported vs confirmed) is meaningful; see the module docstring.
_CONFIDENCE_KINDS = frozenset({DevelopmentKind.THREAD_CHANGE, DevelopmentKind.NEW_DEVELOPMENT})
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def channel_wants(channel: ChannelConfig, dev: Development) -> bool:
    """True when ``dev`` passes the channel's severity, kinds, stories and confidence filters.

    A story development below ``min_confidence`` is not wanted *yet*: the caller asks again when the same
    development key is upgraded to confirmed.
    """
    if dev.severity < channel.min_severity:
        return False
    # config validation allows exact kinds and prefixes ("deadline.", "ops."); startswith covers both
    if channel.kinds and not any(dev.kind.value.startswith(kind) for kind in channel.kinds):
        return False
    if channel.stories and not dev.kind.is_operations and dev.story_id not in channel.stories:
        return False
    return not (dev.kind in _CONFIDENCE_KINDS and dev.confidence.rank < channel.min_confidence.rank)


def release_time(channel: ChannelConfig, dev: Development, now: datetime) -> datetime:
    """The earliest UTC instant the development may be sent on this channel (``now`` when immediate)."""
    _require_aware(now)
    if channel.mode == "digest":
        return next_digest_time(channel, now)
    if channel.quiet_hours and dev.severity < Severity.CRITICAL:
        end = quiet_hours_end(channel.quiet_hours, channel.zone, now)
        if end is not None:
            return end
    return now


def next_digest_time(channel: ChannelConfig, now: datetime) -> datetime:
    """The next fire of ``digest_cron`` in the channel's zone at or after ``now``, in UTC.

    Every development arriving between two fires gets the same release instant, so the caller can group the
    rows of one channel by release time into one digest message.
    """
    from apscheduler.triggers.cron import CronTrigger  # the import costs time; only digest channels need it

    _require_aware(now)
    trigger = CronTrigger.from_crontab(channel.digest_cron, timezone=ZoneInfo(channel.zone))
    fire = trigger.get_next_fire_time(None, now)
    if fire is None:  # a cron expression that never fires again (cannot happen with 5 fields, but be safe)
        return now
    return fire.astimezone(UTC)


def quiet_hours_end(quiet_hours: str, zone: str, now: datetime) -> datetime | None:
    """When ``now`` is inside the daily window ``"HH:MM-HH:MM"`` (local time in ``zone``), its end in UTC.

    None when outside the window. The window may span midnight (``"22:00-07:00"``). An end that falls in a
    daylight-saving gap is moved forward by the gap (02:30 on a spring-forward night -> 03:30); an end in a
    repeated hour is its first occurrence. Equal start and end mean no quiet hours.
    """
    _require_aware(now)
    start, end = parse_quiet_hours(quiet_hours)
    if start == end:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # spans midnight: inside in the evening (end is tomorrow) or in the early morning (end is today)
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    # a wall time in a DST gap has no instant; round-tripping through UTC moves it past the gap
    release = datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)
    return max(release, now)


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """``"22:00-07:00"`` -> (22:00, 07:00). Raises ValueError with a hint for an impossible time."""
    match = _QUIET.match(text.strip())
    if not match:
        raise ValueError(f"quiet_hours: cannot read {text!r}; write it like '22:00-07:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"quiet_hours: {text!r} is not a time of day; hours 0-23, minutes 0-59")
    return time(h1, m1), time(h2, m2)


def retry_at(
    attempts: int,
    now: datetime,
    *,
    rng: random.Random,
    base: timedelta = timedelta(seconds=30),
    cap: timedelta = timedelta(hours=1),
) -> datetime:
    """When to try again after ``attempts`` failed attempts: exponential backoff with "equal jitter".

    The delay doubles from ``base`` per attempt up to ``cap``; the actual wait is uniform in [delay/2, delay], so
    retries of many rows spread out (no thundering herd) yet never come sooner than half the backoff.
    """
    _require_aware(now)
    exponent = min(max(attempts, 1) - 1, 32)  # beyond 2**32 the cap has long been reached; avoid huge ints
    delay = min(cap.total_seconds(), base.total_seconds() * (2**exponent))
    wait = delay / 2 + rng.uniform(0, delay / 2)
    return now + timedelta(seconds=wait)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (UTC inside the monitor)")


def channels_of(settings: Settings) -> tuple[ChannelConfig, ...]:
    """The configured channels, or the built-in console channel when there are none."""
    return settings.channels or (CONSOLE_CHANNEL,)
