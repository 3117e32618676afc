"""Parsing and formatting of human durations such as ``10m``, ``2h``, ``1d 6h``, ``90s``. Pure."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
MAX_DURATION = timedelta(days=36500)
"""The longest duration accepted (100 years): anything longer is a typo, and would overflow date arithmetic."""


def parse_duration(text: str) -> timedelta:
    """``"1d 6h"`` -> 30 hours. Raises ValueError with a hint for anything else (no bare numbers), and for a
    duration longer than :data:`MAX_DURATION` (never OverflowError)."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise ValueError("empty duration; write it like '10m', '2h' or '1d'")
    pos = 0
    total = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    shown = text if len(text) <= 40 else text[:37] + "..."
    if pos != len(cleaned):
        raise ValueError(f"cannot read {shown!r} as a duration; write it like '90s', '10m', '2h', '1d' or '1d 6h'")
    if total > MAX_DURATION.total_seconds():  # also inf, from a number too long for a float
        raise ValueError(f"{shown!r} is too long; the longest duration is '36500d' (100 years)")
    return timedelta(seconds=total)


def format_duration(delta: timedelta, parts: int = 2) -> str:
    """A short, exact-enough human form: ``2 d 4 h``, ``2 h 13 min``, ``45 s``. Sign is ignored."""
    seconds = abs(int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    pieces: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        count, seconds = divmod(seconds, size)
        if count or pieces:
            pieces.append((count, unit))
    shown = [f"{count} {unit}" for count, unit in pieces[:parts] if count]
    return " ".join(shown) if shown else "0 min"


def countdown(due_delta: timedelta) -> str:
    """``in 2 h 13 min`` for a future instant, ``passed 3 h ago`` for a past one."""
    if due_delta.total_seconds() >= 0:
        return f"in {format_duration(due_delta)}"
    return f"passed {format_duration(due_delta)} ago"
