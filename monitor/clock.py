"""The one place the wall clock (and the monotonic timer) is read. Everything else receives ``now`` or a
:class:`Clock`; a test (tests/test_layers.py) keeps it that way."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A zero-argument callable returning the current time, timezone-aware UTC."""


def system_clock() -> datetime:
    """The real time in UTC (freezegun moves it in tests)."""
    return datetime.now(UTC)


def monotonic() -> float:
    """Seconds on a clock that never goes back, for measuring how long something took."""
    return time.monotonic()


class FixedClock:
    """A clock that says what it is told: used by replay (each archive file's time) and tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
