"""HTTP fetching of feeds (httpx). The only module that speaks HTTP.

Every fetch is bounded three ways: connect/read timeouts, an overall deadline (a server dripping one byte a
second defeats per-read timeouts), and a cap on *decoded* bytes (we decompress ourselves, in bounded steps,
so a gzip bomb is cut at the cap rather than inflated first). Redirects are followed by hand to count hops,
detect loops and notice permanent moves. Network and HTTP problems never raise: they come back as a
:class:`FetchResult` with a short, readable ``error``.

Every request obeys the fetch policy (``monitor.ingest.netpolicy``): before each request, configured or
redirected, the host name is resolved once per client (an injectable resolver), every resolved address is
checked, and the connection is then made to a checked address only: the client's network backend
(:class:`_PinnedBackend`) connects to the addresses recorded at the check, never resolving the name itself, so
there is no DNS-rebinding window. The URL keeps the host name, so the Host header, TLS SNI and certificate
verification use the name. A refusal is that feed's ``error`` (``refused: ...``), before any connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import queue
import socket
import threading
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from monitor.clock import Clock, monotonic, system_clock
from monitor.ingest import netpolicy

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_DRAIN_LIMIT = 64 * 1024  # unwanted body bytes worth reading to keep a connection alive
_INFLATE_STEP = 64 * 1024  # decoded bytes produced per decompress call: bounds memory per step


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch, with the validators stored from the last good fetch (for conditional GET)."""

    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    # The configured URL when ``url`` is where a permanent redirect moved the feed: the move is judged as the
    # redirect it was (a public host's move to a private address stays refused on every later poll).
    configured_url: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one fetch. ``body`` is the decoded body on a 2xx, else None.

    ``permanent_redirect`` is the new URL when the chain began with 301/308 hops and ended OK (200/304);
    ``retry_after`` is absolute UTC (from Retry-After on 429/503); ``error`` is short and readable.
    """

    feed_id: str
    requested_url: str
    final_url: str
    status: int | None
    body: bytes | None
    headers: Mapping[str, str]
    not_modified: bool
    permanent_redirect: str | None
    error: str | None
    retry_after: datetime | None
    gone: bool
    started_at: datetime
    elapsed_s: float
    body_sha256: str | None
    redirects: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True for a usable answer: a body (2xx) or 304 Not Modified."""
        return self.error is None


class _Problem(Exception):
    """A fetch failure with its readable text; caught inside ``fetch``, never escapes."""


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as an absolute UTC time: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 366 * 86400))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # HTTP-dates are GMT by definition
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _seconds(value: float) -> str:
    return f"{value:g} s"


