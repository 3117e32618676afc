"""The item table's queries: store a listing's entries once, tell news from entries seen before, prune.

:class:`ItemQueries` is a mixin of :class:`monitor.store.db.Tx` (callers write ``tx.insert_items(...)`` and import
nothing from here). Same contract as the rest of the store: every method runs inside the caller's transaction,
values crossing the API are domain types, every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import zip_longest
from typing import Any

from sqlalchemy import func, select, text, update

from monitor.domain import Item
from monitor.store import models as m
from monitor.store.models import LINK_KEY_CHARS, item_from_row, loads
from monitor.store.raw import Raw, column_values, run_sql
from monitor.store.story import TxBase, chunks, rowcount

__all__ = ["ItemQueries"]

Key = tuple[str, str]  # (feed_id, item_id) or (feed_id, link)

# PostgreSQL's item insert, a column an array (ItemQueries._insert_columns)
_UNNEST_COLUMNS = {"feed_id": "text", "item_id": "text", "title": "text", "summary": "text", "link": "text",
                   "outlet": "text", "source_kind": "text", "published": "timestamptz", "first_seen": "timestamptz",
                   "last_seen": "timestamptz", "is_seed": "boolean"}
_UNNEST_TIMES = ("published", "first_seen", "last_seen")
_UNNEST_ROWS = 5000
_UNNEST_INSERT = Raw(text(
    f"INSERT INTO item ({', '.join(_UNNEST_COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'CAST(:{name} AS {kind}[])' for name, kind in _UNNEST_COLUMNS.items())}) "
    "ON CONFLICT DO NOTHING RETURNING feed_id, item_id"
))
# SQLite's item insert: rows of these columns in one multi-row VALUES (at most _SQLITE_ROWS rows a statement)
_ITEM_COLUMNS = tuple(_UNNEST_COLUMNS)
_SQLITE_ROWS = 500  # 5,500 parameters a statement: under SQLite's limit of 32,766 (3.32 and later)


@lru_cache(maxsize=64)
def _sqlite_insert_sql(rows: int) -> str:
    """``INSERT .. VALUES`` of ``rows`` rows, skipping stored keys, naming the rows it inserted."""
    row = "(" + ", ".join("?" * len(_ITEM_COLUMNS)) + ")"
    return (f"INSERT INTO item ({', '.join(_ITEM_COLUMNS)}) VALUES {', '.join([row] * rows)} "
            "ON CONFLICT DO NOTHING RETURNING feed_id, item_id")


@lru_cache(maxsize=256)
def _lookup_sql(ids: int, links: int) -> str:
    """The lookup of _stored_matches for a chunk of ``ids`` ids and ``links`` link prefixes of one feed: the id
    search on the ``(feed_id, item_id)`` index and the link search on ``ix_item_feed_link`` (by the first
    ``LINK_KEY_CHARS`` characters, written as the index's expression so both databases use it; the caller
    compares whole links), joined by UNION ALL."""
    parts = []
    if ids:
        parts.append(f"SELECT item_id, link FROM item WHERE feed_id = ? AND item_id IN ({', '.join('?' * ids)})")
    if links:
        parts.append(f"SELECT item_id, link FROM item WHERE feed_id = ? "
                     f"AND substr(link, 1, {LINK_KEY_CHARS}) IN ({', '.join('?' * links)})")
    return " UNION ALL ".join(parts)


class ItemQueries(TxBase):
    """Items: insert a listing, look up what is stored, read and prune."""

    def insert_items(self, items: Sequence[Item], *, seed: bool, limit: int | None = None,
                     over_limit: list[Item] | None = None, fresh: bool = False) -> list[Item]:
        """Store items; return only those not seen before, in the given order.

        Seen before: a stored ``(feed_id, item_id)``, or a stored ``(feed_id, link)`` where the link names one
        entry: a feed that changes an entry's guid (a CMS move, a revision in the guid) while its canonical link
        stays the same is not news again. Where several entries share a link (in this batch or in the store: a
        live blog's posts, a homepage link on every entry), the link identifies nothing and only the id counts.
        An item seen again (even with an edited title or a new guid) is not stored again and keeps its first
        text; its stored row's ``last_seen`` moves to this poll. ``seed`` marks the items of a feed's first
        poll (known, never news). The poll time is the items' ``fetched_at``. The feed's ``items_seen``
        counter is the caller's (``update_feed``). ``items`` may hold several feeds' entries (a batch of first
        polls): each is looked up within its own feed.

        New means inserted by this call, so of two writers racing with the same items (PostgreSQL, or
        ``monitor poll`` beside the daemon) exactly one gets them as new. ``limit`` caps how many new items
        are stored: the newest; the others are not stored (so not seen), are appended to ``over_limit`` when
        given, and come up again in a later poll. ``fresh``: the caller knows these feeds have no stored item
        (a first poll), so the lookups of stored ids and links are skipped; a row a concurrent writer stored
        meanwhile is still skipped by the insert itself.
        """
        if not items:
            return []
        known, by_link = (set(), {}) if fresh else self._stored_matches(items)
        candidates: dict[Key, Item] = {}
        for item in items:
            key = (item.feed_id, item.item_id)
            if key in known or key in candidates:  # the same entry twice in one body counts once
                continue
            if item.link is not None and (item.feed_id, item.link) in by_link:  # a known entry with a new guid
                continue
            candidates[key] = item
        if limit is not None and len(candidates) > limit:
            newest = sorted(candidates.items(), key=lambda pair: pair[1].published, reverse=True)[:limit]
            kept = {key for key, _ in newest}
            if over_limit is not None:
                over_limit.extend(item for key, item in candidates.items() if key not in kept)
            candidates = {key: item for key, item in candidates.items() if key in kept}
        inserted = self._insert_rows(list(candidates.values()), seed)
        if not fresh:  # a fresh feed's rows were all just inserted with this poll's last_seen
            self._mark_listed(items, by_link, {key: candidates[key].fetched_at for key in inserted})
        return [item for key, item in candidates.items() if key in inserted]

    def _insert_rows(self, items: Sequence[Item], seed: bool) -> set[Key]:
        """Insert ``items``; return the keys this statement inserted."""
        if not items:
            return set()
        rows = [dict(
            feed_id=item.feed_id, item_id=item.item_id, title=item.title, summary=item.summary,
            link=item.link, outlet=item.outlet, source_kind=item.source_kind.value, published=item.published,
            first_seen=item.fetched_at, last_seen=item.fetched_at, is_seed=seed,
        ) for item in items]  # fmt: skip
        if self._dialect == "postgresql":
            return self._insert_columns(rows)
        # One multi-row statement a few hundred rows, not one INSERT per item. RETURNING names the rows really
        # inserted: an item a concurrent writer committed after the lookup is skipped by ON CONFLICT, and is not
        # new here.
        columns = [m.ITEM.c[name] for name in _ITEM_COLUMNS]
        inserted: set[Key] = set()
        for chunk in chunks(rows, _SQLITE_ROWS):
            values = column_values(self.session, columns, chunk)
            inserted.update((feed_id, item_id)
                            for feed_id, item_id in run_sql(self.session, _sqlite_insert_sql(len(chunk)), values))
        return inserted

    def _insert_columns(self, rows: Sequence[dict[str, Any]]) -> set[Key]:
        """PostgreSQL: the rows as one array per column, ``INSERT .. SELECT FROM unnest(..)``, a round trip and
        a statement of 11 parameters per ``_UNNEST_ROWS`` rows (same ON CONFLICT and RETURNING as above).

        Why not insertmanyvalues: its statement names a parameter per value (11,000 for 1,000 rows), which psycopg
        parses afresh each time (it caches statements of up to 50 parameters); that parse cost more than the rows.
        The timestamps are checked here as the column type would (aware, so stored as the instant they name)."""
        for row in rows:
            for name in _UNNEST_TIMES:
                moment = row[name]
                if moment.tzinfo is None or moment.utcoffset() is None:
                    raise ValueError(f"naive datetime {moment!r} given to the store; use a timezone-aware datetime")
        inserted: set[Key] = set()
        for chunk in chunks(rows, _UNNEST_ROWS):
            arrays = {name: [row[name] for row in chunk] for name in _UNNEST_COLUMNS}
            inserted.update((feed_id, item_id) for feed_id, item_id in _UNNEST_INSERT.run(self.session, arrays))
        return inserted

    def _stored_matches(self, items: Sequence[Item]) -> tuple[set[Key], dict[Key, str]]:
        """What the store already holds of this listing: the stored ``(feed_id, item_id)`` keys it names, and
        ``(feed_id, link) -> item_id`` of stored items whose link names one entry, here and in the store.

        One statement per feed (and per few hundred entries), the ids and the links together: the id search on
        the ``(feed_id, item_id)`` index and the link search on ``ix_item_feed_link`` (a prefix of the link: a link
        of 2,048 non-ASCII characters would not fit a PostgreSQL btree entry; rows whose link only shares the prefix
        are ignored here), joined by UNION ALL. (An OR of the two tests was slower on SQLite: it scans the feed's
        rows for the ids too.)"""
        ids_of: dict[str, set[str]] = {}
        ids_by_link: dict[str, dict[str, set[str]]] = {}
        for item in items:
            ids_of.setdefault(item.feed_id, set()).add(item.item_id)
            if item.link is not None:
                ids_by_link.setdefault(item.feed_id, {}).setdefault(item.link, set()).add(item.item_id)
        known: set[Key] = set()
        stored: dict[Key, set[str]] = {}
        for feed_id in sorted(ids_of):
            ids = sorted(ids_of[feed_id])
            # a link two entries of this listing share identifies neither
            links = sorted(link for link, named in ids_by_link.get(feed_id, {}).items() if len(named) == 1)
            for id_chunk, link_chunk in zip_longest(chunks(ids, 200), chunks(links, 200), fillvalue=()):
                wanted_ids, wanted_links = set(id_chunk), set(link_chunk)
                # a row either search finds is tested both ways (it may come twice: the sets count it once)
                prefixes = sorted({link[:LINK_KEY_CHARS] for link in link_chunk})
                values = [*((feed_id, *id_chunk) if id_chunk else ()), *((feed_id, *prefixes) if prefixes else ())]
                for item_id, link in run_sql(self.session, _lookup_sql(len(id_chunk), len(prefixes)), values):
                    if item_id in wanted_ids:
                        known.add((feed_id, item_id))
                    if link in wanted_links:  # every stored row with that link: the search matched them all
                        stored.setdefault((feed_id, link), set()).add(item_id)
        return known, {key: next(iter(ids)) for key, ids in stored.items() if len(ids) == 1}

    def _mark_listed(self, items: Sequence[Item], by_link: Mapping[Key, str],
                     inserted: Mapping[Key, datetime]) -> None:
        """Move ``last_seen`` of every stored row this listing names (by id, or by link for a new guid).

        ``inserted``: the rows this call just stored, with the ``last_seen`` they were stored with; those already
        at the feed's ``seen_at`` are left out (a poll that lists only its news writes no UPDATE at all)."""
        listed_of: dict[str, list[Item]] = {}
        for item in items:
            listed_of.setdefault(item.feed_id, []).append(item)
        for feed_id in sorted(listed_of):
            listed = listed_of[feed_id]
            seen_at = max(i.fetched_at for i in listed)
            ids = {i.item_id for i in listed} | {by_link.get((feed_id, i.link or ""), i.item_id) for i in listed}
            ids = {i for i in ids if inserted.get((feed_id, i)) != seen_at}
            for chunk in chunks(sorted(ids)):
                self._execute(
                    update(m.ITEM)
                    .where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.item_id.in_(chunk))
                    .values(last_seen=seen_at)
                )

    def touch_items(self, feed_id: str, now: datetime) -> int:
        """A poll answered "not modified": the items of the last body are still listed; move their last_seen."""
        latest = select(func.max(m.ITEM.c.last_seen)).where(m.ITEM.c.feed_id == feed_id).scalar_subquery()
        statement = update(m.ITEM).where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.last_seen == latest)
        return rowcount(self._execute(statement.values(last_seen=now)))

    def item(self, feed_id: str, item_id: str) -> Item | None:
        row = self._execute(select(m.ITEM).where(m.ITEM.c.feed_id == feed_id, m.ITEM.c.item_id == item_id)).first()
        return None if row is None else item_from_row(row)

    def recent_items(
        self, since: datetime, *, feed_ids: Collection[str] | None = None, limit: int | None = None
    ) -> list[Item]:
        """Items published at or after ``since``, oldest first (``limit``: the newest that many)."""
        query = select(m.ITEM).where(m.ITEM.c.published >= since)
        if feed_ids is not None:
            query = query.where(m.ITEM.c.feed_id.in_(list(feed_ids)))
        query = query.order_by(m.ITEM.c.published.desc(), m.ITEM.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [item_from_row(r) for r in reversed(self._execute(query).all())]

    def count_items(self, feed_id: str | None = None) -> int:
        query = select(func.count()).select_from(m.ITEM)
        if feed_id is not None:
            query = query.where(m.ITEM.c.feed_id == feed_id)
        return int(self.session.scalar(query) or 0)

    def prune_items(self, older_than: datetime, keep_keys: Collection[Key] = ()) -> int:
        """Delete items no poll has listed since ``older_than``; returns how many.

        Kept whatever their age: evidence of any stored development (its sources), ``keep_keys``, and the
        items of each feed's latest stored listing (a feed answering "not modified" for a month still lists
        them; pruned, they would come back as news when the feed next changes).
        """
        keep = set(keep_keys) | self._evidence_keys()
        other = m.ITEM.alias("other")
        latest = select(func.max(other.c.last_seen)).where(other.c.feed_id == m.ITEM.c.feed_id).scalar_subquery()
        rows = self._execute(select(m.ITEM.c.id, m.ITEM.c.feed_id, m.ITEM.c.item_id).where(
            m.ITEM.c.last_seen < older_than, m.ITEM.c.last_seen < latest
        ))  # fmt: skip
        doomed = [r.id for r in rows if (r.feed_id, r.item_id) not in keep]
        for chunk in chunks(doomed):
            self._execute(m.ITEM.delete().where(m.ITEM.c.id.in_(chunk)))
        if doomed:  # the polls keep items_seen by adding what they store; pruning recounts
            stored = select(func.count()).select_from(m.ITEM).where(m.ITEM.c.feed_id == m.FEED.c.id)
            self._execute(update(m.FEED).values(items_seen=stored.scalar_subquery()))
        return len(doomed)

    def _evidence_keys(self) -> set[Key]:
        keys: set[Key] = set()
        for sources in self.session.scalars(select(m.DEVELOPMENT.c.sources_json)):
            keys.update((s.get("feed_id", ""), s.get("item_id", "")) for s in loads(sources))
        return keys
