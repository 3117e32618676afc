"""The fetch policy: which network addresses a feed fetch may connect to. Pure: no I/O, no DNS, no HTTP.

Every address falls in one of three scopes (:func:`classify`):

- ``FORBIDDEN`` – never connected to, however it is reached (configured, or by redirect): link-local
  (169.254.0.0/16, fe80::/10, where the cloud metadata services live), the cloud metadata addresses themselves
  (169.254.169.254, fd00:ec2::254, 100.100.100.200, 168.63.129.16), unspecified (0.0.0.0/8, ::), multicast,
  broadcast and reserved ranges.
- ``INTERNAL`` – loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16), CGNAT shared space
  (100.64.0.0/10), benchmarking (198.18.0.0/15), unique-local (fc00::/7). Allowed when the feed is *configured*
  on such a host (self-hosted bridges, the test suite's 127.0.0.1) and for redirects between internal hosts;
  refused as the target of a redirect from a public host (a hostile feed must not reach into our network).
- ``PUBLIC`` – everything else.

IPv6 forms that embed an IPv4 address the packets really go to (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) are classified by that IPv4 address.

The checks take *all* the addresses a name resolved to and refuse when any one is bad: the fetcher then
connects only to addresses that were checked (see ``monitor.ingest.fetch``), so DNS cannot swap one in later.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Scope(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class Verdict:
    """The scope of one address and what it is, readable after "is": ``link-local (cloud metadata)``."""

    scope: Scope
    kind: str


Classifier = Callable[[str], Verdict]

_PUBLIC = Verdict(Scope.PUBLIC, "public")

# Exact addresses first: some sit inside a range with a milder scope (fd00:ec2::254 is unique-local,
# 100.100.100.200 is CGNAT), and the label names the danger.
_EXACT: dict[IPAddress, Verdict] = {
    ipaddress.ip_address("169.254.169.254"): Verdict(Scope.FORBIDDEN, "link-local (cloud metadata)"),
    ipaddress.ip_address("169.254.170.2"): Verdict(Scope.FORBIDDEN, "link-local (cloud metadata)"),
    ipaddress.ip_address("fd00:ec2::254"): Verdict(Scope.FORBIDDEN, "a cloud metadata address (AWS IPv6)"),
    ipaddress.ip_address("100.100.100.200"): Verdict(Scope.FORBIDDEN, "a cloud metadata address (Alibaba Cloud)"),
    ipaddress.ip_address("168.63.129.16"): Verdict(Scope.FORBIDDEN, "a cloud platform address (Azure WireServer)"),
    ipaddress.ip_address("255.255.255.255"): Verdict(Scope.FORBIDDEN, "broadcast"),
    ipaddress.ip_address("::"): Verdict(Scope.FORBIDDEN, "unspecified"),
    ipaddress.ip_address("::1"): Verdict(Scope.INTERNAL, "loopback"),
}

_RANGES: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Verdict]] = [
    (ipaddress.ip_network(net), Verdict(scope, kind))
    for net, scope, kind in [
        ("0.0.0.0/8", Scope.FORBIDDEN, "unspecified"),  # Linux connects 0.0.0.0 to the local host
        ("169.254.0.0/16", Scope.FORBIDDEN, "link-local"),
        ("192.0.0.0/24", Scope.FORBIDDEN, "reserved"),
        ("224.0.0.0/4", Scope.FORBIDDEN, "multicast"),
        ("240.0.0.0/4", Scope.FORBIDDEN, "reserved"),
        ("::/96", Scope.FORBIDDEN, "reserved (IPv4-compatible)"),
        ("100::/64", Scope.FORBIDDEN, "reserved (discard-only)"),
        ("64:ff9b:1::/48", Scope.FORBIDDEN, "reserved (local-use NAT64)"),
        ("fe80::/10", Scope.FORBIDDEN, "link-local"),
        ("fec0::/10", Scope.FORBIDDEN, "reserved (site-local)"),
        ("ff00::/8", Scope.FORBIDDEN, "multicast"),
        ("127.0.0.0/8", Scope.INTERNAL, "loopback"),
        ("10.0.0.0/8", Scope.INTERNAL, "private"),
        ("172.16.0.0/12", Scope.INTERNAL, "private"),
        ("192.168.0.0/16", Scope.INTERNAL, "private"),
        ("100.64.0.0/10", Scope.INTERNAL, "CGNAT"),
        ("198.18.0.0/15", Scope.INTERNAL, "benchmarking"),
        ("fc00::/7", Scope.INTERNAL, "unique-local"),
    ]
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def classify(address: str | IPAddress) -> Verdict:
    """The :class:`Verdict` for one IP address (a string such as getaddrinfo gives, zone ``%eth0`` allowed).

    Total: anything that is not an IP address is ``FORBIDDEN`` ("not an IP address"), never an exception.
    """
    if isinstance(address, str):
        try:
            ip: IPAddress = ipaddress.ip_address(address.strip())
        except ValueError:
            return Verdict(Scope.FORBIDDEN, "not an IP address")
    else:
        ip = address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(ip.packed)  # fe80::1%eth0 -> fe80::1
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(ip.packed[-4:])
        if embedded is not None:
            inner = classify(embedded)
            if inner.scope is not Scope.PUBLIC or ip.ipv4_mapped is not None:
                return inner
    if ip in _EXACT:
        return _EXACT[ip]
    for network, verdict in _RANGES:
        if ip.version == network.version and ip in network:
            return verdict
    return _PUBLIC


def _who(host: str, address: str) -> str:
    return address if _same_address(host, address) else f"{host} ({address})"


def _same_address(host: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False


def check_target(host: str, addresses: Iterable[str], *, classify: Classifier = classify) -> str | None:
    """Check the host a feed is configured on: None when every one of its resolved ``addresses`` may be
    connected to, else the refusal text (``refused: 169.254.169.254 is link-local (cloud metadata)``).

    Only ``FORBIDDEN`` addresses are refused here: a feed configured directly on a loopback or private host is
    the operator's choice. An empty ``addresses`` is refused (there is nothing checked to connect to).
    """
    addresses = list(addresses)
    if not addresses:
        return f"refused: {host} has no address"
    for address in addresses:
        verdict = classify(address)
        if verdict.scope is Scope.FORBIDDEN:
            return f"refused: {_who(host, address)} is {verdict.kind}"
    return None


def is_public(addresses: Iterable[str], *, classify: Classifier = classify) -> bool:
    """True when any of a host's addresses is public (a host with mixed answers counts as public)."""
    return any(classify(a).scope is Scope.PUBLIC for a in addresses)


