"""A poll pass's first polls (seeds), held and written many feeds to a transaction.

A feed's first poll stores its entries as seen without reading them as news (except those inside the feed's
backfill window). A cold pass over a thousand new feeds would otherwise commit a thousand small transactions,
one a feed, and on SQLite the commits and per-statement overhead cost more than the rows. So the poll pass holds
the parsed items of its *seed-only* first polls (no backfill news: nothing for the stories to process) and
writes them in one transaction, ``SEED_BATCH_ITEMS`` items at a time and at the end of the pass.

Why grouping is safe. Invariant 2 says an item is seen only once its processing has committed; a seed's items
have no processing (they are not news), so a seed is complete as soon as its rows and its feed's poll record
(validators, health, ``items_seen``) are committed together, which the batch's transaction does. A feed with
backfill news, or an already seeded feed with new items, is never held here: it has its own transaction, as
before. Each feed keeps its error boundary: :func:`store_seeds` runs inside a savepoint, and when it raises the
poll pass writes the batch again one feed to a savepoint, so only the feed at fault is rolled back and recorded as
that feed's failure (``monitor.app.poll``). Held seeds that are never written (the process dies, the database goes
away) are simply polled again: nothing about them was stored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.config.schema import FeedConfig
from monitor.domain import Item

if TYPE_CHECKING:
    from monitor.app.poll import PollReport
    from monitor.store.db import FeedRow, Tx

# Items held before the batch is written: about 40 feeds of 50 entries. Bounds the memory held (parsed items, not
# bodies) and how long one write holds SQLite's write lock, while cutting a cold pass's commits about 40-fold.
SEED_BATCH_ITEMS = 2000


@dataclass
class Seed:
    """One feed's first poll, parsed and not yet written: what its transaction would have stored."""

    feed: FeedConfig
    row: FeedRow  # the feed as read at the start of the pass
    report: PollReport  # already handed to the pass; turned into a failure should the write fail
    fields: dict[str, Any]  # the poll's validators and health (``Tx.update_feed`` names)
    items: list[Item]
    notice: str | None
    now: datetime


@dataclass
class SeedBatch:
    """The seeds a pass holds until ``full`` (then the pass writes and ``take``s them) or the pass ends."""

    seeds: list[Seed] = field(default_factory=list)
    items: int = 0

    def add(self, seed: Seed) -> None:
        self.seeds.append(seed)
        self.items += len(seed.items)

    @property
    def full(self) -> bool:
        return self.items >= SEED_BATCH_ITEMS

    def take(self) -> list[Seed]:
        seeds, self.seeds, self.items = self.seeds, [], 0
        return seeds


def store_seeds(tx: Tx, seeds: list[Seed]) -> None:
    """Store the seeds' items (seen, not news) and each feed's poll record, in ``tx``.

    Feeds with no stored item (a feed's very first poll) share one multi-feed insert with no lookups; a feed
    that has items already (its URL changed, so it is seeded again) is looked up on its own. ``items_seen`` adds
    the rows this insert really stored (RETURNING), so a row another writer stored meanwhile is not counted twice.
    """
    stored: Counter[str] = Counter()
    fresh = [seed for seed in seeds if seed.row.items_seen == 0]
    if fresh:
        stored.update(item.feed_id for item in tx.insert_items([i for s in fresh for i in s.items], seed=True,
                                                                fresh=True))
    for seed in seeds:
        if seed.row.items_seen != 0:
            stored.update(item.feed_id for item in tx.insert_items(seed.items, seed=True))
    tx.update_feeds([(seed.feed.id, {**seed.fields, "items_seen": seed.row.items_seen + stored[seed.feed.id],
                                     "notice": seed.notice}) for seed in seeds])
