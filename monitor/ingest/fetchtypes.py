"""What a feed fetch is asked and what it answers: :class:`FetchRequest`, :class:`FetchResult`, and the small
pieces every part of the fetcher shares (the failure it raises inside itself, Retry-After, readable texts).

Pure: no I/O. ``monitor.ingest.fetch`` re-exports the public names, which is where callers import them from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch, with the validators stored from the last good fetch (for conditional GET)."""

    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    # The configured URL when ``url`` is where a permanent redirect moved the feed: the move is judged as the
    # redirect it was (a public host's move to a private address stays refused on every later poll).
    configured_url: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one fetch. ``body`` is the decoded body on a 2xx, else None.

    ``permanent_redirect`` is the new URL when the chain began with 301/308 hops and ended OK (200/304);
    ``retry_after`` is absolute UTC (from Retry-After on 429/503); ``error`` is short and readable.
    """

    feed_id: str
    requested_url: str
    final_url: str
    status: int | None
    body: bytes | None
    headers: Mapping[str, str]
    not_modified: bool
    permanent_redirect: str | None
    error: str | None
    retry_after: datetime | None
    gone: bool
    started_at: datetime
    elapsed_s: float
    body_sha256: str | None
    redirects: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True for a usable answer: a body (2xx) or 304 Not Modified."""
        return self.error is None


class FetchProblem(Exception):
    """A fetch failure with its readable text (the result's ``error``); raised and caught inside the fetcher,
    never escapes it."""


class DeadlinePassed(FetchProblem):
    """The fetch's overall deadline passed (its text is set where the deadline is known)."""


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as an absolute UTC time: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 366 * 86400))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # HTTP-dates are GMT by definition
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def seconds(value: float) -> str:
    """``30 s``, ``0.1 s``: a timeout as the error texts say it."""
    return f"{value:g} s"


def size(n: int) -> str:
    """``10 MiB`` for whole mebibytes, else ``262144 bytes``."""
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n} bytes"


def brief(exc: BaseException) -> str:
    """An exception's text on one line, at most 120 characters (its type name when it has no text)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