def check_redirect(
    from_host: str,
    from_addresses: Iterable[str],
    to_host: str,
    to_addresses: Iterable[str],
    *,
    classify: Classifier = classify,
    from_public: bool | None = None,
) -> str | None:
    """Check one redirect hop, ``from_host`` (resolved to ``from_addresses``, already checked) answering with a
    redirect to ``to_host`` (resolved to ``to_addresses``): None when the hop may be followed, else the refusal.

    Refused: any ``FORBIDDEN`` target address (as :func:`check_target`), and any ``INTERNAL`` target address
    when the redirecting host is public (``refused: redirect from public host example.org to private address
    10.0.0.5``). A redirect from an internal host to another internal one is allowed, and so is one from an
    internal host to a public one. Applied to every hop, this means no chain can reach an internal address once
    it has passed through a public host. ``from_public`` overrides the judgement of ``from_addresses`` (a
    redirecting host that no longer resolves counts as public).
    """
    to_addresses = list(to_addresses)
    refusal = check_target(to_host, to_addresses, classify=classify)
    public = is_public(from_addresses, classify=classify) if from_public is None else from_public
    if refusal is not None or not public:
        return refusal
    for address in to_addresses:
        verdict = classify(address)
        if verdict.scope is Scope.INTERNAL:
            target = address if _same_address(to_host, address) else f"{address} ({to_host})"
            return f"refused: redirect from public host {from_host} to {verdict.kind} address {target}"
    return None
