"""One active instance per database, and who holds an outbox claim.

**The instance lock.** An exclusive file lock beside a SQLite file, an advisory lock on PostgreSQL. A second daemon
waits as a hot standby until the lock is free (the holder died or stopped). Both locks die with their process, so
``kill -9`` of the active daemon frees the lock at once. The lock names the database, never the URL's spelling: on
SQLite it is ``<file>.lock`` beside the resolved database file (symlinks, ``.``/``..`` and a relative path
resolved as SQLite resolves them, query parameters such as ``?timeout=30`` ignored); on PostgreSQL the advisory
lock lives in the database itself, so every URL reaching that database (host spelling, user, query parameters)
meets the same lock. :func:`database_key` says which database a URL names.

**Claimants.** An outbox row being sent records who claimed it: :class:`Claimant`, the process's role, host, pid,
the pid's start time and the machine (boot and pid namespace), stored as text in ``outbox.claimed_by``. Another
process on the same machine can then tell for certain whether the claimant still runs (:func:`claimant_liveness`):
the pid is gone, a zombie, or now a different process (its start time differs) means the claimant is dead and its
claim can be released at once. A claimant on another machine cannot be checked this way.
"""

from __future__ import annotations

import enum
import fcntl
import hashlib
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url

ADVISORY_KEY = 0x6D6F6E69746F72  # "monitor" as a number: the PostgreSQL advisory lock id
SERVER_KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
log = logging.getLogger("monitor.store.locking")


# ------------------------------------------------------------------------------------ which database
def sqlite_file(url: str | URL) -> str | None:
    """The file a SQLite URL opens, resolved: absolute, symlinks and ``..`` followed, a relative path taken against
    the working directory (as SQLite takes it), query parameters ignored, a URI filename (``file:...``) decoded.

    None for an in-memory database and for any other backend. The file need not exist yet.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("mode") == "memory":
        return None
    database = parsed.database or ""
    if database.startswith("file:"):  # a URI filename (``?uri=true``): file:path, file:/path, file:///path
        database = unquote(database.removeprefix("file:").split("?", 1)[0].split("#", 1)[0])
        if database.startswith("//"):  # file://localhost/path or file:///path (SQLite allows no other host)
            database = database[2:].removeprefix("localhost")
    if database in ("", ":memory:"):
        return None
    return os.path.realpath(database)


def database_key(url: str) -> str:
    """The database a URL names, the same for every spelling of it.

    SQLite: ``sqlite:<resolved file>`` (``sqlite:memory`` for an in-memory one, private to its process).
    PostgreSQL: ``postgresql://<host>:<port>/<dbname>``, host lower-cased, the default port filled in, user,
    password and query parameters other than ``host``/``port``/``dbname`` ignored. (The advisory lock itself is
    scoped by the server to the database, so two spellings of one host reach the same lock anyway.)
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:{sqlite_file(parsed) or 'memory'}"
    query = parsed.query

    def param(name: str) -> str:
        value = query.get(name)
        return str(value[-1] if isinstance(value, tuple) else value) if value else ""

    host = (parsed.host or param("host") or "localhost").lower()
    port = parsed.port or param("port") or 5432
    dbname = parsed.database or param("dbname") or parsed.username or ""
    return f"{parsed.get_backend_name()}://{host}:{port}/{dbname}"


@contextmanager
def migration_lock(database_file: str | None) -> Iterator[None]:
    """Serialise opening and migrating one SQLite file across processes: an exclusive ``flock`` on
    ``<database_file>.migrate.lock`` beside it, held for the block. ``None`` (an in-memory database, or
    PostgreSQL, which takes an advisory lock inside the migration transaction) takes no lock. Pass the resolved
    file (:func:`sqlite_file`), so that every spelling of one database meets the same lock.

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
    """``try_acquire()`` returns True once this process is the active instance; ``release()`` gives it up.

    Keyed on the database (:func:`database_key`), not on the URL string. An in-memory SQLite database is private
    to its process: its lock is always free.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.key = database_key(database_url)
        self._sqlite = make_url(database_url).get_backend_name() == "sqlite"
        self._file = sqlite_file(database_url) if self._sqlite else None
        self._fd: int | None = None
        self._conn: Any = None
        self._private = False  # held the lock of an in-memory database

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None or self._private

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self._sqlite:
            if self._file is None:
                self._private = True
                return True
            return self._try_file()
        return self._try_advisory()

    def lock_path(self) -> Path | None:
        """The lock file of a SQLite database (``<resolved file>.lock``); None for PostgreSQL or in-memory."""
        return None if self._file is None else Path(self._file + ".lock")

    def _try_file(self) -> bool:
        path = self.lock_path()
        assert path is not None
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

        # the URL's own connection parameters (host, port, sslmode, ...); only the database matters for the lock
        url = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
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
        self._private = False
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


