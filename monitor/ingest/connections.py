"""HTTP/1.1 connections to checked addresses only, and the keep-alive pool of one fetch pass.

A :class:`PinnedConnection` is the standard library's ``http.client.HTTPConnection`` (framing, chunked bodies,
keep-alive; no content decoding, which ``monitor.ingest.decode`` does under a cap) whose socket we open
ourselves: to the addresses the :class:`~monitor.ingest.addresses.AddressBook` recorded when the fetch policy
checked the host, in order, within one connect timeout; never to whatever the name resolves to later. The
connection keeps the host *name*, so the Host header, TLS SNI and certificate verification use the name.
It never opens itself (``auto_open`` is off): a connection the server closed is not silently reopened
somewhere unchecked. Environment proxies are never used (a proxy would resolve the names itself).

A :class:`ConnectionPool` keeps at most ``max_idle`` idle keep-alive connections for the pass (the least
recently used goes first) and drops one that has idled past ``keepalive_expiry`` or that the server closed.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading

from monitor.clock import monotonic
from monitor.ingest.addresses import AddressBook
from monitor.ingest.fetchtypes import FetchProblem, brief


class ConnectFailed(FetchProblem):
    """No checked address of the host accepted a connection (or TLS failed): ``connection failed: ...``."""


class ConnectTimedOut(FetchProblem):
    """The connection (TCP and TLS handshake) did not complete within the time allowed."""


class PinnedConnection(http.client.HTTPConnection):
    """One keep-alive connection to ``host:port`` over a socket made by :meth:`open`."""

    auto_open = 0  # http.client must never connect on its own (it would resolve the name)

    def __init__(self, scheme: str, host: str, port: int, *, read_timeout: float,
                 ssl_context: ssl.SSLContext | None) -> None:  # fmt: skip
        super().__init__(host, port, timeout=read_timeout)
        self.default_port = 443 if scheme == "https" else 80  # the Host header names the port only if not this
        self.key = (scheme, host, port)
        self.ssl_context = ssl_context
        self.read_timeout = read_timeout
        self.idle_since = 0.0

    def connect(self) -> None:
        raise http.client.NotConnected("a pinned connection is opened by PinnedConnection.open only")

    def open(self, addresses: tuple[str, ...], timeout: float) -> socket.socket:
        """Connect to the first of ``addresses`` that answers, all within ``timeout`` seconds (TLS handshake
        included); then reads and writes time out after ``read_timeout``. Returns the socket."""
        if not addresses:
            raise ConnectFailed(f"connection failed: {self.host} was not checked by the fetch policy")
        deadline = monotonic() + timeout
        sock = _connect_first(addresses, self.port, deadline, self.host)
        try:
            if self.ssl_context is not None:
                sock.settimeout(max(deadline - monotonic(), 0.001))
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
            sock.settimeout(self.read_timeout)
        except TimeoutError:
            sock.close()
            raise ConnectTimedOut(f"connect to {self.host} timed out") from None
        except OSError as exc:  # ssl.SSLError is one: a bad certificate, a handshake the server broke off
            sock.close()
            raise ConnectFailed(f"connection failed: {brief(exc)}") from None
        self.sock = sock
        return sock


def _connect_first(addresses: tuple[str, ...], port: int, deadline: float, host: str) -> socket.socket:
    failure: OSError | None = None
    for address in addresses:
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise ConnectTimedOut(f"connect to {host} timed out")
        try:
            family, kind, proto, _, where = socket.getaddrinfo(
                address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)[0]  # a literal: no lookup
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            failure = exc
            continue
        try:
            sock.settimeout(remaining)
            sock.connect(where)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except TimeoutError:
            sock.close()
            failure = None
            if len(addresses) == 1 or deadline - monotonic() <= 0:
                raise ConnectTimedOut(f"connect to {host} timed out") from None
        except OSError as exc:
            sock.close()
            failure = exc
    if failure is None:
        raise ConnectTimedOut(f"connect to {host} timed out")
    raise ConnectFailed(f"connection failed: {brief(failure)}")


class ConnectionPool:
    """The pass's keep-alive connections. Thread-safe; ``acquire`` hands a connection to one fetch at a time."""

    def __init__(self, book: AddressBook, *, read_timeout: float, max_idle: int, trust_env: bool,
                 keepalive_expiry: float = 5.0) -> None:  # fmt: skip
        self.book = book
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self.trust_env = trust_env
        self.keepalive_expiry = keepalive_expiry
        self._idle: list[PinnedConnection] = []  # oldest first
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    def acquire(self, scheme: str, host: str, port: int, connect_timeout: float, *,
                fresh: bool = False) -> tuple[PinnedConnection, bool]:  # fmt: skip
        """A connection to ``scheme://host:port`` and whether it is a reused one (a reused one may turn out to
        be closed by the server: the caller may retry once with ``fresh``, which skips the idle ones). A new
        one is opened here, to the host's checked addresses, within ``connect_timeout``."""
        key = (scheme, host, port)
        found = None
        if not fresh:
            with self._lock:
                idle = self._idle
                for n in range(len(idle) - 1, -1, -1):
                    if idle[n].key == key:
                        found = idle.pop(n)
                        break
        if found is not None and (monotonic() - found.idle_since > self.keepalive_expiry or _dropped(found)):
            found.close()
            found = None
        if found is not None:
            return found, True
        conn = PinnedConnection(scheme, host, port, read_timeout=self.read_timeout,
                                ssl_context=self._ssl_context() if scheme == "https" else None)  # fmt: skip
        conn.open(self.book.pinned(host), connect_timeout)
        return conn, False

    def release(self, conn: PinnedConnection) -> None:
        """Take back a connection whose response was read to the end; one the server is closing is closed."""
        if conn.sock is None:  # the response said Connection: close (http.client handed the socket to it)
            conn.close()
            return
        conn.idle_since = monotonic()
        evicted = None
        with self._lock:
            self._idle.append(conn)
            if len(self._idle) > self.max_idle:
                evicted = self._idle.pop(0)
        if evicted is not None:
            evicted.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _ssl_context(self) -> ssl.SSLContext:
        """One TLS context for the pass, made on first use (an all-plain-HTTP pass never loads the CA bundle)."""
        with self._lock:
            if self._ssl is None:
                self._ssl = tls_context(self.trust_env)
            return self._ssl


def tls_context(trust_env: bool) -> ssl.SSLContext:
    """Certificate verification against certifi's CA bundle (what httpx used), or SSL_CERT_FILE/SSL_CERT_DIR
    when ``trust_env``; HTTP/1.1 offered by ALPN."""
    if trust_env and os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    elif trust_env and os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    else:
        import certifi  # httpx's dependency; imported on the first HTTPS fetch only

        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


def _dropped(conn: PinnedConnection) -> bool:
    """True when an idle connection is readable: the server closed it (or sent something unasked)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
