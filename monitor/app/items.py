"""``monitor items``: the stored items, newest first (by published time), each with the developments it fed.
Reads the store only.

An item fed a development when the development cites it: among its ``sources`` (which carry ``feed_id`` and
``item_id``) or in its decision ``details.evidence`` (``item`` as ``FEED:ITEM_ID``). Both lists are capped per
development (``story.reducer.MAX_SOURCES``), so an item past the cap of a widely reported development names none.
The mapping uses the store's existing queries (``recent_items``, ``developments``), as ``prune_items`` reads
sources to keep evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.config.schema import Settings
from monitor.domain import Development, Item, iso_utc
from monitor.errors import UsageError
from monitor.store.db import Store

DEFAULT_LIMIT = 50
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StoredItem:
    """One stored item and the keys of the developments that cite it (oldest development first)."""

    item: Item
    developments: tuple[str, ...]

    @property
    def key(self) -> str:
        """``FEED:ITEM_ID``, as ``monitor explain --item`` and development evidence name it."""
        return f"{self.item.feed_id}:{self.item.item_id}"

    def to_json(self) -> dict[str, Any]:
        """The documented ``monitor items --json`` object (docs/json.md)."""
        item = self.item
        return {"item": self.key, "feed": item.feed_id, "item_id": item.item_id, "published": iso_utc(item.published),
                "first_seen": iso_utc(item.fetched_at), "outlet": item.outlet, "title": item.title,
                "link": item.link, "developments": list(self.developments)}


def check_feed(settings: Settings, feed_id: str | None) -> None:
    """UsageError (exit 2) naming the configured feeds when ``feed_id`` is not one of them."""
    if feed_id is not None and feed_id not in {f.id for f in settings.feeds}:
        known = ", ".join(f.id for f in settings.feeds) or "none"
        raise UsageError(f"unknown feed id {feed_id!r}; configured feeds: {known}")


def stored_items(store: Store, *, feed_id: str | None = None, since: datetime | None = None,
                 limit: int = DEFAULT_LIMIT) -> list[StoredItem]:
    """The newest ``limit`` items (of ``feed_id``, published at or after ``since``), newest first."""
    with store.read() as tx:
        items = tx.recent_items(since or _EARLIEST, feed_ids=[feed_id] if feed_id else None, limit=limit)
        fed = items_fed(tx.developments())
    return [StoredItem(item, tuple(fed.get((item.feed_id, item.item_id), ()))) for item in reversed(items)]


def items_fed(developments: Iterable[Development]) -> dict[tuple[str, str], list[str]]:
    """``(feed_id, item_id)`` -> keys of the developments citing that item, in the order given."""
    fed: dict[tuple[str, str], list[str]] = {}
    for dev in developments:
        cited = {(s.feed_id, s.item_id) for s in dev.sources if s.feed_id and s.item_id}
        for evidence in dev.details.get("evidence") or ():
            feed, _, item_id = str(evidence.get("item", "") if isinstance(evidence, dict) else "").partition(":")
            if feed and item_id:
                cited.add((feed, item_id))
        for key in cited:
            keys = fed.setdefault(key, [])
            if dev.key not in keys:
                keys.append(dev.key)
    return fed
