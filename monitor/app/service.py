"""Use-cases: poll feeds, process evidence, check deadlines, watch our own health, deliver the outbox.

The same code runs in ``monitor poll``, the daemon and replay; only the clock and the fetcher differ.
Invariant 1 (record first, deliver second): a development and its outbox rows are written in the same
transaction as the state change that caused them. Invariant 2: items are stored (seen) in the same
transaction that processes them, and a fetch's validators are stored in that transaction too.
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
from monitor.app.deadlines import deadline_thread_states, load_deadline_states
from monitor.app.deliver import deliver_due, message_context
from monitor.app.story_parts import StoryStates
from monitor.clock import Clock
from monitor.config.schema import FeedConfig, Settings, StoryConfig
from monitor.domain import Confidence, Development, Item, iso_utc
from monitor.ingest import archive
from monitor.ingest.fetch import Fetcher, FetchRequest
from monitor.ingest.parse import parse_feed
from monitor.ingest.schedule import cache_floor, next_poll_after_failure, next_poll_after_success
from monitor.notify.routing import channel_wants, channels_of, release_time
from monitor.store.db import database_unusable
from monitor.story.compiled import compile_stories
from monitor.story.deadlines import (
    DeadlineState,
    evaluate,
    initial_deadline_state,
    read_extensions,
    reminder_offsets,
    surge_active,
)
from monitor.story.reducer import advance

if TYPE_CHECKING:
    from monitor.ingest.fetch import Fetcher, FetchResult
    from monitor.store.db import Store, Tx
    from monitor.story.deadlines import DeadlineState

log = logging.getLogger("monitor.app.service")
RECENT_FOR_DEADLINES = timedelta(hours=48)
STALE_DEADLINE = timedelta(days=1)
# News items one poll of one feed may add: far more than any real feed publishes between two polls, far fewer
# than a hostile one could (its documents are already cut to the newest 200 items by parse)
MAX_NEW_ITEMS_PER_POLL = 100


@dataclass
class PollReport:
    """What one feed's poll did (a line of ``monitor poll``)."""

    feed_id: str
    outcome: str  # ok | seeded | not modified | unchanged | failed | not a feed | gone
    http_status: int | None = None
    new_items: int = 0
    elapsed_s: float = 0.0
    error: str | None = None

    def line(self) -> str:
        status = self.http_status if self.http_status is not None else "-"
        err = f"  {self.error}" if self.error else ""
        return (
            f"{self.feed_id:<36} {self.outcome:<12} {status!s:<4} {self.new_items:>4} new  {self.elapsed_s:6.2f} s{err}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "feed": self.feed_id,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "new_items": self.new_items,
            "elapsed_s": round(self.elapsed_s, 3),
            "error": self.error,
        }


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


