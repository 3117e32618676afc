"""One active instance per database: an exclusive file lock beside a SQLite file, an advisory lock on
PostgreSQL. A second daemon waits as a hot standby until the lock is free (the holder died or stopped).
Both locks die with their process, so ``kill -9`` of the active daemon frees the lock at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ADVISORY_KEY = 0x6D6F6E69746F72  # "monitor" as a number: the PostgreSQL advisory lock id
SERVER_KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
log = logging.getLogger("monitor.store.locking")


@contextmanager
def migration_lock(database_file: str | None) -> Iterator[None]:
    """Serialise opening and migrating one SQLite file across processes: an exclusive ``flock`` on
    ``<database_file>.migrate.lock`` beside it, held for the block. ``None`` (an in-memory database, or
    PostgreSQL, which takes an advisory lock inside the migration transaction) takes no lock.

    SQLite's own locking is not enough there: the first connection to a fresh file switches it to WAL, and
    that switch upgrades a read lock to a write lock, which SQLite refuses at once with "database is locked"
    (busy timeout or not) when another connection holds a lock at that moment. Waits as long as the holder
    takes (a migration takes milliseconds); the lock dies with its process. The lock file is left in place:
    removing it would let two processes lock two different files of the same name.
    """
    if database_file is None:
        yield
        return
    path = Path(database_file + ".migrate.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class InstanceLock:
    """``try_acquire()`` returns True once this process is the active instance; ``release()`` gives it up."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._fd: int | None = None
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.database_url.startswith("sqlite"):
            return self._try_file()
        return self._try_advisory()

    def _lock_path(self) -> Path:
        path = self.database_url.split("///", 1)[-1] if "///" in self.database_url else "state/monitor.db"
        if path in {"", ":memory:"}:
            path = "state/monitor.db"
        return Path(path + ".lock")

    def _try_file(self) -> bool:
        path = self._lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def _try_advisory(self) -> bool:
        import psycopg

        url = self.database_url.replace("postgresql+psycopg://", "postgresql://").replace(
            "postgresql+psycopg2://", "postgresql://"
        )
        try:
            # Keepalives on both ends: if the active instance's host vanishes without closing its connection,
            # the server ends the session (freeing the lock) in about 25 s instead of the kernel's 2 hours.
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10, keepalives=1, keepalives_idle=10,
                                   keepalives_interval=5, keepalives_count=3, options=SERVER_KEEPALIVES)
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        except psycopg.OperationalError as exc:
            # The database is down or restarting: stay (or become) a standby and retry, rather than crash.
            log.warning("cannot reach the database for the instance lock: %s", type(exc).__name__)
            return False
        if got and got[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def still_held(self) -> bool:
        """For the active instance: is the lock (and for PostgreSQL its session) still alive?"""
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
            except Exception:
                self._conn = None
                return False
        return self.held

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))
                self._conn.close()
            finally:
                self._conn = None
