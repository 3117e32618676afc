"""Host names to checked addresses, once per fetch pass: the half of the fetch policy that does I/O.

An :class:`AddressBook` lives as long as one pass (one connection pool). The first request for a host resolves
it (an injectable :data:`Resolver`, ``socket.getaddrinfo`` in production); every later request of the pass, and
every connection the pool makes to that host, uses the addresses recorded then. So the addresses that were
checked are the only ones ever connected to: DNS cannot swap one in later (no rebinding window).

A lookup runs in a daemon thread of its own and is waited for with a timeout, so a resolver that hangs costs
the waiting fetch its connect timeout, never the pass (and never the interpreter's exit).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from monitor.ingest import netpolicy
from monitor.ingest.fetchtypes import FetchProblem, brief

Resolver = Callable[[str], Sequence[str]]
"""Host name (ASCII, IDNA-encoded) -> its IP addresses, in connection order. Raises OSError when it has none."""


def system_resolver(host: str) -> list[str]:
    """The production :data:`Resolver`: ``socket.getaddrinfo`` (TCP), addresses in the system's order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_literal(host: str) -> bool:
    """True for an IP address written as the host (``127.0.0.1``, ``::1``): it needs no lookup."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class LookupTimeout(FetchProblem):
    """The resolver did not answer within the time the fetch allowed it."""


class AddressBook:
    """The checked addresses of every host one pass has talked to: resolved once, then fixed.

    Thread-safe: concurrent requests for one host share one lookup. A failed lookup is not remembered (the
    next request of that host asks again, as a new pass would); a slow one is shared, not repeated.
    """

    def __init__(self, resolver: Resolver, classify: netpolicy.Classifier = netpolicy.classify) -> None:
        self.resolver = resolver
        self.classify = classify
        self._lock = threading.Lock()
        self._addresses: dict[str, tuple[str, ...]] = {}
        self._lookups: dict[str, Future[tuple[str, ...]]] = {}
        self._targets: dict[str, str | None] = {}  # host -> check_target's verdict on its addresses

    def resolve(self, host: str, timeout: float) -> tuple[str, ...]:
        """The addresses of ``host`` (an IP literal is its own address, no lookup), resolved on first use.

        Raises :class:`FetchProblem` (``connection failed: ...``) when it does not resolve and
        :class:`LookupTimeout` when the lookup takes longer than ``timeout`` seconds.
        """
        found = self._addresses.get(host)
        if found is not None:
            return found
        if is_literal(host):
            with self._lock:
                return self._addresses.setdefault(host, (host,))
        with self._lock:
            found = self._addresses.get(host)
            if found is not None:
                return found
            lookup = self._lookups.get(host)
            if lookup is None:
                lookup = self._lookups[host] = Future()
                threading.Thread(target=self._look_up, args=(host, lookup), name="fetch-resolve",
                                 daemon=True).start()  # fmt: skip
        try:
            return lookup.result(timeout=max(timeout, 0.0))
        except FutureTimeout:
            raise LookupTimeout(f"lookup of {host} timed out") from None

    def _look_up(self, host: str, lookup: Future[tuple[str, ...]]) -> None:
        try:
            addresses = tuple(dict.fromkeys(str(a) for a in self.resolver(host)))
            if not addresses:
                raise FetchProblem(f"connection failed: no address for {host}")
        except OSError as exc:  # what the HTTP client used to report for a name that does not resolve
            problem = FetchProblem(f"connection failed: {brief(exc)}")
        except FetchProblem as exc:
            problem = exc
        except Exception as exc:  # a resolver's bug is this host's failure, not a lost thread
            problem = FetchProblem(f"connection failed: {type(exc).__name__}: {brief(exc)}")
        else:
            with self._lock:
                self._addresses[host] = addresses
                del self._lookups[host]
            lookup.set_result(addresses)
            return
        with self._lock:
            del self._lookups[host]
        lookup.set_exception(problem)

    def pinned(self, host: str) -> tuple[str, ...]:
        """The checked addresses of ``host``; empty when it was never resolved (then nothing may connect)."""
        return self._addresses.get(host, ())

    def check_target(self, host: str, addresses: tuple[str, ...]) -> str | None:
        """:func:`netpolicy.check_target` of a configured host, remembered for the pass (its addresses are
        fixed for the pass, so is the verdict)."""
        try:
            return self._targets[host]
        except KeyError:
            verdict = self._targets[host] = netpolicy.check_target(host, addresses, classify=self.classify)
            return verdict
