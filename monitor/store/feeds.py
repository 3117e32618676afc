"""The feed table's queries: the configured feeds, their health, validators and next poll time.

:class:`FeedQueries` is a mixin of :class:`monitor.store.db.Tx` (callers write ``tx.update_feed(...)`` and import
nothing from here). Same contract as the rest of the store: every method runs inside the caller's transaction,
values crossing the API are frozen dataclasses, every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from monitor.config.schema import FeedConfig
from monitor.store import models as m
from monitor.store.models import FEED_FIELDS, FeedRow, feed_row
from monitor.store.raw import Raw
from monitor.store.story import TxBase, rowcount

__all__ = ["FeedQueries"]

# Statements built once: a poll reads and writes its feed's row with these, and building and compiling an
# UPDATE per poll cost more than running it (SQLAlchemy caches the compiled form by the statement's shape).
_FEED_BY_ID = Raw(select(m.FEED).where(m.FEED.c.id == bindparam("feed_key")))
_FEED_UPDATES: dict[tuple[str, ...], Raw] = {}  # field names -> UPDATE of them by feed id (few shapes occur)


def _feed_update(names: tuple[str, ...]) -> Raw:
    """The UPDATE of these fields of one feed, run on the driver's cursor (monitor.store.raw)."""
    statement = _FEED_UPDATES.get(names)
    if statement is None:
        statement = Raw(update(m.FEED).where(m.FEED.c.id == bindparam("feed_key")).values(
            {n: bindparam(n) for n in names}))
        if len(_FEED_UPDATES) < 256:
            _FEED_UPDATES[names] = statement
    return statement


class FeedQueries(TxBase):
    """Feeds: sync with the config, read, and record each poll's outcome."""

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> None:
        """Make the feed table match the config, keeping the state of feeds already known.

        New feeds are due at ``now``. A changed URL is a new source: validators, the redirect target and the
        seed flag are cleared and it is due at once. ``enabled`` follows the config (a feed disabled by its
        server, 410 Gone, is enabled again); feeds no longer in the config are disabled (rows are kept: their
        items and history refer to them).

        Only rows that differ are written, new feeds in one statement and changes in one per kind: every
        ``monitor poll`` starts with this, and a config of thousands of unchanged feeds costs one SELECT.
        """
        columns = (m.FEED.c.id, m.FEED.c.url, m.FEED.c.enabled, m.FEED.c.disabled_reason)
        known = {r.id: r for r in self._execute(select(*columns))}
        new: list[dict[str, Any]] = []
        changes: list[tuple[str, Mapping[str, Any]]] = []
        for feed in feeds:
            row = known.pop(feed.id, None)
            reason = None if feed.enabled else "disabled in config"
            if row is None:
                new.append({"id": feed.id, "url": feed.url, "enabled": feed.enabled, "disabled_reason": reason,
                            "next_poll_at": now})
                continue
            values: dict[str, Any] = {}
            if row.enabled != feed.enabled or row.disabled_reason != reason:
                values.update(enabled=feed.enabled, disabled_reason=reason)
            if row.url != feed.url:
                values.update(
                    enabled=feed.enabled, disabled_reason=reason, url=feed.url, current_url=None, etag=None,
                    last_modified=None, body_sha256=None, conditional_supported=None, seeded=False, next_poll_at=now,
                )  # fmt: skip
            if values:
                changes.append((feed.id, values))
        removed = {"enabled": False, "disabled_reason": "removed from config"}
        changes += [(feed_id, removed) for feed_id, row in known.items()
                    if row.enabled or row.disabled_reason != removed["disabled_reason"]]  # fmt: skip
        if new:
            self._execute(m.FEED.insert(), new)
        self.update_feeds(changes)

    def feeds(self) -> list[FeedRow]:
        return [feed_row(r) for r in self._execute(select(m.FEED).order_by(m.FEED.c.id))]

    def feed(self, feed_id: str) -> FeedRow | None:
        rows = _FEED_BY_ID.rows(self.session, {"feed_key": feed_id})
        return FeedRow(**rows[0]) if rows else None

    def due_feeds(self, now: datetime) -> list[FeedRow]:
        """Enabled feeds whose next poll time has come, the most overdue first."""
        due = or_(m.FEED.c.next_poll_at.is_(None), m.FEED.c.next_poll_at <= now)
        query = select(m.FEED).where(m.FEED.c.enabled.is_(True), due).order_by(m.FEED.c.next_poll_at, m.FEED.c.id)
        return [feed_row(r) for r in self._execute(query)]

    def update_feed(self, feed_id: str, **values: Any) -> None:
        """Set health/validator fields (names as in FeedRow). Unknown names or feed raise KeyError."""
        unknown = set(values) - FEED_FIELDS
        if unknown:
            raise KeyError(f"unknown feed fields {sorted(unknown)}; known: {sorted(FEED_FIELDS)}")
        if not values:
            return
        if rowcount(_feed_update(tuple(sorted(values))).run(self.session, {"feed_key": feed_id, **values})) == 0:
            raise KeyError(f"unknown feed {feed_id!r}")

    def update_feeds(self, changes: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """``update_feed`` for many feeds at once: one executemany per set of field names (a poll pass's feeds
        with nothing new share one), so PostgreSQL gets a batch, not a round trip per feed. One change per feed:
        two changes of one feed in different groups would apply in group order."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for feed_id, values in changes:
            unknown = set(values) - FEED_FIELDS
            if unknown:
                raise KeyError(f"unknown feed fields {sorted(unknown)}; known: {sorted(FEED_FIELDS)}")
            groups.setdefault(tuple(sorted(values)), []).append({"feed_key": feed_id, **values})
        for names, rows in groups.items():
            if names:
                _feed_update(names).run_many(self.session, rows)
