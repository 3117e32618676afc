"""Use-cases: poll feeds, process evidence, check deadlines, watch our own health, deliver the outbox.

The poll pass (fetch, record each feed's result) is :mod:`monitor.app.poll`, mixed into :class:`Service`; this
module holds the tick, the story side of a feed's items and the recording of developments. The same code runs
in ``monitor poll``, the daemon and replay; only the clock and the fetcher differ.
Invariant 1 (record first, deliver second): a development and its outbox rows are written in the same
transaction as the state change that caused them. Invariant 2: items are stored (seen) in the same
transaction that processes them, and a fetch's validators are stored in that transaction too (a first poll
with no news has nothing to process: its items are seen once stored, many feeds to a transaction;
:mod:`monitor.app.seeds`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.app import watchdog
from monitor.app.deadlines import deadline_thread_states
from monitor.app.deliver import deliver_due, message_context
from monitor.app.poll import MAX_NEW_ITEMS_PER_POLL, FeedPolling, PollReport
from monitor.app.seeds import SeedBatch
from monitor.app.story_parts import StoryStates
from monitor.clock import Clock
from monitor.config.schema import FeedConfig, Settings, StoryConfig
from monitor.domain import Confidence, Development, Item, iso_utc
from monitor.ingest.fetch import Fetcher
from monitor.notify.routing import channel_wants, channels_of, release_time
from monitor.story.compiled import compile_stories
from monitor.story.deadlines import (
    DeadlineState,
    evaluate,
    initial_deadline_state,
    read_extensions,
    reminder_offsets,
)
from monitor.story.reducer import advance

if TYPE_CHECKING:
    from monitor.ingest.fetch import Fetcher
    from monitor.store.db import Store, Tx
    from monitor.story.deadlines import DeadlineState

log = logging.getLogger("monitor.app.service")
RECENT_FOR_DEADLINES = timedelta(hours=48)
STALE_DEADLINE = timedelta(days=1)
__all__ = ["MAX_NEW_ITEMS_PER_POLL", "PollReport", "Service", "TickReport", "fetcher_for"]


@dataclass
class TickReport:
    polls: list[PollReport] = field(default_factory=list)
    developments: list[Development] = field(default_factory=list)
    delivered: int = 0
    delivery_failures: int = 0


def fetcher_for(settings: Settings, clock: Clock) -> Fetcher:
    """A fetcher with the config's user agent, caps, timeouts and concurrency (the service's, `monitor try`'s)."""
    m = settings.monitor
    return Fetcher(user_agent=m.effective_user_agent, max_bytes=m.max_body_bytes,
                   overall_timeout=m.fetch_timeout.total_seconds(), max_redirects=m.max_redirects,
                   concurrency=m.concurrency, per_host=m.per_host_concurrency, clock=clock)


