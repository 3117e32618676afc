"""The overall deadline of every fetch in a pass, enforced on blocking sockets.

Per-read socket timeouts cannot bound a fetch: a server that drips one byte a second answers every read in
time, forever (headers, chunk lines and bodies alike). So each fetch takes a :class:`Ticket` with its deadline
and attaches the socket it is using; one watchdog thread per pass shuts that socket down when the deadline
passes, which makes the fetch's blocked read or write return at once. The fetch then sees ``ticket.expired``
and reports the timeout. A ticket is finished (or its socket detached) before its connection goes back to the
pool, under the watchdog's lock, so a shut-down never reaches a connection another fetch is using.

Every fetch of a pass has the same timeout, so tickets are due in the order they are taken: the watchdog
keeps them in a deque and only ever waits for the oldest one (no heap). A new ticket wakes it only when it had
nothing to wait for; otherwise it reaches the new one after the deadline it waits for (finished tickets are
skipped then), so a pass of quick fetches costs it a wake-up per overall timeout, not one per fetch.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque

from monitor.clock import monotonic


class Ticket:
    """One fetch's deadline and the socket it is using now (None between connections)."""

    __slots__ = ("deadline", "expired", "finished", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.finished = False
        self.sock: socket.socket | None = None

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once it passed)."""
        return self.deadline - monotonic()


class Watchdog:
    """Shuts down the socket of every fetch whose deadline passes. Start it with :meth:`start`, end it with
    :meth:`stop` (it is a daemon thread: a pass that is abandoned does not hold the interpreter's exit)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._cond = threading.Condition(threading.Lock())
        self._due: deque[Ticket] = deque()
        self._stopped = False
        self._idle = False  # waiting with no deadline in sight: a new ticket must wake it
        self._thread = threading.Thread(target=self._run, name="fetch-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join()

    def ticket(self) -> Ticket:
        """A ticket due ``timeout`` seconds from now."""
        with self._cond:
            ticket = Ticket(monotonic() + self.timeout)
            due = self._due
            while due and due[0].finished:  # forget finished ones here too: memory stays bounded by the window
                due.popleft()
            due.append(ticket)
            if self._idle:  # else it is waiting for an earlier deadline and will come to this one after it
                self._idle = False
                self._cond.notify()
        return ticket

    def attach(self, ticket: Ticket, sock: socket.socket | None) -> bool:
        """Make ``sock`` the socket to shut down at the ticket's deadline (None: no socket). False when the
        deadline has already passed (then the caller must not use the socket)."""
        with self._cond:
            if ticket.expired:
                return False
            ticket.sock = sock
            return True

    def finish(self, ticket: Ticket) -> bool:
        """The fetch is over: its socket is its own again. False when the deadline passed first (the socket
        was shut down and must be closed, not reused)."""
        with self._cond:
            ticket.finished = True
            ticket.sock = None
            return not ticket.expired

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                due = self._due
                while due and due[0].finished:
                    due.popleft()
                if not due:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                    continue
                head = due[0]
                wait = head.deadline - monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due.popleft()
                head.expired = True
                if head.sock is not None:
                    _shut(head.sock)


def _shut(sock: socket.socket) -> None:
    """Shut the connection down in both directions: a read blocked on it returns at once (end of stream).
    The plain-socket method even for TLS (``SSLSocket.shutdown`` would drop its SSL object under the reader)."""
    with contextlib.suppress(OSError):  # already closed or never connected: nothing is blocked on it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
