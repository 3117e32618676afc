"""Fetching feeds over HTTP: the fetcher's entry points and the pass that runs many fetches at once.

A pass (:meth:`Fetcher.fetch_each`, :meth:`Fetcher.fetch_all`) runs ``concurrency`` worker threads, each doing
one fetch at a time on blocking sockets (``monitor.ingest.exchange``: the fetch policy, redirects, caps,
deadline, decoding), at most ``per_host`` at a time to one host, and at most ``window`` results ahead of the
caller. The workers share the pass's :class:`~monitor.ingest.exchange.Session`: the checked addresses of every
host (``monitor.ingest.addresses``), the keep-alive connections (``monitor.ingest.connections``) and the
watchdog of the overall deadline (``monitor.ingest.watchdog``). Threads on the standard library's HTTP/1.1
client do a request for a fraction of the CPU an asyncio HTTP client spends on one (tests/benchmarks/
fetch_bench.py), and the sockets wait outside the GIL, beside whatever the caller does with the results.

Network and HTTP problems never raise: they come back as a :class:`FetchResult` with a short, readable
``error``. The fetch policy (``monitor.ingest.netpolicy``) is applied to every request, configured or
redirected, before any connection; a refusal is that feed's ``error`` (``refused: ...``).
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from urllib.parse import urlsplit

from monitor.clock import Clock, system_clock
from monitor.ingest import exchange, netpolicy
from monitor.ingest.addresses import AddressBook, Resolver, system_resolver
from monitor.ingest.connections import ConnectionPool
from monitor.ingest.exchange import ACCEPT, Limits, Session
from monitor.ingest.fetchtypes import FetchRequest, FetchResult, parse_retry_after

__all__ = ["ACCEPT", "FetchRequest", "FetchResult", "Fetcher", "Resolver", "parse_retry_after", "system_resolver"]


class Fetcher:
    """Fetches feeds politely and defensively. See the module docstring (and ``monitor.ingest.exchange``'s) for
    the limits. Holds settings only: every pass makes its own session (connections, addresses, cookies)."""

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

    def session(self) -> Session:
        """A new session for one pass (close it when done). :meth:`fetch_each` and friends make their own."""
        limits = Limits(user_agent=self.user_agent, max_bytes=self.max_bytes, overall_timeout=self.overall_timeout,
                        connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                        max_redirects=self.max_redirects, clock=self.clock, classify=self.classify)  # fmt: skip
        book = AddressBook(self.resolver, self.classify)
        pool = ConnectionPool(book, read_timeout=self.read_timeout, max_idle=max(self.concurrency, 1),
                              trust_env=self.trust_env)  # fmt: skip
        return Session(limits, book, pool)

    def fetch(self, req: FetchRequest) -> FetchResult:
        """Fetch one feed, on the calling thread. Never raises for network or HTTP problems."""
        session = self.session()
        try:
            return exchange.fetch(session, req)
        finally:
            session.close()

    def fetch_all(self, reqs: Sequence[FetchRequest]) -> list[FetchResult]:
        """Fetch every request concurrently (overall and per-host limits); results in request order."""
        results: list[FetchResult | None] = [None] * len(reqs)
        with _Pass(self, reqs, window=max(len(reqs), 1)) as run:
            for index, result in run:
                results[index] = result
        return results  # type: ignore[return-value]  # every index was filled

    def fetch_each(self, reqs: Sequence[FetchRequest],
                   window: int | None = None) -> Generator[FetchResult, None, None]:
        """Fetch concurrently and yield each result as it arrives (completion order), so the caller's work on
        one result overlaps the fetching of the others.

        At most ``window`` results (default twice the concurrency) are fetched ahead of the caller: a fetch
        starts only when a slot is free, and a slot frees when the caller asks for the next result. So memory
        is bounded by the window, not by the number of feeds. Closing the iterator early (the caller raised)
        stops new fetches and waits for the ones under way (each bounded by the overall timeout).
        """
        with _Pass(self, reqs, window=window or 2 * self.concurrency) as run:
            for _, result in run:
                yield result


class _Pass:
    """One pass: the workers, the dispatch of requests to them, the results on their way to the caller.

    Iterating yields ``(index in reqs, result)`` in completion order; the caller's asking for the next one
    is what frees a window slot. Leaving the ``with`` block stops dispatching, joins the workers (they finish
    the fetch in hand) and closes the session.
    """

    def __init__(self, fetcher: Fetcher, reqs: Sequence[FetchRequest], window: int) -> None:
        self.reqs = reqs
        self.dispatch = _Dispatch([_host_key(r.url) for r in reqs], fetcher.per_host, window)
        self.results: queue.SimpleQueue[tuple[int, FetchResult] | BaseException] = queue.SimpleQueue()
        self.session = fetcher.session()
        workers = max(1, min(fetcher.concurrency, len(reqs)))
        self.workers = [threading.Thread(target=self._work, name=f"fetch-{n}", daemon=True) for n in range(workers)]
        for worker in self.workers:
            worker.start()

    def __enter__(self) -> _Pass:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispatch.stop()
        for worker in self.workers:
            worker.join()
        self.session.close()

    def __iter__(self) -> Iterator[tuple[int, FetchResult]]:
        for _ in range(len(self.reqs)):
            item = self.results.get()
            if isinstance(item, BaseException):  # a bug in a worker: hand it to the caller
                raise item
            yield item
            self.dispatch.consumed()

    def _work(self) -> None:
        try:
            while (index := self.dispatch.take()) is not None:
                try:
                    result = exchange.fetch(self.session, self.reqs[index])
                finally:
                    self.dispatch.done(index)
                self.results.put((index, result))
        except BaseException as exc:
            self.results.put(exc)


class _Dispatch:
    """Which request a free worker takes next: the earliest one whose host is under its ``per_host`` limit,
    while fewer than ``window`` results are ahead of the caller. Thread-safe.

    Each host's waiting requests are a deque in request order; a heap holds, for every host that has waiting
    requests and a free slot, the index of its first one. So a worker never waits on a busy host while another
    host's request could go, and a take costs O(log hosts).
    """

    def __init__(self, hosts: list[str], per_host: int, window: int) -> None:
        self.hosts = hosts
        self.per_host = max(per_host, 1)
        self.credit = max(window, 1)  # fetches that may start before the caller takes another result
        self.waiting: dict[str, deque[int]] = {}
        for index, host in enumerate(hosts):
            self.waiting.setdefault(host, deque()).append(index)
        self.busy = dict.fromkeys(self.waiting, 0)
        self.ready = [(line[0], host) for host, line in self.waiting.items()]
        heapq.heapify(self.ready)
        self.left = len(hosts)  # requests not yet taken
        self.stopped = False
        self.cond = threading.Condition(threading.Lock())

    def take(self) -> int | None:
        """The next request's index, waiting while none may start; None when there is nothing left to take."""
        with self.cond:
            while not self.stopped and self.left and not (self.credit > 0 and self.ready):
                self.cond.wait()
            if self.stopped or not self.left:
                return None
            _, host = heapq.heappop(self.ready)
            line = self.waiting[host]
            index = line.popleft()
            self.busy[host] += 1
            if line and self.busy[host] < self.per_host:
                heapq.heappush(self.ready, (line[0], host))
            self.credit -= 1
            self.left -= 1
            if not self.left:
                self.cond.notify_all()  # the other idle workers can leave
            return index

    def done(self, index: int) -> None:
        """The fetch of ``index`` is over: its host has a free slot again."""
        host = self.hosts[index]
        with self.cond:
            self.busy[host] -= 1
            line = self.waiting[host]
            if line and self.busy[host] == self.per_host - 1:  # it was full, so it was not in the heap
                heapq.heappush(self.ready, (line[0], host))
                self.cond.notify()

    def consumed(self) -> None:
        """The caller took a result: one more fetch may start."""
        with self.cond:
            self.credit += 1
            self.cond.notify()

    def stop(self) -> None:
        """No further fetch starts; waiting workers leave."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


def _host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}:{parts.port or ''}".lower()
    except ValueError:
        return url