class Service:
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

    # ---------------------------------------------------------------------------------- polling
    def poll_feeds(self, now: datetime, feed_ids: Iterable[str] | None = None, force: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> list[PollReport]:
        """Fetch the due (or named) feeds concurrently and ingest each result; failures stay per feed.
        ``progress(done, total)`` is called before the first feed and after each one."""

        self.sync_feeds(now)
        wanted = set(feed_ids) if feed_ids else None
        with self.store.read() as tx:
            rows = tx.feeds() if (force or wanted) else tx.due_feeds(now)
        configured = {f.id for f in self.settings.feeds}
        rows = [r for r in rows if r.enabled and r.id in configured and (wanted is None or r.id in wanted)]
        if not rows:
            return []
        requests = [FetchRequest(r.id, r.current_url or r.url, r.etag, r.last_modified, configured_url=r.url)
                    for r in rows]
        by_id = {r.id: r for r in rows}
        order = {r.id: position for position, r in enumerate(rows)}
        self._deadline_cache = None
        # Each result is processed as it arrives (fetching goes on meanwhile, and memory holds a window of
        # bodies, not all of them); the bookkeeping of feeds with nothing new (304, same body) is one write.
        self._quiet = []
        try:
            reports: list[PollReport] = []
            if progress is not None:
                progress(0, len(rows))
            for result in self.fetcher.fetch_each(requests):
                reports.append(self.ingest(result, body_time=now, row=by_id[result.feed_id]))
                if progress is not None:
                    progress(len(reports), len(rows))
            self._write_quiet(now)
        finally:
            self._quiet = None
        return sorted(reports, key=lambda report: order[report.feed_id])

    def _write_quiet(self, now: datetime) -> None:
        """Write the health and validators of this pass's feeds that brought nothing new, in one transaction."""
        if not self._quiet:
            return
        with self.store.write() as tx:
            tx.update_feeds([(feed.id, fields) for feed, _row, fields in self._quiet])
            for feed, row, _fields in self._quiet:
                self._recovered(tx, feed, row, now)

    def ingest(self, result: FetchResult, body_time: datetime | None = None, row: Any = None) -> PollReport:
        """Record one fetch result: health, validators, items, and whatever the items move. Never raises
        for a bad feed: a broken or hostile feed is contained to itself (reported in its health).

        The error boundary of one feed: an exception while processing its result (a body the parser chokes
        on, an item the store refuses, a bug in the story engine) rolls back that feed's transaction, so its
        items stay unseen and are tried again next poll, and is recorded as a failure of that feed (health,
        backoff, the feed-failing alert), with the stack trace in the log. The tick goes on with the others.
        """
        now = body_time or self.clock()
        created = len(self._created)
        try:
            return self._ingest(result, now, row)
        except Exception as exc:
            del self._created[created:]  # rolled back with the feed's transaction: not stored after all
            self.story_states.settle(committed=False)
            # A dead database is not this feed's fault: recording a failure in its health would fail the same
            # way, and the next feed too. Let it end the tick (the daemon logs it and retries next tick)
            # rather than blame every feed in turn. Store.open raises StoreError; within a transaction the
            # store's errors are SQLAlchemy's, and database_unusable() tells "down" from "bad data".
            if database_unusable(exc):
                raise
            log.exception("feed %s: internal error while processing its fetch (contained to this feed)",
                          result.feed_id)
            return self._internal_error(result, now, exc)

    def _internal_error(self, result: FetchResult, now: datetime, exc: Exception) -> PollReport:
        """Record an exception raised while processing a feed's result as a failure of that feed."""
        feed = self.settings.feed(result.feed_id)
        with self.store.read() as tx:
            row = tx.feed(feed.id)
        assert row is not None, "sync_feeds runs before ingest"
        message = (str(exc).strip().splitlines() or [""])[0][:200]
        error = f"internal error: {type(exc).__name__}" + (f": {message}" if message else "")
        backoff = next_poll_after_failure(
            now, row.consecutive_failures + 1, base=self.poll_interval(feed, now),
            cap=self.settings.monitor.backoff_cap, retry_after=None, rng=self.rng,
        )
        report = PollReport(feed.id, "failed", result.status, elapsed_s=result.elapsed_s)
        return self._failed(feed, report, row, now, error, next_poll=backoff)

    def _ingest(self, result: FetchResult, now: datetime, row: Any = None) -> PollReport:
        feed = self.settings.feed(result.feed_id)
        report = PollReport(feed.id, "ok", result.status, elapsed_s=result.elapsed_s)
        if self.record_dir is not None and result.body is not None:
            archive.record(self.record_dir, feed.id, result.started_at, result.body)
        if row is None:  # poll_feeds passes the row it read for the whole pass
            with self.store.read() as tx:
                row = tx.feed(feed.id)
        assert row is not None, "sync_feeds runs before ingest"
        interval = self.poll_interval(feed, now)
        floor = None if feed.ignore_cache_headers else cache_floor(result.headers, now,
                                                                    cap=self.settings.monitor.backoff_cap)
        success: dict[str, Any] = {}

        if result.gone:
            return self._failed(feed, report, row, now, "HTTP 410 Gone: feed removed by its server; disabled",
                                disable=True)
        if result.error or (result.body is None and not result.not_modified):
            error = result.error or f"HTTP {result.status}"
            backoff = next_poll_after_failure(
                now, row.consecutive_failures + 1, base=interval, cap=self.settings.monitor.backoff_cap,
                retry_after=result.retry_after, rng=self.rng,
            )
            return self._failed(feed, report, row, now, error, next_poll=backoff)

        success.update(
            last_attempt_at=now,
            last_success_at=now,
            last_status=result.status,
            last_error=None,
            consecutive_failures=0,
            retry_after_until=None,
            next_poll_at=next_poll_after_success(now, interval, floor=floor, rng=self.rng),
            cache_floor_s=int(floor.total_seconds()) if floor else None,
        )
        if result.permanent_redirect:
            success["current_url"] = result.permanent_redirect
        has_validators = bool(result.headers.get("etag") or result.headers.get("last-modified"))
        if result.not_modified:
            report.outcome = "not modified"
            success["conditional_supported"] = True
            return self._record_success(feed, row, report, success, now)
        if not has_validators:
            success["conditional_supported"] = False
        if result.body_sha256 and result.body_sha256 == row.body_sha256:
            report.outcome = "unchanged"
            return self._record_success(feed, row, report, success, now)

        parsed = parse_feed(
            result.body or b"", result.headers, feed_id=feed.id, source_kind=feed.source, fetched_at=now,
            feed_title=feed.title, base_url=result.final_url,
        )
        if not parsed.is_feed:
            return self._failed(feed, report, row, now, parsed.error or "not a feed",
                                next_poll=next_poll_after_failure(
                                    now, row.consecutive_failures + 1, base=interval,
                                    cap=self.settings.monitor.backoff_cap, retry_after=None, rng=self.rng))
        success.update(
            etag=result.headers.get("etag"),
            last_modified=result.headers.get("last-modified"),
            body_sha256=result.body_sha256,
            seeded=True,
        )
        over_limit: list[Item] = []
        with self.store.write() as tx:
            new_items, stored = self._store_items(tx, feed, row, parsed.items, now, over_limit)
            developments = self.process_items(tx, feed, new_items, now)
            notes = [*parsed.notes]
            if over_limit:
                notes.append(f"{len(new_items) + len(over_limit)} new items, over the cap of "
                             f"{MAX_NEW_ITEMS_PER_POLL} a poll: stored the newest {len(new_items)}, the rest later")
                # the same body must be read again next poll: forget what would skip it
                success.update(etag=None, last_modified=None, body_sha256=None)
            notice = "; ".join(notes) or None
            if notice and notice != row.notice:  # once per change, not once per poll
                log.warning("feed %s: %s", feed.id, notice)
            tx.update_feed(feed.id, items_seen=row.items_seen + stored, notice=notice, **success)
            self._recovered(tx, feed, row, now)
        self.story_states.settle(committed=True)
        report.new_items = len(new_items)
        report.outcome = "ok" if row.seeded else "seeded"
        if developments:
            log.info("feed %s: %d development(s)", feed.id, len(developments))
        return report

    def _store_items(self, tx: Tx, feed: FeedConfig, row: Any, items: Sequence[Item], now: datetime,
                     over_limit: list[Item]) -> tuple[list[Item], int]:
        """Store items; return (those that are news, how many rows were stored in all). News: at most
        ``MAX_NEW_ITEMS_PER_POLL``, the newest; the rest go to ``over_limit``, unstored. A new feed's first poll
        is a seed (seen, not news), except items inside the feed's backfill window; a feed with no stored item
        skips the lookups of what is stored (there is nothing to find)."""
        if row.seeded:
            news = tx.insert_items(items, seed=False, limit=MAX_NEW_ITEMS_PER_POLL, over_limit=over_limit,
                                   fresh=row.items_seen == 0)
            return news, len(news)
        cutoff = now - feed.backfill
        backfill: list[Item] = []
        seed: list[Item] = []
        for item in items:
            (backfill if feed.backfill and item.published >= cutoff else seed).append(item)
        seeds = tx.insert_items(seed, seed=True, fresh=row.items_seen == 0)
        news = tx.insert_items(backfill, seed=False, limit=MAX_NEW_ITEMS_PER_POLL, over_limit=over_limit,
                               fresh=row.items_seen == 0 and not seeds)
        return news, len(seeds) + len(news)

    def _record_success(self, feed: FeedConfig, row: Any, report: PollReport, fields: dict[str, Any],
                        now: datetime) -> PollReport:
        if self._quiet is not None:  # inside poll_feeds: written with the others at the end of the pass
            self._quiet.append((feed, row, fields))
            return report
        with self.store.write() as tx:
            tx.update_feed(feed.id, **fields)
            self._recovered(tx, feed, row, now)
        return report

    def _failed(self, feed: FeedConfig, report: PollReport, row: Any, now: datetime, error: str, *,
                next_poll: datetime | None = None, disable: bool = False) -> PollReport:
        report.outcome = "gone" if disable else ("not a feed" if error.startswith("not a feed") else "failed")
        report.error = error
        failures = row.consecutive_failures + 1
        fields: dict[str, Any] = dict(last_attempt_at=now, last_status=report.http_status, last_error=error[:300],
                                      consecutive_failures=failures)
        if next_poll is not None:
            fields["next_poll_at"] = next_poll
        if disable:
            fields.update(enabled=False, disabled_reason=error)
        with self.store.write() as tx:
            tx.update_feed(feed.id, **fields)
            threshold = self.settings.monitor.failure_alert_after
            # A next attempt further ahead than the feed's own interval plus ``blind_after`` (a huge
            # Retry-After, a long backoff) is failing now: waiting for ``failure_alert_after`` polls would
            # let one feed silence itself for hours.
            patience = self.poll_interval(feed, now) + self.settings.monitor.blind_after
            far_ahead = next_poll is not None and next_poll - now > patience
            if (failures >= threshold or disable or far_ahead) and not row.failing_reported:
                tx.update_feed(feed.id, failing_reported=True)
                self.record(tx, watchdog.feed_failing(feed.id, failures, error, next_poll, now), now)
        return report

    def _recovered(self, tx: Tx, feed: FeedConfig, row: Any, now: datetime) -> None:
        if row.failing_reported:
            tx.update_feed(feed.id, failing_reported=False)
            self.record(tx, watchdog.feed_recovered(feed.id, now), now)

    def poll_interval(self, feed: FeedConfig, now: datetime) -> timedelta:
        """The feed's interval, shortened to a deadline's surge interval while one of its stories is near one."""

        interval = feed.poll_interval or self.settings.monitor.poll_interval
        stories = self.settings.stories_of(feed)
        if not any(s.deadlines for s in stories):
            return interval
        # one read per tick, not one per feed: deadline states only change when items or the clock move them
        if self._deadline_cache is None or self._deadline_cache[0] != now:
            self._deadline_cache = (now, load_deadline_states(self.settings, self.store))
        states = self._deadline_cache[1]
        for story in stories:
            for deadline in story.deadlines:
                if surge_active(deadline, states[(story.id, deadline.id)], now):
                    interval = min(interval, deadline.surge_interval)
        return interval

    # ------------------------------------------------------------------------------- processing
    def process_items(self, tx: Tx, feed: FeedConfig, items: Sequence[Item], now: datetime) -> list[Development]:
        """Run new items through every story the feed serves: thread states, new developments, extensions."""

        if not items:
            return []
        ordered = sorted(items, key=lambda i: (i.published, i.feed_id, i.item_id))
        developments: list[Development] = []
        for story in self.settings.stories_of(feed):
            state = self.story_states.load(tx, story)
            outcome = advance(self.compiled[story.id], state, ordered, now)
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

