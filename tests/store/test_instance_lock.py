"""The instance lock names the database, not the URL's spelling; claimants name a process that others can check.

SQLite: one file reached through a query parameter, a relative path, ``..``, a symlinked file or directory, another
driver name or a URI filename is one database, and only one of those spellings holds the lock at a time. PostgreSQL:
the advisory lock lives in the database, so other host spellings, query parameters and a missing default port meet
the same lock. ``flock`` locks conflict between two opens of a file in one process as between processes, so most
checks run in-process; one holds the lock in a child process, as a second daemon would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.domain import Confidence, DeliveryStatus
from monitor.store.db import Store
from monitor.store.locking import (
    Claimant,
    InstanceLock,
    Liveness,
    claimant_liveness,
    claimant_of,
    database_key,
    this_process,
)
from tests.databases import BACKENDS, POSTGRES_URL, database_url_for
from tests.store.test_store import make_development

T0 = datetime(2026, 2, 27, 21, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
needs_proc = pytest.mark.skipif(not this_process().machine, reason="needs Linux /proc to tell processes apart")


# ------------------------------------------------------------------------------------------------ SQLite
@pytest.fixture
def sqlite_spellings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Spellings of one SQLite database (the first is the plain absolute one); the working directory is tmp_path."""
    state = tmp_path / "state"
    db = state / "monitor.db"
    Store.open(f"sqlite:///{db}").close()
    (tmp_path / "link.db").symlink_to(db)
    (tmp_path / "linked-state").symlink_to(state, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return [
        f"sqlite:///{db}",
        f"sqlite:///{db}?timeout=30",
        "sqlite:///./state/monitor.db",
        "sqlite:///state/../state/monitor.db?timeout=5&check_same_thread=false",
        f"sqlite:///{tmp_path}/link.db",
        f"sqlite:///{tmp_path}/linked-state/monitor.db",
        f"sqlite+pysqlite:///{db}",
        f"sqlite:///file:{db}?uri=true",
    ]


def test_every_spelling_of_one_sqlite_file_has_the_same_key_and_lock_file(sqlite_spellings: list[str]) -> None:
    keys = {database_key(url) for url in sqlite_spellings}
    paths = {InstanceLock(url).lock_path() for url in sqlite_spellings}
    real = os.path.realpath("state/monitor.db")
    assert keys == {f"sqlite:{real}"}
    assert paths == {Path(real + ".lock")}


@pytest.mark.parametrize("other", range(1, 8))
def test_two_spellings_of_one_sqlite_file_cannot_both_hold_the_instance_lock(sqlite_spellings: list[str],
                                                                            other: int) -> None:
    first, second = InstanceLock(sqlite_spellings[0]), InstanceLock(sqlite_spellings[other])
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()  # free again: the standby takes over
    assert not InstanceLock(sqlite_spellings[0]).try_acquire()
    second.release()


def test_a_lock_held_by_another_process_through_another_spelling_keeps_this_one_standing_by(
        sqlite_spellings: list[str]) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom monitor.store.locking import InstanceLock\n"
         "lock = InstanceLock(sys.argv[1])\nprint(lock.try_acquire(), flush=True)\nsys.stdin.read()\n",
         sqlite_spellings[0] + "?timeout=30"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        assert not InstanceLock(sqlite_spellings[2]).try_acquire()  # the relative spelling, no query
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # the holder exits; its lock dies with it
        holder.wait(timeout=30)
    again = InstanceLock(sqlite_spellings[2])
    assert again.try_acquire()
    again.release()


def test_different_sqlite_files_and_in_memory_databases_do_not_share_a_lock(tmp_path: Path) -> None:
    locks = [InstanceLock(f"sqlite:///{tmp_path}/a.db"), InstanceLock(f"sqlite:///{tmp_path}/b.db?timeout=30"),
             InstanceLock("sqlite://"), InstanceLock("sqlite:///:memory:")]
    assert [lock.try_acquire() for lock in locks] == [True] * 4
    assert InstanceLock("sqlite://").try_acquire()  # an in-memory database is private to its process
    for lock in locks:
        lock.release()


def test_opening_through_a_symlink_migrates_under_the_real_files_migration_lock(sqlite_spellings: list[str]) -> None:
    Store.open(sqlite_spellings[4]).close()  # through link.db
    assert Path("state/monitor.db.migrate.lock").exists()
    assert not Path("link.db.migrate.lock").exists()


# -------------------------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh database of its own (advisory locks are per database: no other test's lock can interfere)."""
    if not POSTGRES_URL:
        pytest.skip("MONITOR_TEST_POSTGRES_URL is not set")
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"monitor_lock_{uuid.uuid4().hex[:12]}"
    base = make_url(POSTGRES_URL)
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_spellings(url: str) -> list[str]:
    from sqlalchemy.engine import make_url

    base = make_url(url)
    port = base.port or 5432
    render = lambda u: u.render_as_string(hide_password=False)  # noqa: E731
    return [
        render(base),
        render(base.update_query_dict({"application_name": "second-daemon", "connect_timeout": "5"})),
        render(base.update_query_dict({"options": "-csearch_path=elsewhere"})),
        render(base.set(host="localhost", port=port)),
        render(base.set(port=None)) if port == 5432 else render(base),
        render(base.set(drivername="postgresql")),
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("other", range(1, 6))
def test_two_spellings_of_one_postgres_database_cannot_both_hold_the_instance_lock(postgres_database: str,
                                                                                  other: int) -> None:
    spellings = _postgres_spellings(postgres_database)
    first, second = InstanceLock(spellings[0]), InstanceLock(spellings[other])
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
        assert not InstanceLock(spellings[0]).try_acquire()
    finally:
        first.release()
        second.release()


@pytest.mark.postgres
def test_postgres_lock_key_ignores_query_parameters_user_and_the_default_port(postgres_database: str) -> None:
    from sqlalchemy.engine import make_url

    spellings = _postgres_spellings(postgres_database)
    same_host = [s for s in spellings if make_url(s).host == make_url(postgres_database).host]
    other_user = make_url(postgres_database).set(username="someone", password="secret")
    keys = {database_key(s) for s in [*same_host, other_user.render_as_string(hide_password=False)]}
    assert len(keys) == 1 and keys.pop().endswith("/" + str(make_url(postgres_database).database))


@pytest.mark.postgres
def test_two_postgres_databases_on_one_server_do_not_share_a_lock(postgres_database: str) -> None:
    first, second = InstanceLock(postgres_database), InstanceLock(POSTGRES_URL)
    try:
        assert first.try_acquire()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()


# ---------------------------------------------------------------------------------------------- claimants
def test_a_claimant_round_trips_through_its_text_and_this_process_is_itself() -> None:
    me = this_process("daemon")
    assert Claimant.parse(str(me)) == me
    assert claimant_liveness(str(me)) is Liveness.SELF
    assert claimant_liveness(str(this_process("worker"))) is Liveness.SELF  # the role is a label, not the process
    assert this_process("monitor poll!").role == "monitor-poll"


@needs_proc
def test_a_claimant_is_alive_while_it_runs_and_dead_once_killed_even_before_it_is_reaped() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        claimant = claimant_of(child.pid, "poll")
        assert claimant.start
        assert claimant_liveness(str(claimant)) is Liveness.ALIVE
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # until it has exited, leaving it unreaped
        assert claimant_liveness(str(claimant)) is Liveness.DEAD  # a zombie
    finally:
        child.kill()
        child.wait(timeout=10)
    assert claimant_liveness(str(claimant)) is Liveness.DEAD  # reaped: no such pid


@needs_proc
def test_a_pid_now_held_by_another_process_is_a_dead_claimant() -> None:
    me = this_process()
    reused = Claimant("daemon", me.host, me.pid, str(int(me.start) + 1), me.machine)  # same pid, other start
    parent = claimant_of(os.getppid())  # a live process that is not this one
    assert claimant_liveness(str(reused)) is Liveness.DEAD
    assert claimant_liveness(str(parent)) is Liveness.ALIVE


def test_claimants_of_other_machines_and_plain_labels_cannot_be_checked() -> None:
    me = this_process()
    elsewhere = Claimant("daemon", "other-host.example", 1, "123", me.machine)
    other_namespace = Claimant("daemon", me.host, 1, "123", "0123456789ab")  # another container of the same name
    assert claimant_liveness(str(elsewhere)) is Liveness.ELSEWHERE
    assert claimant_liveness(str(other_namespace)) is Liveness.ELSEWHERE
    assert claimant_liveness("worker-a") is Liveness.ELSEWHERE and Claimant.parse("worker-a") is None
    assert Claimant.parse("box:4242") == Claimant("daemon", "box", 4242)  # a daemon's id before claimants
    assert claimant_liveness("box:4242") is Liveness.ELSEWHERE


# ---------------------------------------------------------------------------------- renew and release claims
@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with database_url_for(request.param, tmp_path) as url:
        opened = Store.open(url)
        yield opened
        opened.close()


def _claimed(store: Store, worker: str) -> int:
    with store.write() as tx:
        tx.upsert_development(make_development(), T0)
        tx.enqueue("dev-1", "hook", confidence=Confidence.REPORTED, release_at=T0, now=T0, targets=2)
        [row] = tx.claim_due(T0, worker, 10)
    return row.id


def test_renewing_a_claim_moves_its_time_and_keeps_the_results_so_far_only_for_its_claimant(store: Store) -> None:
    row_id = _claimed(store, "w1")
    progress = [{"target": "#0", "ok": True, "attempts": 1, "error": None},
                {"target": "#1", "ok": False, "attempts": 0, "error": None}]
    with store.write() as tx:
        assert not tx.renew_claim(row_id, "w2", T0 + timedelta(seconds=5), progress)
        assert tx.renew_claim(row_id, "w1", T0 + timedelta(seconds=5), progress)
        [row] = tx.outbox()
    assert (row.status, row.claimed_by, row.claimed_at, list(row.targets)) == (
        DeliveryStatus.SENDING, "w1", T0 + timedelta(seconds=5), progress)


def test_releasing_a_claim_is_a_compare_and_set_on_the_claim_as_it_was_read(store: Store) -> None:
    row_id = _claimed(store, "w1")
    with store.read() as tx:
        [seen] = tx.outbox()
    with store.write() as tx:
        assert tx.renew_claim(row_id, "w1", T0 + timedelta(seconds=1))  # the claimant started a send meanwhile
        assert not tx.release_claim(seen, T0 + timedelta(minutes=6), "stale")
        [fresh] = tx.outbox()
        assert tx.release_claim(fresh, T0 + timedelta(minutes=6), "stale")
        assert not tx.release_claim(fresh, T0 + timedelta(minutes=6), "stale")  # once
        assert not tx.renew_claim(row_id, "w1", T0 + timedelta(minutes=7))  # released: not the old claimant's now
        [row] = tx.outbox()
    assert (row.status, row.next_attempt_at, row.last_error) == (
        DeliveryStatus.RETRYING, T0 + timedelta(minutes=6), "stale")
    assert (row.claimed_by, list(row.targets)) == ("w1", list(fresh.targets))  # the results so far are kept