class _Decoder:
    """Content-Encoding decoding with a hard cap on the decoded size."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self.inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj()
        else:
            raise _Problem(f"unsupported content-encoding {encoding[:40]!r}")

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise _Problem(f"body over {_size(self.max_bytes)}")
        self.parts.append(data)

    def feed(self, raw: bytes) -> None:
        if self.inflater is None:
            self._keep(raw)
            return
        try:
            data = self.inflater.decompress(raw, _INFLATE_STEP)
            self._keep(data)
            while self.inflater.unconsumed_tail:
                self._keep(self.inflater.decompress(self.inflater.unconsumed_tail, _INFLATE_STEP))
        except zlib.error as exc:
            raise _Problem(f"corrupt compressed body ({exc})")

    def body(self) -> bytes:
        if self.inflater is not None:
            try:
                self._keep(self.inflater.flush())
            except zlib.error as exc:
                raise _Problem(f"corrupt compressed body ({exc})")
        return b"".join(self.parts)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n} bytes"


Resolver = Callable[[str], Sequence[str]]
"""Host name (ASCII, IDNA-encoded) -> its IP addresses, in connection order. Raises OSError when it has none."""


def system_resolver(host: str) -> list[str]:
    """The production :data:`Resolver`: ``socket.getaddrinfo`` (TCP), addresses in the system's order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _AddressBook:
    """The checked addresses of every host one client has talked to: resolved once, then fixed.

    The fetcher resolves and checks a host here before each request; :class:`_PinnedBackend` connects only to
    the addresses recorded here. It lives exactly as long as its client, so a pooled keep-alive connection to a
    host always goes to one of the addresses the current request checked.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._addresses: dict[str, tuple[str, ...]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def resolve(self, host: str) -> tuple[str, ...]:
        """The addresses of ``host`` (an IP literal is its own address, no lookup); resolved on first use."""
        if host in self._addresses:
            return self._addresses[host]
        if _is_literal(host):
            self._addresses[host] = (host,)
            return self._addresses[host]
        async with self._locks.setdefault(host, asyncio.Lock()):
            if host not in self._addresses:
                try:
                    found = await asyncio.to_thread(self.resolver, host)
                except OSError as exc:  # what httpx reported for a name that does not resolve
                    raise _Problem(f"connection failed: {_brief(exc)}")
                addresses = tuple(dict.fromkeys(str(a) for a in found))
                if not addresses:
                    raise _Problem(f"connection failed: no address for {host}")
                self._addresses[host] = addresses
        return self._addresses[host]

    def pinned(self, host: str) -> tuple[str, ...]:
        """The checked addresses of ``host``; empty when it was never resolved (then nothing may connect)."""
        return self._addresses.get(host, ())


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects to a host's checked addresses instead of resolving its name.

    httpcore still believes it connects to the name, so TLS gets the name as SNI and verifies the certificate
    against it. Addresses are tried in order within one connect timeout; a host that was never checked is a
    connect error (fail closed).
    """

    def __init__(self, book: _AddressBook, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.book = book
        self.inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self.book.pinned(host)
        if not addresses:
            raise httpcore.ConnectError(f"{host} was not checked by the fetch policy")
        deadline = None if timeout is None else monotonic() + timeout
        failure: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"connect to {host} timed out")
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the feed fetcher")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (exception mapping, streaming) over a connection pool using :class:`_PinnedBackend`.

    httpx 0.28 has no parameter for the network backend, so the pool it builds is replaced by an identical one
    with ours (``_pool`` is the attribute every method of the transport uses; httpx is pinned below 0.29).
    Environment proxies are never used: a proxy would resolve the names itself.
    """

    def __init__(self, backend: _PinnedBackend, *, limits: httpx.Limits, trust_env: bool) -> None:
        super().__init__(limits=limits, trust_env=trust_env, http1=True, http2=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx.AsyncHTTPTransport changed: cannot pin connections to checked addresses")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True, trust_env=trust_env),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )


class FetchClient(httpx.AsyncClient):
    """The AsyncClient a :class:`Fetcher` makes (``Fetcher.client()``): its connections go only to the
    addresses in its ``book``, which the fetcher checked."""

    def __init__(self, book: _AddressBook, **kwargs: typing.Any) -> None:
        super().__init__(**kwargs)
        self.book = book


def _host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}:{parts.port or ''}".lower()
    except ValueError:
        return url


class Fetcher:
    """Fetches feeds politely and defensively. See the module docstring for the limits.

    ``fetch_all`` is the synchronous entry point (one AsyncClient and one event loop per call);
    ``fetch_many``/``fetch`` are the async ones for callers that already run a loop.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        max_bytes: int = 10 * 2**20,
        overall_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 15.0,
        max_redirects: int = 5,
        concurrency: int = 8,
        per_host: int = 2,
        clock: Clock = system_clock,
        trust_env: bool = False,
        resolver: Resolver = system_resolver,
        classify: netpolicy.Classifier = netpolicy.classify,
    ) -> None:
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.overall_timeout = overall_timeout
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_redirects = max_redirects
        self.concurrency = concurrency
        self.per_host = per_host
        self.clock = clock
        # trust_env: SSL_CERT_FILE/SSL_CERT_DIR; proxy variables are never used (connections are pinned)
        self.trust_env = trust_env
        self.resolver = resolver  # injectable so tests need no DNS
        self.classify = classify  # the address policy; tests may override it, production never does

    def client(self) -> FetchClient:
        """A new client for :meth:`fetch` (use it as an async context manager)."""
        timeout = httpx.Timeout(
            connect=self.connect_timeout, read=self.read_timeout, write=self.read_timeout, pool=None
        )
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        book = _AddressBook(self.resolver)
        transport = _PinnedTransport(_PinnedBackend(book), limits=limits, trust_env=self.trust_env)
        return FetchClient(book, timeout=timeout, transport=transport, follow_redirects=False, trust_env=self.trust_env)

    def fetch_all(self, reqs: Sequence[FetchRequest]) -> list[FetchResult]:
        """Fetch every request concurrently (overall and per-host limits); results in request order."""
        return asyncio.run(self.fetch_many(reqs))

    def fetch_each(self, reqs: Sequence[FetchRequest], window: int | None = None) -> Iterator[FetchResult]:
        """Fetch concurrently and yield each result as it arrives (completion order), so the caller's work on
        one result overlaps the fetching of the others.

        At most ``window`` results (default twice the concurrency) are fetched ahead of the caller: a fetch
        starts only when a slot is free, and a slot frees when the caller asks for the next result. So memory
        is bounded by the window, not by the number of feeds. The fetching runs on an event loop in a thread of
        its own; closing the iterator early (the caller raised) stops new fetches and waits for that thread.
        """
        slots = threading.Semaphore(window or 2 * self.concurrency)
        results: queue.SimpleQueue[FetchResult | BaseException | None] = queue.SimpleQueue()
        stop = threading.Event()

        def produce() -> None:
            try:
                asyncio.run(self._produce(reqs, results.put, slots, stop))
            except BaseException as exc:  # a bug in the loop itself: hand it to the caller
                results.put(exc)
            finally:
                results.put(None)

        thread = threading.Thread(target=produce, name="fetch-each", daemon=True)
        thread.start()
        try:
            while (item := results.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
                slots.release()
        finally:
            stop.set()
            for _ in range(len(reqs) + 1):  # unblock a producer waiting for a slot
                slots.release()
            thread.join()

    async def _produce(self, reqs: Sequence[FetchRequest], put: Callable[[FetchResult], None],
                       slots: threading.Semaphore, stop: threading.Event) -> None:
        overall = asyncio.Semaphore(self.concurrency)
        hosts: dict[str, asyncio.Semaphore] = {}

        async def one(req: FetchRequest, client: FetchClient) -> None:
            host = hosts.setdefault(_host_key(req.url), asyncio.Semaphore(self.per_host))
            async with host, overall:
                if not stop.is_set():
                    put(await self.fetch(req, client=client))

        async with self.client() as client:
            tasks = []
            for req in reqs:
                await asyncio.to_thread(slots.acquire)
                if stop.is_set():
                    break
                tasks.append(asyncio.create_task(one(req, client)))
            await asyncio.gather(*tasks)

    async def fetch_many(self, reqs: Sequence[FetchRequest]) -> list[FetchResult]:
        """Async form of :meth:`fetch_all`."""
        overall = asyncio.Semaphore(self.concurrency)
        hosts: dict[str, asyncio.Semaphore] = {}

        async def one(req: FetchRequest, client: FetchClient) -> FetchResult:
            host = hosts.setdefault(_host_key(req.url), asyncio.Semaphore(self.per_host))
            async with host, overall:
                return await self.fetch(req, client=client)

        async with self.client() as client:
            return list(await asyncio.gather(*(one(r, client) for r in reqs)))

    async def fetch(self, req: FetchRequest, *, client: FetchClient | None = None) -> FetchResult:
        """Fetch one feed. Never raises for network or HTTP problems (see :class:`FetchResult`)."""
        if client is None:
            async with self.client() as own:
                return await self.fetch(req, client=own)
        started_at = self.clock()
        t0 = monotonic()
        state: dict[str, object] = {"url": req.url, "hops": []}
        try:
            async with asyncio.timeout(self.overall_timeout):
                return await self._fetch(req, client, started_at, t0, state)
        except TimeoutError:
            error = f"timeout after {_seconds(self.overall_timeout)}"
        except _Problem as exc:
            error = str(exc)
        except httpx.ConnectTimeout:
            error = f"connect timeout after {_seconds(self.connect_timeout)}"
        except httpx.ReadTimeout:
            error = f"read timeout after {_seconds(self.read_timeout)}"
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.ConnectError as exc:
            error = f"connection failed: {_brief(exc)}"
        except httpx.HTTPError as exc:  # protocol errors, bad URLs, closed connections
            error = f"{type(exc).__name__}: {_brief(exc)}"
        except OSError as exc:
            error = f"network error: {_brief(exc)}"
        except (ValueError, OverflowError, httpx.InvalidURL) as exc:  # "http://[zz/x", port 99999 in a redirect
            error = f"bad URL: {_brief(exc)}"
        except Exception as exc:  # anything else a hostile server can provoke stays this feed's failure
            while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # the transport's task group wraps the real error
            bad_url = isinstance(exc, (ValueError, OverflowError))
            error = f"bad URL: {_brief(exc)}" if bad_url else f"fetch failed: {type(exc).__name__}: {_brief(exc)}"
        hops = state["hops"]
        return FetchResult(
            feed_id=req.feed_id,
            requested_url=req.url,
            final_url=str(state["url"]),
            status=None,
            body=None,
            headers={},
            not_modified=False,
            permanent_redirect=None,
            error=error,
            retry_after=None,
            gone=False,
            started_at=started_at,
            elapsed_s=monotonic() - t0,
            body_sha256=None,
            redirects=tuple(hops) if isinstance(hops, list) else (),
        )

    def _headers(self, req: FetchRequest) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
        if req.etag:
            headers["If-None-Match"] = req.etag
        if req.last_modified:
            headers["If-Modified-Since"] = req.last_modified
        return headers

    async def _origin(self, book: _AddressBook, configured_url: str) -> tuple[tuple[str, tuple[str, ...]], bool]:
        """The configured host of a moved feed and whether it counts as public (it does when it no longer
        resolves: the safe side)."""
        host = httpx.URL(configured_url).raw_host.decode("ascii")
        try:
            async with asyncio.timeout(self.connect_timeout):
                addresses = await book.resolve(host)
        except (_Problem, TimeoutError):
            return (host, ()), True
        return (host, addresses), netpolicy.is_public(addresses, classify=self.classify)

    async def _check(
        self, book: _AddressBook, url: str, previous: tuple[str, tuple[str, ...]] | None,
        from_public: bool | None = None,
    ) -> tuple[str, tuple[str, ...]] | None:
        """Resolve and check the host of ``url`` before a request. ``previous`` is the redirecting host and its
        addresses, None for the first request (the configured URL; redirect targets are always HTTP(S), so a
        hop always has a previous host). Returns the host and its checked addresses; raises the refusal. A
        non-HTTP URL is left to httpx, which refuses it without connecting."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https"):
            return None
        host = parsed.raw_host.decode("ascii")
        if not host:
            raise _Problem("bad URL: no host")
        try:
            async with asyncio.timeout(self.connect_timeout):  # as when httpx resolved inside its connect timeout
                addresses = await book.resolve(host)
        except TimeoutError:
            raise _Problem(f"connect timeout after {_seconds(self.connect_timeout)}")
        if previous is None:
            refusal = netpolicy.check_target(host, addresses, classify=self.classify)
        else:
            refusal = netpolicy.check_redirect(*previous, host, addresses, classify=self.classify,
                                               from_public=from_public)
        if refusal is not None:
            raise _Problem(refusal)
        return host, addresses

    async def _fetch(
        self,
        req: FetchRequest,
        client: FetchClient,
        started_at: datetime,
        t0: float,
        state: dict[str, object],
    ) -> FetchResult:
        url = req.url
        visited = {url}
        hops: list[str] = []
        state["hops"] = hops
        permanent: str | None = None
        only_permanent = True  # a 301 after a temporary hop does not move the feed's own URL
        headers = self._headers(req)
        checked: tuple[str, tuple[str, ...]] | None = None
        origin_public: bool | None = None
        if req.configured_url and req.configured_url != url:
            checked, origin_public = await self._origin(client.book, req.configured_url)
        while True:
            checked = await self._check(client.book, url, checked, origin_public)
            origin_public = None
            async with client.stream("GET", url, headers=headers) as resp:
                status = resp.status_code
                if status in _REDIRECTS and "location" in resp.headers:
                    target = urljoin(url, resp.headers["location"].strip())
                    if urlsplit(target).scheme not in ("http", "https"):
                        raise _Problem("redirect to a non-HTTP URL")
                    if target in visited:
                        raise _Problem("redirect loop")
                    if len(hops) >= self.max_redirects:
                        raise _Problem(f"too many redirects (over {self.max_redirects})")
                    only_permanent = only_permanent and status in _PERMANENT
                    if only_permanent:
                        permanent = target
                    await _drain(resp)
                    hops.append(target)
                    visited.add(target)
                    url = target
                    state["url"] = url
                    continue
                body: bytes | None = None
                if 200 <= status < 300:
                    decoder = _Decoder(resp.headers.get("content-encoding", ""), self.max_bytes)
                    async for chunk in resp.aiter_raw():
                        decoder.feed(chunk)
                    body = decoder.body()
                else:
                    await _drain(resp)
                response_headers = {k.lower(): v for k, v in resp.headers.items()}
                break
        ok = 200 <= status < 300 or status == 304
        retry_after = (
            parse_retry_after(response_headers.get("retry-after"), self.clock()) if status in (429, 503) else None
        )
        return FetchResult(
            feed_id=req.feed_id,
            requested_url=req.url,
            final_url=url,
            status=status,
            body=body,
            headers=response_headers,
            not_modified=status == 304,
            permanent_redirect=permanent if ok and permanent != req.url else None,
            error=None if ok else f"HTTP {status}",
            retry_after=retry_after,
            gone=status == 410,
            started_at=started_at,
            elapsed_s=monotonic() - t0,
            body_sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
            redirects=tuple(hops),
        )


async def _drain(resp: httpx.Response) -> None:
    """Read a small unwanted body (304, error page, redirect) so the keep-alive connection can be reused;
    a large one is abandoned instead, which closes the connection."""
    seen = 0
    async for chunk in resp.aiter_raw():
        seen += len(chunk)
        if seen > _DRAIN_LIMIT:
            return


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
