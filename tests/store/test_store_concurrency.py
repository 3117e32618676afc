"""The store under concurrency: several processes on one SQLite file, and racing outbox claims.

Processes and threads meet at barriers so their work really overlaps; every loop is bounded by a count.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config.schema import FeedConfig
from monitor.domain import Confidence, DeliveryStatus, Item
from monitor.store.db import HEAD_REVISION, OutboxRow, Store
from tests.databases import BACKENDS, database_url_for
from tests.store.test_store import make_development

T0 = datetime(2026, 2, 27, 21, 0, tzinfo=UTC)
WRITES = 150
READS = 300
FEEDS = [FeedConfig(id="wire", url="https://example.org/feed.xml")]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url_for(request.param, tmp_path) as url:
        yield url


# --------------------------------------------------------------------------- two processes, one SQLite file
def _writer(url: str, name: str, barrier: Any, results: Any) -> None:
    """Read-modify-write transactions, each holding the write lock while it inserts a batch of items."""
    try:
        barrier.wait()
        store = Store.open(url)  # all processes open (and migrate) a fresh file at once
        with store.write() as tx:
            tx.sync_feeds(FEEDS, T0)
        for n in range(WRITES):
            with store.write() as tx:
                meta = tx.get_meta("counter")
                tx.set_meta("counter", str(int(meta[0]) + 1 if meta else 1), T0)
                tx.insert_items([_item(f"{name}-{n}-{k}") for k in range(20)], seed=False)
        store.close()
        results.put((name, "ok"))
    except Exception as exc:  # report, do not hang the parent
        results.put((name, f"{type(exc).__name__}: {exc}"))


def _reader(url: str, name: str, barrier: Any, results: Any) -> None:
    """The CLI's view: snapshots of the counter and the tables while writers work; counts never go back."""
    try:
        barrier.wait()
        store = Store.open(url)
        last = 0
        for _ in range(READS):
            with store.read() as tx:
                meta = tx.get_meta("counter")
                tx.feeds()
                tx.count_items()
                tx.developments(limit=10)
            current = int(meta[0]) if meta else 0
            if current < last:
                raise AssertionError(f"counter went back from {last} to {current}")
            last = current
        store.close()
        results.put((name, "ok"))
    except Exception as exc:
        results.put((name, f"{type(exc).__name__}: {exc}"))


def _item(item_id: str) -> Item:
    return Item(feed_id="wire", item_id=item_id, title="t", summary="", link=None, outlet="o",
                published=T0, fetched_at=T0)  # fmt: skip


def test_readers_and_writers_in_separate_processes_never_see_database_is_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state/monitor.db"
    # Fresh processes forked from a single-threaded server that has imported this module (and SQLAlchemy) once,
    # instead of four interpreters importing everything: the same separate processes and connections, faster.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    roles = [("writer-1", _writer), ("writer-2", _writer), ("reader-1", _reader), ("reader-2", _reader)]
    barrier = context.Barrier(len(roles))
    results = context.Queue()
    processes = [context.Process(target=target, args=(url, name, barrier, results)) for name, target in roles]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    assert outcomes == {name: "ok" for name, _ in roles}
    assert [p.exitcode for p in processes] == [0] * len(processes)
    store = Store.open(url)
    with store.read() as tx:
        counter, items = tx.get_meta("counter"), tx.count_items()
    store.close()
    assert counter is not None and counter[0] == str(2 * WRITES)  # no lost update
    assert items == 2 * WRITES * 20


# ------------------------------------------------------------------------------------ concurrent opening
def test_concurrent_opens_of_a_fresh_database_all_succeed(database_url: str) -> None:
    barrier = threading.Barrier(3)
    versions: list[str | None] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            barrier.wait()
            store = Store.open(database_url)
            versions.append(store.schema_version())
            store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert versions == [HEAD_REVISION] * 3


# -------------------------------------------------------------------------------------------- outbox claims
def _queue_messages(store: Store, channels: int) -> set[int]:
    with store.write() as tx:
        tx.upsert_development(make_development(), T0)
        for n in range(channels):
            tx.enqueue("dev-1", f"ch{n}", confidence=Confidence.REPORTED, release_at=T0, now=T0, targets=1)
        return {row.id for row in tx.outbox()}