class Service(FeedPolling):
    """One monitor's work against one store. Not thread-safe: the daemon runs one tick at a time."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock,
        record_dir: Path | None = None,
        fetcher: Fetcher | None = None,
        rng: random.Random | None = None,
        deliver: bool = True,
        worker_id: str = "worker",
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.record_dir = record_dir
        self.rng = rng or random.Random()
        self.deliver_enabled = deliver
        self.worker_id = worker_id
        self._fetcher = fetcher
        self._synced = False
        self._deadline_cache: tuple[datetime, dict[tuple[str, str], DeadlineState]] | None = None
        self._quiet: list[tuple[FeedConfig, Any, dict[str, Any]]] | None = None  # see poll_feeds
        self._open: Tx | None = None  # see FeedPolling._writing
        self._seeds: SeedBatch | None = None  # see poll_feeds
        self._created: list[Development] = []  # stored as new since the tick began: TickReport.developments
        self.story_states = StoryStates()  # each story's committed state, in memory between polls
        self.compiled = compile_stories(settings)

    def reload(self, settings: Settings) -> None:
        """Use a newly loaded config from the next tick on (SIGHUP): feeds are synced again, the fetcher and
        caches rebuilt from the new settings."""
        self.settings = settings
        self.story_states.clear()
        self._synced = False
        self._fetcher = None
        self._deadline_cache = None
        self.compiled = compile_stories(settings)

    # ------------------------------------------------------------------------------------- tick
    def tick(self, feed_ids: Iterable[str] | None = None, force: bool = False,
             progress: Callable[[int, int], None] | None = None) -> TickReport:
        """One pass: poll due feeds (or the given ones), check deadlines and our own health, deliver.

        ``progress(done, total)`` is called as the feeds are polled (``monitor poll``'s progress bar)."""
        report = TickReport()
        self._created = []
        now = self.clock()
        report.polls = self.poll_feeds(now, feed_ids=feed_ids, force=force, progress=progress)
        now = self.clock()
        self.check_deadlines(now)
        self.check_blind(now)
        # every development this tick stored as new: thread moves and new developments read from the feeds'
        # items, feed failing/recovered alerts, deadline events, blindness
        report.developments = list(self._created)
        if self.deliver_enabled:

            sent, failed = deliver_due(self.settings, self.store, self.clock(), self.worker_id, self.rng)
            report.delivered, report.delivery_failures = sent, failed
        return report

    def sync_feeds(self, now: datetime) -> None:
        if not self._synced:
            with self.store.write() as tx:
                tx.sync_feeds(self.settings.feeds, now)
            self._synced = True

    @property
    def fetcher(self) -> Fetcher:
        """The fetcher of the config (built once; rebuilt after a reload)."""
        if self._fetcher is None:
            self._fetcher = fetcher_for(self.settings, self.clock)
        return self._fetcher

    # ------------------------------------------------------------------------------- processing
    def process_items(self, tx: Tx, feed: FeedConfig, items: Sequence[Item], now: datetime) -> list[Development]:
        """Run new items through every story the feed serves: thread states, new developments, extensions."""

        if not items:
            return []
        ordered = sorted(items, key=lambda i: (i.published, i.feed_id, i.item_id))
        developments: list[Development] = []
        for story in self.settings.stories_of(feed):
            state = self.story_states.load(tx, story)
            # in place: the committed state is handed over by load (no copy of it), and dropped if this fails
            outcome = advance(self.compiled[story.id], state, ordered, now, in_place=True)
            self.story_states.save(tx, story.id, outcome.state, self._thread_rows(story, outcome.state), now)
            developments.extend(outcome.developments)
            for deadline in story.deadlines:
                raw_d = tx.load_deadline_state(story.id, deadline.id)
                d_state = DeadlineState.from_json(raw_d) if raw_d else initial_deadline_state(story, deadline)
                d_state, d_devs = read_extensions(story, deadline, d_state, ordered, now,
                                                  relevance=self.compiled[story.id].relevance)
                tx.save_deadline_state(story.id, deadline.id, d_state.due_at, d_state.to_json(), now)
                developments.extend(d_devs)
        for dev in developments:
            self.record(tx, dev, now)
        return developments

    @staticmethod
    def _thread_rows(story: StoryConfig, state: Any) -> Mapping[str, tuple[str, datetime | None, str | None]]:
        return {
            thread_id: (status.state, status.since, status.development)
            for thread_id, status in state.threads.items()
        }

    def check_deadlines(self, now: datetime) -> list[Development]:
        """Reminders, passing and resolution of every deadline, as of ``now``."""

        developments: list[Development] = []
        with self.store.write() as tx:
            for story in self.settings.stories:
                if not story.deadlines:
                    continue
                threads = deadline_thread_states(tx, story)
                recent = tx.developments(story_id=story.id, since=now - RECENT_FOR_DEADLINES)
                started = tx.get_meta("monitor.first_tick_at")
                watching_since = datetime.fromisoformat(started[0]) if started else now
                for deadline in story.deadlines:
                    raw = tx.load_deadline_state(story.id, deadline.id)
                    state = DeadlineState.from_json(raw) if raw else initial_deadline_state(story, deadline)
                    if raw is not None and state.original_due_at != deadline.due_utc:
                        # the configured due time was edited: start that deadline afresh from the new time
                        state = initial_deadline_state(story, deadline)
                        raw = None
                    if state.passed_at is None and state.due_at < watching_since - STALE_DEADLINE:
                        # it fell long before this database started watching (a new install, an old story,
                        # a backfill that stored a state first): record it as passed quietly instead of
                        # announcing months-old news as if it had just happened
                        state = replace(state, passed_at=state.due_at, reminders_sent=reminder_offsets(deadline))
                        raw = None
                        log.info("deadline %s/%s fell before monitoring began; not announced", story.id, deadline.id)
                    new_state, devs = evaluate(story, deadline, state, thread_states=threads.states, recent=recent,
                                               now=now, unconfirmed=threads.unconfirmed)
                    if new_state != state or raw is None:
                        tx.save_deadline_state(story.id, deadline.id, new_state.due_at, new_state.to_json(), now)
                    for dev in devs:
                        self.record(tx, dev, now)
                    developments.extend(devs)
        return developments

    def check_blind(self, now: datetime) -> list[Development]:
        """One critical development when no enabled feed has succeeded for ``blind_after`` (and one when sight
        returns), never one per tick."""
        with self.store.write() as tx:
            feeds = [f for f in tx.feeds() if f.enabled]
            started = tx.get_meta("monitor.first_tick_at")
            if not feeds or started is None:
                if started is None:
                    tx.set_meta("monitor.first_tick_at", iso_utc(now), now)
                return []
            successes = [f.last_success_at for f in feeds if f.last_success_at]
            last_success = max(successes) if successes else None
            watching_since = datetime.fromisoformat(started[0].replace("Z", "+00:00"))
            blind = watchdog.is_blind(last_success, watching_since, self.settings.monitor.blind_after, now)
            flagged = tx.get_meta("monitor.blind")
            if blind == bool(flagged and flagged[0] == "1"):
                return []
            tx.set_meta("monitor.blind", "1" if blind else "0", now)
            dev = watchdog.blind(last_success or watching_since, now) if blind else watchdog.sight_restored(now)
            self.record(tx, dev, now)
            return [dev]

    # ------------------------------------------------------------------------------- recording
    def record(self, tx: Tx, dev: Development, now: datetime) -> None:
        """Store a development (or its newer version) and queue it for every channel that now wants it.

        The message context (thread line, countdown, titles) is computed here, once, from the state this
        transaction has just written, and stored with the outbox rows: delivery shows the story as it stood now.
        """

        is_new, previous = tx.upsert_development(dev, now)
        if is_new:
            self._created.append(dev)
        upgraded = not is_new and previous == Confidence.REPORTED and dev.confidence == Confidence.CONFIRMED
        if not (is_new or upgraded):
            return
        context: dict[str, Any] | None = None
        for channel in channels_of(self.settings):
            if not channel_wants(channel, dev):
                continue
            raised = bool(dev.details.get("raised_on_confirmation"))
            if upgraded and channel.min_confidence != Confidence.CONFIRMED and not raised:
                continue  # that channel already had the reported version (unless it was held at warning)
            if context is None:
                context = message_context(self.settings, tx, dev, now)
            tx.enqueue(dev.key, channel.id, confidence=dev.confidence, release_at=release_time(channel, dev, now),
                       now=now, targets=len(channel.urls), context=context)

