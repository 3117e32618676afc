"""When to poll a feed next. Pure: ``now`` and the random source are passed in.

After a success: the feed's interval (shorter near a deadline: the caller passes the surge interval), never
below the server's caching floor (Cache-Control max-age / Expires) unless the feed's config says to ignore it,
with a little jitter so feeds sharing an interval do not all fire in the same second. After a failure:
exponential backoff with full-range jitter, capped, never before the server's Retry-After, and never "stop".
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_FLOOR = timedelta(days=1)  # a server asking us to wait a week must not silence a feed for a week
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.I)


def cache_floor(headers: Mapping[str, str], now: datetime, cap: timedelta = MAX_FLOOR) -> timedelta | None:
    """The minimum wait the server asks for: Cache-Control max-age, else Expires - now, capped at ``cap`` (the
    caller passes ``backoff_cap``; never more than a day): a server cannot push a feed's next poll further
    away than a failing feed's.

    None when the server says nothing usable (or no-cache/no-store, or a time already past).
    Header names are matched case-insensitively.
    """
    cap = min(cap, MAX_FLOOR)
    lower = {k.lower(): v for k, v in headers.items()}
    control = lower.get("cache-control", "")
    if control:
        if _NO_CACHE.search(control):
            return None
        ages = [int(m) for m in _MAX_AGE.findall(control)]
        if ages:
            # s-maxage and max-age may both be present; the longer is still something the server allows.
            age = max(ages)
            return min(timedelta(seconds=min(age, 10**9)), cap) if age > 0 else None
    expires = lower.get("expires", "").strip()
    if expires:
        try:
            moment = parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return None  # "Expires: 0" and friends mean "already expired"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        left = moment - now
        if left > timedelta(0):
            return min(left, cap)
    return None


def next_poll_after_success(
    now: datetime,
    interval: timedelta,
    *,
    floor: timedelta | None,
    jitter: float = 0.1,
    rng: random.Random,
) -> datetime:
    """``now + interval`` jittered by up to ±``jitter`` of it, but never sooner than ``now + floor``."""
    spread = interval.total_seconds() * jitter
    wait = interval + timedelta(seconds=rng.uniform(-spread, spread))
    if floor is not None and wait < floor:
        wait = floor
    return now + max(wait, timedelta(seconds=1))


def next_poll_after_failure(
    now: datetime,
    failures: int,
    *,
    base: timedelta,
    cap: timedelta = timedelta(hours=6),
    retry_after: datetime | None,
    rng: random.Random,
) -> datetime:
    """Backoff after ``failures`` consecutive failures (1 = the first).

    The wait is ``base * 2**(failures-1)`` capped at ``cap``, then jittered into [half, full] of itself
    (so a fleet of failing feeds spreads out but still backs off), and finally pushed back to ``retry_after``
    when the server asked for longer, but never beyond ``now + cap``: a feed cannot silence itself by asking
    for a year (``Retry-After: 999999999999``); its failing alert stays on the backoff clock.
    """
    exponent = min(max(failures, 1) - 1, 40)  # 2**40 * any base already exceeds any sane cap
    raw = min(base.total_seconds() * (2**exponent), cap.total_seconds())
    wait = timedelta(seconds=rng.uniform(raw / 2, raw))
    moment = now + max(wait, timedelta(seconds=1))
    if retry_after is not None and retry_after > moment:
        moment = min(retry_after, now + cap)
    return moment