def test_workers_on_two_stores_claim_disjoint_sets_of_rows(database_url: str) -> None:
    first, second = Store.open(database_url), Store.open(database_url)  # two engines, as two processes have
    queued = _queue_messages(first, 40)
    barrier = threading.Barrier(4)
    claims: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(store: Store, worker: str) -> None:
        mine: list[int] = []
        try:
            barrier.wait()
            for _ in range(len(queued)):  # bounded: each round claims at least one row or stops
                with store.write() as tx:
                    batch = tx.claim_due(T0 + timedelta(seconds=1), worker, limit=3)
                if not batch:
                    break
                mine.extend(row.id for row in batch)
        except BaseException as exc:
            errors.append(exc)
        claims[worker] = mine

    workers = [(first, "a1"), (first, "a2"), (second, "b1"), (second, "b2")]
    threads = [threading.Thread(target=work, args=worker) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first.close()
    second.close()
    assert errors == []
    everything = [row_id for ids in claims.values() for row_id in ids]
    assert sorted(everything) == sorted(queued)  # each row claimed exactly once


def test_a_claim_racing_an_uncommitted_claim_wins_nothing(database_url: str) -> None:
    first, second = Store.open(database_url), Store.open(database_url)
    queued = _queue_messages(first, 3)
    started = threading.Event()
    late: list[OutboxRow] = []

    def rival() -> None:
        started.set()
        with second.write() as tx:  # blocks (SQLite lock / PostgreSQL row locks) until the first commits
            late.extend(tx.claim_due(T0 + timedelta(seconds=2), "late", limit=10))

    with first.write() as tx:
        early = tx.claim_due(T0 + timedelta(seconds=1), "early", limit=10)
        thread = threading.Thread(target=rival)
        thread.start()
        started.wait(timeout=10)
        if first.dialect == "postgresql":
            # let the rival read the still-pending rows and queue on their row locks before we commit;
            # on SQLite it cannot read anything before the commit (BEGIN IMMEDIATE), whatever the timing
            _wait_for_a_lock_wait(first, "UPDATE outbox")
    thread.join(timeout=60)
    with first.read() as tx:
        statuses = {row.claimed_by for row in tx.outbox([DeliveryStatus.SENDING])}
    first.close()
    second.close()
    assert {row.id for row in early} == queued
    assert late == []
    assert statuses == {"early"}


# ------------------------------------------------------------------------------------------ racing ingests
def test_of_two_writers_storing_the_same_items_only_the_first_to_commit_gets_them_as_new(database_url: str) -> None:
    first, second = Store.open(database_url), Store.open(database_url)
    with first.write() as tx:
        tx.sync_feeds(FEEDS, T0)
    batch = [_item(f"race-{n}") for n in range(30)]
    late: list[Item] = []
    errors: list[BaseException] = []

    def rival() -> None:
        try:
            with second.write() as tx:  # SQLite: waits for the lock; PostgreSQL: waits on the uncommitted rows
                late.extend(tx.insert_items(batch, seed=False))
        except BaseException as exc:
            errors.append(exc)

    with first.write() as tx:
        early = tx.insert_items(batch, seed=False)
        thread = threading.Thread(target=rival)
        thread.start()
        if first.dialect == "postgresql":
            # the rival must look for the items before we commit (it sees none) and queue on their index
            # entries; only RETURNING then tells it that its ON CONFLICT DO NOTHING inserted nothing
            _wait_for_a_lock_wait(first, "INSERT INTO item")
    thread.join(timeout=60)
    with first.read() as tx:
        stored = tx.count_items()
    first.close()
    second.close()
    assert errors == []
    assert (early, late, stored) == (batch, [], len(batch))


def _wait_for_a_lock_wait(store: Store, statement: str) -> None:
    """Until another PostgreSQL session waits on a lock (bounded; synchronisation, not moving time)."""
    import psycopg

    url = store.engine.url.set(drivername="postgresql", query={})
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        for _ in range(1000):
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                (statement + "%",),
            ).fetchone()
            if row and row[0] > 0:
                return
            threading.Event().wait(0.01)
    raise AssertionError(f"no {statement!r} ever waited for a lock")
