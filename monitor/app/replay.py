"""Replay: an archive through the same service code with a simulated clock, sending nothing.

Files are processed in time order with the clock set to each file's time; time-driven work (deadline
reminders, passing) fires at its exact instants in between. The same archive always gives the same
developments (the service's randomness is seeded and every key is deterministic).
"""

from __future__ import annotations

import hashlib
import logging
import random
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from monitor.app.deadlines import load_deadline_states
from monitor.app.service import Service
from monitor.clock import FixedClock
from monitor.config.schema import Settings
from monitor.domain import Development
from monitor.errors import UsageError
from monitor.ingest.archive import ArchivedFetch, archived_feed_ids, file_name, read_archive
from monitor.ingest.fetch import FetchResult
from monitor.store.db import Store
from monitor.story.deadlines import next_due_instants

log = logging.getLogger("monitor.app.replay")


def replay_archive(settings: Settings, root: Path, *, db_url: str | None = None, progress: bool = False,
                   until: datetime | None = None) -> list[Development]:
    """Replay ``root`` into ``db_url`` (default: a fresh temporary SQLite database); return every development
    stored, in time order."""

    configured = [f.id for f in settings.feeds]
    fetches = read_archive(root, set(configured))
    check_archive(root, configured, fetches)
    with tempfile.TemporaryDirectory(prefix="monitor-replay-") as tmp:
        url = db_url or f"sqlite:///{Path(tmp) / 'replay.db'}"
        store = Store.open(url)
        try:
            _run(settings, store, fetches, progress, until)
            with store.read() as tx:
                return tx.developments()
        finally:
            store.close()


def check_archive(root: Path, configured: Sequence[str], fetches: Sequence[ArchivedFetch]) -> None:
    """Say what a replay of ``root`` leaves out: UsageError (exit 2) when it holds no fetch of a configured feed
    (naming the feed ids it has), a warning naming the feed ids it has that the config does not."""
    found = archived_feed_ids(root)
    unused = [feed_id for feed_id in found if feed_id not in configured]
    if not fetches:
        example = f"FEED_ID/{file_name(datetime(2026, 2, 27, 22, 1, tzinfo=UTC))}"
        if not found:
            raise UsageError(f"{root} holds no archived fetch: an archive has a folder per feed id with a file per "
                             f"fetch ({example}), as `monitor poll --record DIR` writes it")
        raise UsageError(f"{root} holds no fetch of a configured feed: it has fetches of the feed ids "
                         f"{_listed(found)}; the configured feed ids: {_listed(configured)}")
    if unused:
        log.warning("replay: %s: fetches of feed ids not in the config are left out: %s", root, _listed(unused))


def _listed(ids: Sequence[str], limit: int = 20) -> str:
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return (", ".join(ids[:limit]) + more) or "none"


def _run(settings: Settings, store: object, fetches: list[ArchivedFetch], progress: bool,
         until: datetime | None) -> None:

    if not fetches:
        return
    clock = FixedClock(fetches[0].at)
    service = Service(settings, store, clock=clock, deliver=False, rng=random.Random(0))  # type: ignore[arg-type]
    service.sync_feeds(fetches[0].at)
    bar = _progress(len(fetches)) if progress else None
    for fetch in fetches:
        _time_driven_until(service, clock, fetch.at)
        clock.set(fetch.at)
        body = fetch.body()
        result = FetchResult(
            feed_id=fetch.feed_id, requested_url="", final_url="", status=200, body=body, headers={},
            not_modified=False, permanent_redirect=None, error=None, retry_after=None, gone=False,
            started_at=fetch.at, elapsed_s=0.0, body_sha256=hashlib.sha256(body).hexdigest(),
        )
        service.ingest(result, body_time=fetch.at)
        service.check_deadlines(fetch.at)
        if bar is not None:
            bar.advance()
    _time_driven_until(service, clock, until or fetches[-1].at)
    if bar is not None:
        bar.close()


def _time_driven_until(service: object, clock: FixedClock, target: datetime) -> None:
    """Fire every deadline instant (reminder, due) that falls between the clock and ``target``, in order."""

    assert isinstance(service, Service)
    settings = service.settings
    for _ in range(10_000):  # bounded: each pass handles at least one instant
        states = load_deadline_states(settings, service.store)
        instants = [
            t
            for story in settings.stories
            for deadline in story.deadlines
            for t in next_due_instants(story, deadline, states[(story.id, deadline.id)])
            if clock.now < t <= target
        ]
        if not instants:
            return
        moment = min(instants)
        clock.set(moment)
        service.check_deadlines(moment)


class _progress:
    """A Rich progress bar on stderr (only on a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.start()
        self._task = self._progress.add_task("replaying", total=total)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def close(self) -> None:
        self._progress.stop()

