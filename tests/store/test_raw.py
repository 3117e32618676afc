"""Statements run on the driver's cursor (monitor.store.raw) behave as through SQLAlchemy: values converted by
their column types, errors SQLAlchemy's, inside the caller's transaction, seen by the engine's listeners."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from monitor.store import models as m
from monitor.store.db import Store
from monitor.store.raw import Raw, run_sql
from tests.store.test_store import T0, feed_config, make_item

SET_ATTEMPT = Raw(update(m.FEED).where(m.FEED.c.id == bindparam("feed_key"))
                  .values(last_attempt_at=bindparam("last_attempt_at"), conditional_supported=bindparam("cond")))


def test_a_raw_update_stores_datetimes_and_booleans_as_sqlalchemy_reads_them(store: Store) -> None:
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))  # an offset, not UTC
    with store.write() as tx:
        tx.sync_feeds([feed_config(), feed_config("other", "https://example.org/other.xml")], T0)
        assert SET_ATTEMPT.run(tx.session, {"feed_key": "wire", "last_attempt_at": at, "cond": True}).rowcount == 1
        tx.session.execute(update(m.FEED).where(m.FEED.c.id == "other")  # the same, through SQLAlchemy
                           .values(last_attempt_at=at, conditional_supported=True))
    with store.read() as tx:
        row = tx.feed("wire")
        stored = run_sql(tx.session, "SELECT id, last_attempt_at, conditional_supported FROM feed ORDER BY id",
                         []).fetchall()
    assert row is not None and row.last_attempt_at == at and row.last_attempt_at.utcoffset() == timedelta(0)
    assert row.conditional_supported is True
    assert [tuple(r[1:]) for r in stored] == [tuple(stored[0][1:])] * 2  # as stored, byte for byte


def test_a_naive_datetime_is_refused_before_the_driver_sees_it(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
    with pytest.raises(StatementError), store.write() as tx:
        SET_ATTEMPT.run(tx.session, {"feed_key": "wire", "last_attempt_at": datetime(2026, 3, 1), "cond": None})
    with pytest.raises((StatementError, ValueError)), store.write() as tx:
        tx.insert_items([make_item("naive", fetched_at=datetime(2026, 3, 1))], seed=False)
    with store.read() as tx:
        assert tx.feed("wire").last_attempt_at is None and tx.count_items() == 0  # type: ignore[union-attr]


def test_a_driver_error_is_sqlalchemys_and_rolls_back_the_callers_transaction(store: Store) -> None:
    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
    with pytest.raises(IntegrityError), store.write() as tx:
        tx.insert_items([make_item("kept")], seed=False)
        run_sql(tx.session, "INSERT INTO feed (id, url, enabled) VALUES (?, ?, ?)", ["wire", "https://x", True])
    with store.read() as tx:
        assert tx.count_items() == 0  # the item inserted before the failing statement went with it


def test_the_engines_listeners_see_statements_run_on_the_cursor(store: Store) -> None:
    seen: list[tuple[str, str]] = []

    def before(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(("before", statement.split()[0]))

    def after(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(("after", statement.split()[0]))

    with store.write() as tx:
        tx.sync_feeds([feed_config()], T0)
    event.listen(store.engine, "before_cursor_execute", before)
    event.listen(store.engine, "after_cursor_execute", after)
    try:
        with store.write() as tx:
            SET_ATTEMPT.run(tx.session, {"feed_key": "wire", "last_attempt_at": T0, "cond": False})
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
        event.remove(store.engine, "after_cursor_execute", after)
    assert ("before", "UPDATE") in seen and ("after", "UPDATE") in seen


def test_a_statement_whose_parameters_expand_is_refused(store: Store) -> None:
    lookup = Raw(select(m.FEED.c.id).where(m.FEED.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="one value each"), store.read() as tx:
        lookup.run(tx.session, {"ids": ["wire"]})


def test_rows_read_on_the_cursor_equal_sqlalchemys_reading(store: Store) -> None:
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with store.write() as tx:
        tx.sync_feeds([feed_config(), feed_config("other", "https://example.org/other.xml")], T0)
        tx.update_feed("wire", last_attempt_at=at, conditional_supported=False, etag='"e"', items_seen=3)
    every = Raw(select(m.FEED).order_by(m.FEED.c.id))
    with store.read() as tx:
        raw = every.rows(tx.session, {})
        through_sqlalchemy = [dict(row._mapping) for row in tx.session.execute(select(m.FEED).order_by(m.FEED.c.id))]
    assert raw == through_sqlalchemy and [r["id"] for r in raw] == ["other", "wire"]
    assert raw[1]["last_attempt_at"] == at and raw[1]["last_attempt_at"].tzinfo is not None
    assert raw[1]["conditional_supported"] is False and raw[0]["enabled"] is True
