"""Opening a fresh database from several processes at once: migrations run one at a time and none fails.

Processes are spawned (each its own interpreter and connections, as separate ``monitor`` commands are) and meet at
a barrier, so their opens really overlap. SQLite serialises on ``<db>.migrate.lock`` beside the file, PostgreSQL
on an advisory lock in the migration transaction; each PostgreSQL test works in a schema of its own.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from monitor.store.db import Store
from monitor.store.migrations import LOCATION
from tests.databases import POSTGRES_URL, postgres_schema_url

OPENERS = 4
READERS = 2
READS = 300
MAX_READS = 20_000


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    return config


HEAD = str(ScriptDirectory.from_config(_alembic_config()).get_current_head())


# ------------------------------------------------------------------------------------ spawned processes
def _open(url: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait(timeout=120)
        store = Store.open(url)
        version = store.schema_version()
        store.close()
        results.put(("opener", "ok", version))
    except Exception as exc:  # report, do not hang the parent
        results.put(("opener", f"{type(exc).__name__}: {exc}", None))


def _read(url: str, ready: Any, barrier: Any, results: Any) -> None:
    """A process that has the store open (a daemon, ``monitor status``) and reads while another one migrates."""
    try:
        store = Store.open(url)
        ready.wait(timeout=120)  # opened; the parent now takes the schema back one revision
        barrier.wait(timeout=120)
        version = None
        for n in range(MAX_READS):  # at least READS reads, and on until the openers' migration shows
            version = store.schema_version()
            if version == HEAD and n >= READS:
                break
        with store.read() as tx:
            tx.feeds()
        store.close()
        results.put(("reader", "ok", version))
    except Exception as exc:
        results.put(("reader", f"{type(exc).__name__}: {exc}", None))


def _run(processes: list[Any], results: Any) -> list[tuple[str, str, str | None]]:
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return sorted(outcomes)


def open_at_once(url: str, count: int = OPENERS) -> list[tuple[str, str, str | None]]:
    """``count`` processes run ``Store.open(url)`` at the same moment; their (role, outcome, schema version)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count)
    results = context.Queue()
    processes = [context.Process(target=_open, args=(url, barrier, results)) for _ in range(count)]
    for process in processes:
        process.start()
    return _run(processes, results)


# ------------------------------------------------------------------------------------------------ tests
def test_processes_opening_a_fresh_sqlite_file_at_once_all_succeed_and_leave_it_at_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state/monitor.db"

    outcomes = open_at_once(url)

    assert outcomes == [("opener", "ok", HEAD)] * OPENERS
    assert (tmp_path / "state" / "monitor.db.migrate.lock").exists()
    store = Store.open(url)
    with store.read() as tx:
        assert tx.feeds() == [] and tx.count_items() == 0  # the schema is there, and empty
    store.close()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="MONITOR_TEST_POSTGRES_URL is not set")
def test_processes_opening_a_fresh_postgres_database_at_once_all_succeed_and_leave_it_at_head() -> None:
    with postgres_schema_url() as url:
        outcomes = open_at_once(url)

        assert outcomes == [("opener", "ok", HEAD)] * OPENERS
        store = Store.open(url)
        with store.read() as tx:
            assert tx.feeds() == [] and tx.count_items() == 0
        store.close()


def test_a_migration_while_other_processes_read_reports_no_database_is_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/monitor.db"
    Store.open(url).close()
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(READERS + 1)
    barrier = context.Barrier(READERS + OPENERS)
    results = context.Queue()
    readers = [context.Process(target=_read, args=(url, ready, barrier, results)) for _ in range(READERS)]
    openers = [context.Process(target=_open, args=(url, barrier, results)) for _ in range(OPENERS)]
    for process in readers:
        process.start()
    ready.wait(timeout=120)
    # the readers have the store open; take the schema back a revision, so the openers have a migration to run
    store = Store.open(url)
    head = ScriptDirectory.from_config(_alembic_config()).get_revision(HEAD)
    assert head is not None
    previous = head.down_revision or "base"
    config = _alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, str(previous))
    assert store.schema_version() == (None if previous == "base" else previous)
    store.close()
    for process in openers:
        process.start()

    outcomes = _run(readers + openers, results)

    assert outcomes == [("opener", "ok", HEAD)] * OPENERS + [("reader", "ok", HEAD)] * READERS


def test_an_in_memory_database_opens_without_a_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    store = Store.open("sqlite://")

    assert store.schema_version() == HEAD
    store.close()
    assert list(tmp_path.iterdir()) == []
