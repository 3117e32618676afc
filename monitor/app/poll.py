"""The poll pass: fetch the due feeds, and record each result (health, validators, items, what they move).

:class:`FeedPolling` is a mixin of :class:`monitor.app.service.Service` (callers write ``service.poll_feeds(...)``
or ``service.ingest(result)``); the service supplies the story side (``process_items``, ``record``). Each feed's
result is handled inside its own error boundary (``ingest``). Writes, per feed: a feed with news (or backfill)
gets a transaction of its own, holding its items, what they moved in every story and its validators
(invariant 2); a feed that brought nothing new (304, same body) is written with the others of its pass at the
end; a first poll with no news (a seed) is written with other seeds, many to a transaction
(:mod:`monitor.app.seeds`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.app import watchdog
from monitor.app.deadlines import load_deadline_states
from monitor.app.seeds import Seed, SeedBatch, store_seeds
from monitor.app.story_parts import StoryStates
from monitor.clock import Clock
from monitor.config.schema import FeedConfig, Settings
from monitor.domain import Development, Item
from monitor.ingest import archive
from monitor.ingest.fetch import FetchRequest
from monitor.ingest.parse import parse_feed
from monitor.ingest.schedule import cache_floor, next_poll_after_failure, next_poll_after_success
from monitor.store.db import database_unusable
from monitor.story.deadlines import surge_active

if TYPE_CHECKING:
    from monitor.ingest.fetch import Fetcher, FetchResult
    from monitor.store.db import FeedRow, Store, Tx
    from monitor.story.deadlines import DeadlineState

log = logging.getLogger("monitor.app.service")  # the service's log, as before the split
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


class FeedPolling:
    """The poll pass of :class:`monitor.app.service.Service` (which sets these attributes)."""

    settings: Settings
    store: Store
    clock: Clock
    rng: random.Random
    record_dir: Path | None
    story_states: StoryStates
    _created: list[Development]
    _deadline_cache: tuple[datetime, dict[tuple[str, str], DeadlineState]] | None
    # inside poll_feeds only (None outside): feeds with nothing new, and seeds, both written in batches
    _quiet: list[tuple[FeedConfig, Any, dict[str, Any]]] | None
    _seeds: SeedBatch | None
    _open: Tx | None  # the write transaction ingest opened to read the feed's row in (see _writing)

    if TYPE_CHECKING:  # the service's

        @property
        def fetcher(self) -> Fetcher: ...

        def sync_feeds(self, now: datetime) -> None: ...

        def process_items(self, tx: Tx, feed: FeedConfig, items: Sequence[Item],
                          now: datetime) -> list[Development]: ...

        def record(self, tx: Tx, dev: Development, now: datetime) -> None: ...

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
        # bodies, not all of them); the bookkeeping of feeds with nothing new (304, same body) is one write, and
        # first polls with no news are written in batches (monitor.app.seeds).
        self._quiet = []
        self._seeds = SeedBatch()
        try:
            reports: list[PollReport] = []
            if progress is not None:
                progress(0, len(rows))
            for result in self.fetcher.fetch_each(requests):
                reports.append(self.ingest(result, body_time=now, row=by_id[result.feed_id]))
                if self._seeds.full:
                    self._write_seeds()
                if progress is not None:
                    progress(len(reports), len(rows))
            self._write_seeds()
            self._write_quiet(now)
        finally:
            self._quiet = None
            self._seeds = None
        return sorted(reports, key=lambda report: order[report.feed_id])

    def _write_quiet(self, now: datetime) -> None:
        """Write the health and validators of this pass's feeds that brought nothing new, in one transaction."""
        if not self._quiet:
            return
        with self.store.write() as tx:
            tx.update_feeds([(feed.id, fields) for feed, _row, fields in self._quiet])
            for feed, row, _fields in self._quiet:
                self._recovered(tx, feed, row, now)

    def _write_seeds(self) -> None:
        """Write the seeds held so far in one transaction, each feed still inside its own error boundary.

        First all together in one savepoint; should that raise, the savepoint is rolled back and each seed is
        written again in a savepoint of its own, so only the feed at fault is rolled back, and that feed is then
        recorded as failed (like ``ingest``'s boundary). A dead database ends the pass, as in ``ingest``.
        """
        assert self._seeds is not None, "inside poll_feeds"
        seeds = self._seeds.take()
        if not seeds:
            return
        created = len(self._created)
        failed: list[tuple[Seed, Exception]] = []
        try:
            with self.store.write() as tx:
                try:
                    with tx.savepoint():
                        self._store_seeds(tx, seeds)
                except Exception as exc:
                    if database_unusable(exc):
                        raise
                    del self._created[created:]
                    failed = self._store_seeds_one_by_one(tx, seeds)
        except Exception as batch_exc:
            del self._created[created:]  # the commit failed: nothing of the batch is stored
            if database_unusable(batch_exc):
                raise
            failed = [(seed, batch_exc) for seed in seeds]
        at_fault = {id(seed) for seed, _exc in failed}
        for seed in seeds:
            if id(seed) not in at_fault and seed.notice and seed.notice != seed.row.notice:
                log.warning("feed %s: %s", seed.feed.id, seed.notice)  # once per change, not once per poll
        for seed, error in failed:
            log.error("feed %s: internal error while processing its fetch (contained to this feed)", seed.feed.id,
                      exc_info=error)
            self._internal_error_of(seed.feed, seed.report, seed.now, error)

    def _store_seeds_one_by_one(self, tx: Tx, seeds: list[Seed]) -> list[tuple[Seed, Exception]]:
        """Each seed in a savepoint of its own; return those that raised, with what they raised."""
        failed: list[tuple[Seed, Exception]] = []
        for seed in seeds:
            created = len(self._created)
            try:
                with tx.savepoint():
                    self._store_seeds(tx, [seed])
            except Exception as exc:
                if database_unusable(exc):
                    raise
                del self._created[created:]
                failed.append((seed, exc))
        return failed

    def _store_seeds(self, tx: Tx, seeds: list[Seed]) -> None:
        store_seeds(tx, seeds)
        for seed in seeds:
            self._recovered(tx, seed.feed, seed.row, seed.now)

    def ingest(self, result: FetchResult, body_time: datetime | None = None, row: Any = None) -> PollReport:
        """Record one fetch result: health, validators, items, and whatever the items move. Never raises
        for a bad feed: a broken or hostile feed is contained to itself (reported in its health).

        The error boundary of one feed: an exception while processing its result (a body the parser chokes
        on, an item the store refuses, a bug in the story engine) rolls back that feed's transaction, so its
        items stay unseen and are tried again next poll, and is recorded as a failure of that feed (health,
        backoff, the feed-failing alert), with the stack trace in the log. The tick goes on with the others.
        (Inside a poll pass a seed is written later with others; its boundary is kept there: ``_write_seeds``.)
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
            report = PollReport(result.feed_id, "failed", result.status, elapsed_s=result.elapsed_s)
            return self._internal_error_of(self.settings.feed(result.feed_id), report, now, exc)

    def _internal_error_of(self, feed: FeedConfig, report: PollReport, now: datetime, exc: Exception) -> PollReport:
        """Record an exception raised while processing a feed's result as a failure of that feed (in ``report``)."""
        with self.store.read() as tx:
            row = tx.feed(feed.id)
        assert row is not None, "sync_feeds runs before ingest"
        message = (str(exc).strip().splitlines() or [""])[0][:200]
        error = f"internal error: {type(exc).__name__}" + (f": {message}" if message else "")
        backoff = next_poll_after_failure(
            now, row.consecutive_failures + 1, base=self.poll_interval(feed, now),
            cap=self.settings.monitor.backoff_cap, retry_after=None, rng=self.rng,
        )
        report.new_items = 0
        return self._failed(feed, report, row, now, error, next_poll=backoff)

    def _ingest(self, result: FetchResult, now: datetime, row: Any = None) -> PollReport:
        feed = self.settings.feed(result.feed_id)
        report = PollReport(feed.id, "ok", result.status, elapsed_s=result.elapsed_s)
        if self.record_dir is not None and result.body is not None:
            archive.record(self.record_dir, feed.id, result.started_at, result.body)
        if row is None:  # poll_feeds passes the row it read for the whole pass; here it is read in the write
            # transaction every path of this result ends in, so the feed costs one transaction, not two
            with self.store.write() as tx:
                self._open = tx
                try:
                    report = self._ingest_row(result, now, feed, report, tx.feed(feed.id))
                finally:
                    self._open = None
            self.story_states.settle(committed=True)
            return report
        return self._ingest_row(result, now, feed, report, row)

    @contextmanager
    def _writing(self) -> Iterator[Tx]:
        """The write transaction ``_ingest`` opened for this result (committed by it), else a new one."""
        if self._open is not None:
            yield self._open
            return
        with self.store.write() as tx:
            yield tx

    def _ingest_row(self, result: FetchResult, now: datetime, feed: FeedConfig, report: PollReport,
                    row: FeedRow | None) -> PollReport:
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
        seed, backfill = self._first_poll(feed, row, parsed.items, now)
        if self._seeds is not None and not row.seeded and not backfill:  # nothing for the stories: held
            self._seeds.add(Seed(feed, row, report, success, seed, "; ".join(parsed.notes) or None, now))
            report.outcome = "seeded"
            return report
        over_limit: list[Item] = []
        with self._writing() as tx:
            new_items, stored = self._store_items(tx, row, seed, backfill, over_limit)
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
        if self._open is None:  # else settled once the transaction _ingest opened has committed
            self.story_states.settle(committed=True)
        report.new_items = len(new_items)
        report.outcome = "ok" if row.seeded else "seeded"
        if developments:
            log.info("feed %s: %d development(s)", feed.id, len(developments))
        return report

    @staticmethod
    def _first_poll(feed: FeedConfig, row: FeedRow, items: Sequence[Item],
                    now: datetime) -> tuple[list[Item], list[Item]]:
        """``(seed, news)`` of a listing. A seeded feed's items are all candidates for news; a new feed's
        first poll is a seed (seen, not news), except items inside the feed's backfill window."""
        if row.seeded:
            return [], list(items)
        cutoff = now - feed.backfill
        backfill: list[Item] = []
        seed: list[Item] = []
        for item in items:
            (backfill if feed.backfill and item.published >= cutoff else seed).append(item)
        return seed, backfill

    @staticmethod
    def _store_items(tx: Tx, row: FeedRow, seed: Sequence[Item], candidates: Sequence[Item],
                     over_limit: list[Item]) -> tuple[list[Item], int]:
        """Store items; return (those that are news, how many rows were stored in all). News: at most
        ``MAX_NEW_ITEMS_PER_POLL`` of ``candidates``, the newest; the rest go to ``over_limit``, unstored. A
        feed with no stored item skips the lookups of what is stored (there is nothing to find)."""
        seeds = tx.insert_items(seed, seed=True, fresh=row.items_seen == 0)
        news = tx.insert_items(candidates, seed=False, limit=MAX_NEW_ITEMS_PER_POLL, over_limit=over_limit,
                               fresh=row.items_seen == 0 and not seeds)
        return news, len(seeds) + len(news)

    def _record_success(self, feed: FeedConfig, row: Any, report: PollReport, fields: dict[str, Any],
                        now: datetime) -> PollReport:
        if self._quiet is not None:  # inside poll_feeds: written with the others at the end of the pass
            self._quiet.append((feed, row, fields))
            return report
        with self._writing() as tx:
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
        with self._writing() as tx:
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