# ------------------------------------------------------------------------------------------ claimants
_ROLE = re.compile(r"[^A-Za-z0-9_-]+")
_CLAIMANT = re.compile(r"^(?P<role>[A-Za-z0-9_-]+)@(?P<host>.*)#(?P<pid>\d+)\.(?P<start>\d*)\.(?P<machine>[0-9a-f]*)$")
_LEGACY_DAEMON = re.compile(r"^(?P<host>[^:@#\s]+):(?P<pid>\d+)$")  # a daemon's worker id before claimants
DAEMON_ROLE = "daemon"


class Liveness(enum.Enum):
    """What this process can tell about the process that claimed an outbox row."""

    SELF = "self"  # this very process
    ALIVE = "alive"  # same machine, that process still runs
    DEAD = "dead"  # same machine, that process is gone (or its pid is now another process)
    ELSEWHERE = "elsewhere"  # another machine, or an identity from before claimants: cannot be checked


@dataclass(frozen=True)
class Claimant:
    """Who claimed an outbox row: stored as ``role@host#pid.start.machine`` in ``outbox.claimed_by``.

    ``role`` is ``daemon`` for ``monitor run`` (it claims only while it holds the instance lock) or the worker's
    label (``worker`` for ``monitor poll``). ``start`` is the pid's start time in clock ticks since boot, which
    tells a reused pid from the claimant; ``machine`` hashes the boot id and the pid namespace, so that only
    processes that see the same pids compare them. Either is empty where ``/proc`` does not say.
    """

    role: str
    host: str
    pid: int
    start: str = ""
    machine: str = ""

    def __str__(self) -> str:
        return f"{self.role}@{self.host}#{self.pid}.{self.start}.{self.machine}"

    @classmethod
    def parse(cls, text: str | None) -> Claimant | None:
        """The claimant a ``claimed_by`` value names; a daemon's old ``host:pid`` id counts as a daemon of
        unknown machine. None for anything else (a test's or an old ``monitor poll``'s plain label)."""
        if not text:
            return None
        found = _CLAIMANT.match(text)
        if found:
            return cls(found["role"], found["host"], int(found["pid"]), found["start"], found["machine"])
        legacy = _LEGACY_DAEMON.match(text)
        if legacy:
            return cls(DAEMON_ROLE, legacy["host"], int(legacy["pid"]))
        return None

    def same_process(self, other: Claimant) -> bool:
        return (self.host, self.machine, self.pid, self.start) == (other.host, other.machine, other.pid, other.start)


_identity: dict[int, tuple[str, str, str]] = {}  # pid -> (host, start, machine); a forked child recomputes


def this_process(role: str = "worker") -> Claimant:
    """This process as a claimant, with ``role`` (reduced to letters, digits, ``-`` and ``_``)."""
    pid = os.getpid()
    if pid not in _identity:
        stat = _proc_stat(pid)
        _identity.clear()
        _identity[pid] = (socket.gethostname(), stat[1] if stat else "", _machine())
    host, start, machine = _identity[pid]
    return Claimant(_ROLE.sub("-", role).strip("-")[:40] or "worker", host, pid, start, machine)


def claimant_of(pid: int, role: str = "worker") -> Claimant:
    """The claimant that process ``pid`` of this machine is (its start time read now), with ``role``."""
    me = this_process(role)
    stat = _proc_stat(pid)
    return Claimant(me.role, me.host, pid, stat[1] if stat else "", me.machine)


def claimant_liveness(claimed_by: str | None) -> Liveness:
    """Whether the process named by a ``claimed_by`` value still runs, as far as this process can tell.

    DEAD only when certain: the same machine (host, boot, pid namespace) and its pid gone, a zombie, or held by a
    process that started at another time. ALIVE when that pid still runs with the same start time.
    """
    claimant = Claimant.parse(claimed_by)
    if claimant is None:
        return Liveness.ELSEWHERE
    me = this_process()
    if (claimant.host, claimant.machine) != (me.host, me.machine):
        return Liveness.ELSEWHERE
    if claimant.same_process(me):
        return Liveness.SELF
    if claimant.pid <= 0:
        return Liveness.ELSEWHERE
    if not _pid_exists(claimant.pid):
        return Liveness.DEAD
    stat = _proc_stat(claimant.pid)
    if stat is None:  # no /proc (not Linux), or hidden from us: the pid runs, but which process is it?
        return Liveness.DEAD if not _pid_exists(claimant.pid) else Liveness.ELSEWHERE
    state, start = stat
    if state in {"Z", "X", "x"}:  # killed, not yet reaped by its parent
        return Liveness.DEAD
    if not claimant.start:
        return Liveness.ELSEWHERE
    return Liveness.ALIVE if start == claimant.start else Liveness.DEAD


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of a pid from ``/proc/<pid>/stat``; None where there is no such file."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after "pid (comm)": comm may hold spaces and parentheses
    if len(fields) < 20:
        return None
    return fields[0], fields[19]  # field 3 (state) and field 22 (starttime) of proc(5)


def _machine() -> str:
    """The boot and pid namespace this process runs in, hashed; empty where /proc does not say."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:12]
