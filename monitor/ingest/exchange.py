"""One feed's fetch, start to end, on the calling thread: the fetch policy, each request and its redirects, the
body under its caps, and every failure turned into the result's readable ``error`` (nothing raises out).

Bounded three ways: connect and read timeouts (per socket operation), the overall deadline (the pass's
:class:`~monitor.ingest.watchdog.Watchdog` shuts the socket down when it passes: a server dripping one byte a
second defeats per-read timeouts) and a cap on *decoded* bytes (``monitor.ingest.decode``). Redirects are
followed by hand to count hops, detect loops, notice permanent moves and check every target against the fetch
policy (``monitor.ingest.netpolicy``) before connecting to it: each host is resolved once per pass, every one
of its addresses checked, and the connection made to those addresses only (``monitor.ingest.connections``).
A refusal is that feed's ``error`` (``refused: ...``), before any connection.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from monitor.clock import Clock, monotonic
from monitor.ingest import netpolicy
from monitor.ingest.addresses import AddressBook, LookupTimeout
from monitor.ingest.connections import ConnectionPool, ConnectTimedOut, PinnedConnection
from monitor.ingest.decode import BoundedDecoder
from monitor.ingest.fetchheaders import PassCookies, decoded, header_dict, header_value
from monitor.ingest.fetchtypes import (
    DeadlinePassed,
    FetchProblem,
    FetchRequest,
    FetchResult,
    brief,
    parse_retry_after,
    seconds,
    size,
)
from monitor.ingest.requesturl import Target, parse_target
from monitor.ingest.watchdog import Ticket, Watchdog

# each request and its answer at DEBUG, in the words httpx used (`monitor -vv poll` shows them; the log handler
# redacts the URL's secrets)
log = logging.getLogger("monitor.ingest.fetch")
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_DRAIN_LIMIT = 64 * 1024  # unwanted body bytes worth reading to keep a connection alive
# raw bytes read per step; read(n), not read1(n): it closes the response at its end, which is what lets
# http.client send the next request on the connection (the watchdog bounds a read that waits for all n)
_READ_STEP = 64 * 1024
# what a keep-alive connection the server had closed looks like when reused: retried once on a new one
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


@dataclass(frozen=True)
class Limits:
    """A fetcher's settings, as one fetch needs them."""

    user_agent: str
    max_bytes: int
    overall_timeout: float
    connect_timeout: float
    read_timeout: float
    max_redirects: int
    clock: Clock
    classify: netpolicy.Classifier


class Session:
    """What the fetches of one pass share: the checked addresses, the keep-alive pool, the deadline watchdog
    and the cookie jar (a cookie one response sets goes back to its site for the rest of the pass, as an HTTP
    client's would). Close it when the pass ends."""

    def __init__(self, limits: Limits, book: AddressBook, pool: ConnectionPool) -> None:
        self.limits = limits
        self.book = book
        self.pool = pool
        self.watchdog = Watchdog(limits.overall_timeout).start()
        self.cookies = PassCookies()

    def close(self) -> None:
        self.watchdog.stop()
        self.pool.close()


def fetch(session: Session, req: FetchRequest) -> FetchResult:
    """Fetch one feed. Never raises for network or HTTP problems (see :class:`FetchResult`)."""
    limits = session.limits
    started_at = limits.clock()
    t0 = monotonic()
    ticket = session.watchdog.ticket()
    trail = _Trail(req.url)
    try:
        try:
            return _fetch(session, req, ticket, trail, started_at, t0)
        finally:
            session.watchdog.finish(ticket)
    except Exception as exc:
        error = _error_text(exc, ticket, limits)
    return FetchResult(
        feed_id=req.feed_id, requested_url=req.url, final_url=trail.url, status=None, body=None, headers={},
        not_modified=False, permanent_redirect=None, error=error, retry_after=None, gone=False,
        started_at=started_at, elapsed_s=monotonic() - t0, body_sha256=None, redirects=tuple(trail.hops),
    )


