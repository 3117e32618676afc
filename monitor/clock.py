"""The one place the wall clock is read. Everything else receives ``now`` or a :class:`Clock`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A zero-argument callable returning the current time, timezone-aware UTC."""


def system_clock() -> datetime:
    """The real time in UTC (freezegun moves it in tests)."""
    return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told: used by replay (each archive file's time) and tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