class _Trail:
    """Where the fetch has got to: its current URL and the redirect targets followed so far."""

    __slots__ = ("hops", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.hops: list[str] = []


def _error_text(exc: Exception, ticket: Ticket, limits: Limits) -> str:
    """The result's ``error`` for whatever stopped the fetch; the overall deadline wins (a socket the
    watchdog shut down fails with whatever the read saw: an end of stream, a reset)."""
    if ticket.expired or isinstance(exc, DeadlinePassed):
        return f"timeout after {seconds(limits.overall_timeout)}"
    if isinstance(exc, (LookupTimeout, ConnectTimedOut)):
        return f"connect timeout after {seconds(limits.connect_timeout)}"
    if isinstance(exc, FetchProblem):
        return str(exc)
    if isinstance(exc, TimeoutError):  # socket.timeout: one read or write waited read_timeout
        return f"read timeout after {seconds(limits.read_timeout)}"
    if isinstance(exc, http.client.InvalidURL):  # a host or path http.client will not put in a request
        return f"bad URL: {brief(exc)}"
    if isinstance(exc, http.client.HTTPException):  # a broken answer: bad status line, too many headers, ...
        return f"{type(exc).__name__}: {brief(exc)}"
    if isinstance(exc, ssl.SSLError):
        return f"connection failed: {brief(exc)}"
    if isinstance(exc, OSError):
        return f"network error: {brief(exc)}"
    if isinstance(exc, (ValueError, OverflowError)):  # "http://[zz/x", port 99999 in a redirect
        return f"bad URL: {brief(exc)}"
    return f"fetch failed: {type(exc).__name__}: {brief(exc)}"  # anything else stays this feed's failure


def _headers(session: Session, req: FetchRequest) -> dict[str, str | bytes]:
    limits = session.limits
    headers: dict[str, str | bytes] = {
        "User-Agent": limits.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate",
    }
    if req.etag:
        headers["If-None-Match"] = header_value(req.etag)
    if req.last_modified:
        headers["If-Modified-Since"] = header_value(req.last_modified)
    return headers


def _resolve(session: Session, host: str, ticket: Ticket) -> tuple[str, ...]:
    """The host's addresses, waiting at most the connect timeout (as a lookup inside a connect would) and never
    past the overall deadline."""
    remaining = ticket.remaining()
    if remaining <= 0:
        raise DeadlinePassed("deadline")
    wait = min(session.limits.connect_timeout, remaining)
    try:
        return session.book.resolve(host, wait)
    except LookupTimeout:
        if wait < session.limits.connect_timeout:
            raise DeadlinePassed("deadline") from None
        raise


def _origin(session: Session, configured_url: str, ticket: Ticket) -> tuple[tuple[str, tuple[str, ...]], bool]:
    """The configured host of a moved feed and whether it counts as public (it does when it no longer
    resolves: the safe side)."""
    host = parse_target(configured_url).host
    try:
        addresses = _resolve(session, host, ticket)
    except DeadlinePassed:
        raise
    except FetchProblem:
        return (host, ()), True
    return (host, addresses), netpolicy.is_public(addresses, classify=session.limits.classify)


def _check(session: Session, target: Target, previous: tuple[str, tuple[str, ...]] | None,
           from_public: bool | None, ticket: Ticket) -> tuple[str, tuple[str, ...]]:  # fmt: skip
    """Resolve and check the host of ``target`` before a request. ``previous`` is the redirecting host and its
    addresses, None for the first request (the configured URL). Returns the host and its checked addresses;
    raises the refusal."""
    host = target.host
    addresses = _resolve(session, host, ticket)
    if previous is None:
        refusal = session.book.check_target(host, addresses)
    else:
        refusal = netpolicy.check_redirect(*previous, host, addresses, classify=session.limits.classify,
                                           from_public=from_public)  # fmt: skip
    if refusal is not None:
        raise FetchProblem(refusal)
    return host, addresses


def _fetch(session: Session, req: FetchRequest, ticket: Ticket, trail: _Trail, started_at: datetime,
           t0: float) -> FetchResult:  # fmt: skip
    limits = session.limits
    url = req.url
    visited = {url}
    hops = trail.hops
    permanent: str | None = None
    only_permanent = True  # a 301 after a temporary hop does not move the feed's own URL
    headers = _headers(session, req)
    checked: tuple[str, tuple[str, ...]] | None = None
    origin_public: bool | None = None
    if req.configured_url and req.configured_url != url:
        checked, origin_public = _origin(session, req.configured_url, ticket)
    while True:
        target = parse_target(url)
        checked = _check(session, target, checked, origin_public, ticket)
        origin_public = None
        conn, resp = _exchange(session, target, url, headers, ticket)
        try:
            status = resp.status
            location = resp.msg.get("location") if status in _REDIRECTS else None
            if location is not None:
                url = _follow(url, decoded(location).strip(), visited, len(hops), limits.max_redirects)
                only_permanent = only_permanent and status in _PERMANENT
                if only_permanent:
                    permanent = url
                _drain(session, conn, resp, ticket)
                hops.append(url)
                visited.add(url)
                trail.url = url
                continue
            body: bytes | None = None
            response_headers = header_dict(resp)
            if 200 <= status < 300:
                body = _read_body(resp, response_headers.get("content-encoding", ""), limits.max_bytes, ticket)
                _done(session, conn, resp, ticket)
            else:
                _drain(session, conn, resp, ticket)
        except BaseException:
            resp.close()
            conn.close()
            raise
        break
    ok = 200 <= status < 300 or status == 304
    retry_after = parse_retry_after(response_headers.get("retry-after"), limits.clock()) if status in (429, 503) \
        else None  # fmt: skip
    return FetchResult(
        feed_id=req.feed_id, requested_url=req.url, final_url=url, status=status, body=body,
        headers=response_headers, not_modified=status == 304,
        permanent_redirect=permanent if ok and permanent != req.url else None,
        error=None if ok else f"HTTP {status}", retry_after=retry_after, gone=status == 410,
        started_at=started_at, elapsed_s=monotonic() - t0,
        body_sha256=hashlib.sha256(body).hexdigest() if body is not None else None, redirects=tuple(hops),
    )


def _follow(url: str, location: str, visited: set[str], hops: int, max_redirects: int) -> str:
    """The URL a redirect leads to; raises when it must not be followed."""
    target_url = urljoin(url, location)
    if urlsplit(target_url).scheme not in ("http", "https"):
        raise FetchProblem("redirect to a non-HTTP URL")
    if target_url in visited:
        raise FetchProblem("redirect loop")
    if hops >= max_redirects:
        raise FetchProblem(f"too many redirects (over {max_redirects})")
    return target_url


def _exchange(session: Session, target: Target, url: str, headers: dict[str, str | bytes],
              ticket: Ticket) -> tuple[PinnedConnection, http.client.HTTPResponse]:  # fmt: skip
    """Send the GET and read the response's head, on a pooled connection (retried once on a new connection
    when a reused one turns out to have been closed by the server before it answered)."""
    limits = session.limits
    sent = dict(headers)
    if target.authorization:
        sent["Authorization"] = target.authorization
    cookie_request = session.cookies.add(url, sent)
    for attempt in (1, 2):
        remaining = ticket.remaining()
        if remaining <= 0:
            raise DeadlinePassed("deadline")
        try:
            conn, reused = session.pool.acquire(target.scheme, target.host, target.port,
                                                min(limits.connect_timeout, remaining), fresh=attempt > 1)
        except ConnectTimedOut:
            if limits.connect_timeout > remaining:
                raise DeadlinePassed("deadline") from None
            raise
        if not session.watchdog.attach(ticket, conn.sock):
            conn.close()
            raise DeadlinePassed("deadline")
        try:
            conn.request("GET", target.path, headers=sent)
            resp = conn.getresponse()
        except _STALE:
            conn.close()
            if reused and attempt == 1 and not ticket.expired:
                continue
            raise
        except BaseException:
            conn.close()
            raise
        if log.isEnabledFor(logging.DEBUG):
            log.debug('HTTP Request: GET %s "HTTP/%s %d %s"', url, "1.0" if resp.version == 10 else "1.1",
                      resp.status, resp.reason)
        if cookie_request is not None or "set-cookie" in resp.msg:
            session.cookies.keep(url, cookie_request, resp)
        return conn, resp
    raise AssertionError("unreachable")  # pragma: no cover


def _read_body(resp: http.client.HTTPResponse, encoding: str, max_bytes: int, ticket: Ticket) -> bytes:
    """The decoded body, read a step at a time so that the caps and the deadline apply while it arrives."""
    decoder = BoundedDecoder(encoding, max_bytes)
    if decoder.inflater is None and resp.length is not None and resp.length > max_bytes:
        resp.close()  # the declared length alone is over the cap: not worth reading
        raise FetchProblem(f"body over {size(max_bytes)}")
    received = 0
    try:
        while chunk := resp.read(_READ_STEP):
            received += len(chunk)
            decoder.feed(chunk)
        if resp.length:  # the server closed the connection before the length it announced
            raise FetchProblem(f"RemoteProtocolError: peer closed connection without sending complete message "
                               f"body (received {received} bytes, expected {received + resp.length})")
    except http.client.IncompleteRead:  # in a chunked body
        resp.close()
        raise FetchProblem("RemoteProtocolError: peer closed connection without sending complete message body "
                           "(incomplete chunked read)") from None
    except BaseException:
        resp.close()
        raise
    if ticket.expired:
        raise DeadlinePassed("deadline")  # the end of stream was the watchdog's shut-down
    return decoder.body()


def _drain(session: Session, conn: PinnedConnection, resp: http.client.HTTPResponse, ticket: Ticket) -> None:
    """Read a small unwanted body (304, error page, redirect) so the keep-alive connection can be reused; a
    large one (declared or found so) is abandoned instead, which closes the connection."""
    try:
        seen = 0
        if resp.length is None or resp.length <= _DRAIN_LIMIT:
            while chunk := resp.read(_READ_STEP):
                seen += len(chunk)
                if seen > _DRAIN_LIMIT:
                    break
        if not resp.isclosed():
            resp.close()
            conn.close()
            session.watchdog.attach(ticket, None)
            return
    except BaseException:
        resp.close()
        conn.close()
        raise
    _done(session, conn, resp, ticket)


def _done(session: Session, conn: PinnedConnection, resp: http.client.HTTPResponse, ticket: Ticket) -> None:
    """The response was read to its end: give the connection back to the pool, unless the deadline shut it."""
    if not session.watchdog.attach(ticket, None) or not resp.isclosed() or resp.length:
        resp.close()
        conn.close()
        return
    session.pool.release(conn)
