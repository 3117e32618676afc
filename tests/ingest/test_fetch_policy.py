"""The fetch policy (monitor/ingest/netpolicy.py) and its enforcement in the fetcher.

Not one packet leaves 127.0.0.0/8: names are resolved by an injected resolver (no DNS), and an autouse guard
wraps ``socket.getaddrinfo`` and ``socket.socket.connect`` for the whole process: a name lookup or a connect to
anything outside 127.0.0.0/8 is refused and fails the test. The guard also records every connect, which is how
the tests show that a refusal happens at the check, before any connection, and that connections go to the
checked address. "Public" hosts are modelled by a classifier override on 127.0.0.1 (production always uses
``netpolicy.classify``); the redirect rule itself is unit-tested on plain addresses.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ingest import netpolicy
from monitor.ingest.addresses import AddressBook
from monitor.ingest.connections import ConnectFailed, PinnedConnection
from monitor.ingest.fetch import Fetcher, FetchRequest, FetchResult, system_resolver
from monitor.ingest.netpolicy import Scope, Verdict, check_redirect, check_target, classify
from tests.feedserver import FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


# ------------------------------------------------------------------------------------------ the guard
class NetGuard:
    """Every TCP connect made while a test runs, and every attempt to leave 127.0.0.0/8 (lookups included)."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self.violations: list[str] = []


def _numeric(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetGuard]:
    net = NetGuard()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not _numeric(host):
            net.violations.append(f"name lookup {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "test guard: no DNS in these tests")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    def connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host, port = str(address[0]), int(address[1])
            net.connects.append((host, port))
            if ipaddress.ip_address(host.split("%")[0]) not in LOOPBACK:
                net.violations.append(f"connect to {host} port {port}")
                raise OSError(f"test guard: connect to {host} refused")
        real_connect(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield net
    assert net.violations == [], "a test tried to leave 127.0.0.0/8"


class FakeDNS:
    """An injected resolver: a fixed table (a list of answers is served one per lookup, the last repeating)."""

    def __init__(self, table: dict[str, Sequence[str] | list[Sequence[str]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str) -> Sequence[str]:
        self.lookups.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and not isinstance(answer[0], str):  # successive answers (DNS rebinding)
            answers = list(answer)
            served = sum(1 for h in self.lookups if h == host)
            return answers[min(served, len(answers)) - 1]  # type: ignore[return-value]
        return answer  # type: ignore[return-value]


def pretend_public(*addresses: str) -> netpolicy.Classifier:
    """The real classifier, except that the given (loopback) addresses count as public."""

    def override(address: str) -> Verdict:
        return Verdict(Scope.PUBLIC, "public") if address in addresses else classify(address)

    return override


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def fetcher(dns: FakeDNS | None = None, **kwargs: object) -> Fetcher:
    options: dict[str, object] = {"user_agent": "policy-tests/1", "clock": lambda: NOW}
    options["resolver"] = dns if dns is not None else FakeDNS({})
    options.update(kwargs)
    return Fetcher(**options)  # type: ignore[arg-type]


def fetch(url: str, dns: FakeDNS | None = None, **kwargs: object) -> FetchResult:
    return fetcher(dns, **kwargs).fetch_all([FetchRequest("feed", url)])[0]


def port_of(server: FeedServer) -> int:
    return int(server.url("/").rsplit(":", 1)[1].split("/")[0])


# ------------------------------------------------------------------------------ pure classification
@pytest.mark.parametrize(
    ("address", "scope", "kind"),
    [
        ("169.254.169.254", Scope.FORBIDDEN, "link-local (cloud metadata)"),
        ("169.254.1.1", Scope.FORBIDDEN, "link-local"),
        ("fe80::1", Scope.FORBIDDEN, "link-local"),
        ("fe80::1%eth0", Scope.FORBIDDEN, "link-local"),
        ("fd00:ec2::254", Scope.FORBIDDEN, "a cloud metadata address (AWS IPv6)"),
        ("100.100.100.200", Scope.FORBIDDEN, "a cloud metadata address (Alibaba Cloud)"),
        ("0.0.0.0", Scope.FORBIDDEN, "unspecified"),
        ("::", Scope.FORBIDDEN, "unspecified"),
        ("224.0.0.1", Scope.FORBIDDEN, "multicast"),
        ("ff02::1", Scope.FORBIDDEN, "multicast"),
        ("240.0.0.1", Scope.FORBIDDEN, "reserved"),
        ("255.255.255.255", Scope.FORBIDDEN, "broadcast"),
        ("::ffff:169.254.169.254", Scope.FORBIDDEN, "link-local (cloud metadata)"),
        ("64:ff9b::a9fe:a9fe", Scope.FORBIDDEN, "link-local (cloud metadata)"),
        ("2002:a9fe:a9fe::1", Scope.FORBIDDEN, "link-local (cloud metadata)"),
        ("not-an-address", Scope.FORBIDDEN, "not an IP address"),
        ("127.0.0.1", Scope.INTERNAL, "loopback"),
        ("127.8.9.10", Scope.INTERNAL, "loopback"),
        ("::1", Scope.INTERNAL, "loopback"),
        ("::ffff:127.0.0.1", Scope.INTERNAL, "loopback"),
        ("10.0.0.5", Scope.INTERNAL, "private"),
        ("172.16.0.1", Scope.INTERNAL, "private"),
        ("172.31.255.255", Scope.INTERNAL, "private"),
        ("192.168.1.1", Scope.INTERNAL, "private"),
        ("100.64.0.1", Scope.INTERNAL, "CGNAT"),
        ("fc00::1", Scope.INTERNAL, "unique-local"),
        ("fd12:3456::1", Scope.INTERNAL, "unique-local"),
        ("203.0.113.5", Scope.PUBLIC, "public"),
        ("172.32.0.1", Scope.PUBLIC, "public"),
        ("2606:4700::1111", Scope.PUBLIC, "public"),
        ("::ffff:93.184.216.34", Scope.PUBLIC, "public"),
    ],
)
def test_classify_puts_every_address_in_one_scope(address: str, scope: Scope, kind: str) -> None:
    assert classify(address) == Verdict(scope, kind)


def test_check_target_refuses_only_forbidden_addresses_and_any_one_is_enough() -> None:
    assert check_target("127.0.0.1", ["127.0.0.1"]) is None
    assert check_target("bridge.lan", ["10.0.0.5", "fd00::5"]) is None  # configured on a private host: allowed
    assert check_target("169.254.169.254", ["169.254.169.254"]) == (
        "refused: 169.254.169.254 is link-local (cloud metadata)"
    )
    assert check_target("multi.test", ["203.0.113.5", "169.254.169.254"]) == (
        "refused: multi.test (169.254.169.254) is link-local (cloud metadata)"
    )
    assert check_target("empty.test", []) == "refused: empty.test has no address"


def test_check_redirect_refuses_public_to_internal_and_anything_to_forbidden() -> None:
    public, private = ["203.0.113.5"], ["10.0.0.5"]
    assert check_redirect("example.org", public, "10.0.0.5", private) == (
        "refused: redirect from public host example.org to private address 10.0.0.5"
    )
    assert check_redirect("example.org", public, "intranet.test", ["203.0.113.9", "127.0.0.1"]) == (
        "refused: redirect from public host example.org to loopback address 127.0.0.1 (intranet.test)"
    )
    assert check_redirect("example.org", public, "100.64.0.1", ["100.64.0.1"]) == (
        "refused: redirect from public host example.org to CGNAT address 100.64.0.1"
    )
    assert check_redirect("example.org", public, "fc00::5", ["fc00::5"]) == (
        "refused: redirect from public host example.org to unique-local address fc00::5"
    )
    assert check_redirect("127.0.0.1", ["127.0.0.1"], "169.254.169.254", ["169.254.169.254"]) == (
        "refused: 169.254.169.254 is link-local (cloud metadata)"
    )
    assert check_redirect("mixed.test", ["10.0.0.1", "203.0.113.5"], "10.0.0.5", private) is not None
    assert check_redirect("127.0.0.1", ["127.0.0.1"], "bridge.lan", ["10.0.0.5"]) is None  # internal -> internal
    assert check_redirect("bridge.lan", private, "example.org", public) is None  # internal -> public
    assert check_redirect("example.org", public, "cdn.example.net", ["198.51.100.7"]) is None  # public -> public


# ------------------------------------------------------------------------ refusals before connecting
@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is link-local (cloud metadata)"),
        ("http://169.254.10.1:8080/", "refused: 169.254.10.1 is link-local"),
        ("http://100.100.100.200/", "refused: 100.100.100.200 is a cloud metadata address (Alibaba Cloud)"),
        ("http://0.0.0.0:8080/feed", "refused: 0.0.0.0 is unspecified"),
        ("http://224.0.0.251/", "refused: 224.0.0.251 is multicast"),
        ("http://[fe80::1]/feed", "refused: fe80::1 is link-local"),
        ("http://[fd00:ec2::254]/latest/", "refused: fd00:ec2::254 is a cloud metadata address (AWS IPv6)"),
        ("http://[::]:8080/", "refused: :: is unspecified"),
        ("http://[::ffff:169.254.169.254]/", "refused: ::ffff:169.254.169.254 is link-local (cloud metadata)"),
        ("https://[ff02::1]/", "refused: ff02::1 is multicast"),
    ],
)
def test_a_feed_configured_on_a_forbidden_address_is_refused_without_connecting(
    guard: NetGuard, url: str, error: str
) -> None:
    dns = FakeDNS({})
    result = fetch(url, dns)
    assert (result.error, result.status, result.body) == (error, None, None)
    assert guard.connects == [] and dns.lookups == []  # a literal needs no lookup


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (["169.254.169.254"], "refused: metadata.google.internal (169.254.169.254) is link-local (cloud metadata)"),
        (["127.0.0.1", "169.254.169.254"], "refused: metadata.google.internal (169.254.169.254) is link-local"),
        (["203.0.113.5", "fe80::1"], "refused: metadata.google.internal (fe80::1) is link-local"),
        (["::ffff:169.254.169.254", "203.0.113.5"], "refused: metadata.google.internal (::ffff:169.254.169.254)"),
    ],
    ids=["link-local", "loopback and link-local", "public and link-local v6", "mapped v6 and public"],
)
def test_a_name_with_any_forbidden_address_is_refused_without_connecting(
    guard: NetGuard, answer: list[str], error: str
) -> None:
    dns = FakeDNS({"metadata.google.internal": answer})
    result = fetch("http://metadata.google.internal/computeMetadata/v1/", dns)
    assert result.error is not None and result.error.startswith(error)
    assert guard.connects == [] and dns.lookups == ["metadata.google.internal"]


def test_a_name_that_does_not_resolve_is_a_connection_failure_as_before(guard: NetGuard) -> None:
    result = fetch("http://nowhere.test/feed")
    assert result.error == "connection failed: [Errno -2] Name or service not known"
    assert guard.connects == []


def test_a_slow_lookup_is_bounded_by_the_connect_timeout(guard: NetGuard) -> None:
    def slow(host: str) -> list[str]:
        time.sleep(0.5)
        return ["127.0.0.1"]

    result = fetch("http://slow.test/feed", resolver=slow, connect_timeout=0.1)
    assert result.error == "connect timeout after 0.1 s" and result.elapsed_s < 0.5
    assert guard.connects == []


# ----------------------------------------------------------------------------------- what is allowed
def test_a_feed_configured_on_loopback_is_fetched(server: FeedServer, guard: NetGuard) -> None:
    server.route("/feed", body=RSS)
    result = fetch(server.url("/feed"))
    assert (result.status, result.body, result.error) == (200, RSS, None)
    assert {host for host, _ in guard.connects} == {"127.0.0.1"}


def test_a_name_is_resolved_once_and_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    server: FeedServer, guard: NetGuard
) -> None:
    """DNS rebinding: the name answers 127.0.0.1 at the check and a metadata address afterwards; the
    fetcher never asks again (one client, three requests, one lookup) and connects to what it checked."""
    port = port_of(server)
    server.route("/a", body=RSS)
    server.route("/old", status=302, location=f"http://feeds.test:{port}/a")
    dns = FakeDNS({"feeds.test": [["127.0.0.1"], ["169.254.169.254"]]})
    reqs = [FetchRequest("a", f"http://feeds.test:{port}/a"), FetchRequest("b", f"http://feeds.test:{port}/old")]
    results = fetcher(dns).fetch_all(reqs)
    assert [(r.status, r.body, r.error) for r in results] == [(200, RSS, None)] * 2
    assert dns.lookups == ["feeds.test"]
    assert guard.connects and all(c == ("127.0.0.1", port) for c in guard.connects)
    assert {hit.headers["host"] for hit in server.requests} == {f"feeds.test:{port}"}


def test_the_checked_addresses_are_tried_in_order(server: FeedServer, guard: NetGuard) -> None:
    port = port_of(server)
    server.route("/feed", body=RSS)
    dns = FakeDNS({"two.test": ["127.0.0.2", "127.0.0.1"]})  # nothing listens on 127.0.0.2
    result = fetch(f"http://two.test:{port}/feed", dns)
    assert (result.body, result.error) == (RSS, None)
    assert guard.connects == [("127.0.0.2", port), ("127.0.0.1", port)]


def test_redirects_between_internal_hosts_are_followed(server: FeedServer, guard: NetGuard) -> None:
    port = port_of(server)
    server.route("/start", status=302, location=f"http://bridge.lan:{port}/hop")
    server.route("/hop", status=301, location=f"http://127.0.0.1:{port}/feed")
    server.route("/feed", body=RSS)
    result = fetch(server.url("/start"), FakeDNS({"bridge.lan": ["127.0.0.1"]}))
    assert (result.body, result.error, len(result.redirects)) == (RSS, None, 2)


def test_tls_gets_the_host_name_for_sni_and_verification_while_connecting_to_the_checked_address(
    guard: NetGuard,
) -> None:
    """A bare TLS listener on 127.0.0.1 records the SNI of the ClientHello (it has no certificate, so the
    handshake then fails: the fetch is an error, as a certificate mismatch would be)."""
    seen: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(ssl.SSLError, OSError):
            context.wrap_socket(conn, server_side=True)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = fetch(f"https://secure.test:{port}/feed", FakeDNS({"secure.test": ["127.0.0.1"]}))
    finally:
        thread.join(timeout=5)
        listener.close()
    assert seen == ["secure.test"]
    assert guard.connects == [("127.0.0.1", port)]
    assert result.status is None and result.error is not None


# --------------------------------------------------------------------------------- redirect refusals
@pytest.mark.parametrize(
    ("location", "dns", "error"),
    [
        ("http://169.254.169.254/latest/meta-data/", {}, "refused: 169.254.169.254 is link-local (cloud metadata)"),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            {"metadata.google.internal": ["169.254.169.254"]},
            "refused: metadata.google.internal (169.254.169.254) is link-local (cloud metadata)",
        ),
        ("http://[fd00:ec2::254]/latest/", {}, "refused: fd00:ec2::254 is a cloud metadata address (AWS IPv6)"),
        ("http://[fe80::a9fe:a9fe]/", {}, "refused: fe80::a9fe:a9fe is link-local"),
        ("http://0.0.0.0/", {}, "refused: 0.0.0.0 is unspecified"),
    ],
    ids=["metadata v4", "metadata by name", "metadata v6", "link-local v6", "unspecified"],
)
def test_a_redirect_from_loopback_to_a_forbidden_address_is_refused_without_connecting_to_it(
    server: FeedServer, guard: NetGuard, location: str, dns: dict[str, list[str]], error: str
) -> None:
    port = port_of(server)
    server.route("/feed", status=302, location=location)
    server.route("/good", body=RSS)
    reqs = [FetchRequest("bad", server.url("/feed")), FetchRequest("good", server.url("/good"))]
    bad, good = fetcher(FakeDNS(dns)).fetch_all(reqs)
    assert (bad.error, bad.status, bad.body) == (error, None, None)
    assert bad.final_url == location and bad.redirects == (location,)
    assert (good.body, good.error) == (RSS, None)  # the refusal is that feed's failure only
    assert guard.connects and all(c == ("127.0.0.1", port) for c in guard.connects)


@pytest.mark.parametrize(
    ("location", "error"),
    [
        ("http://intranet.test/admin", "to private address 10.0.0.5 (intranet.test)"),
        ("http://127.0.0.2:{port}/feed", "to loopback address 127.0.0.2"),
        ("http://100.64.0.1/", "to CGNAT address 100.64.0.1"),
        ("http://[fc00::5]/", "to unique-local address fc00::5"),
        ("http://[::1]:{port}/feed", "to loopback address ::1"),
    ],
)
def test_a_redirect_from_a_public_host_to_an_internal_address_is_refused_without_connecting_to_it(
    server: FeedServer, guard: NetGuard, location: str, error: str
) -> None:
    """public.test is served from 127.0.0.1, which only this test's classifier calls public."""
    port = port_of(server)
    location = location.format(port=port)
    server.route("/feed", status=302, location=location)
    dns = FakeDNS({"public.test": ["127.0.0.1"], "intranet.test": ["10.0.0.5"]})
    result = fetch(f"http://public.test:{port}/feed", dns, classify=pretend_public("127.0.0.1"))
    assert result.error == f"refused: redirect from public host public.test {error}"
    assert guard.connects == [("127.0.0.1", port)]  # the public host only
    assert [hit.path for hit in server.requests] == ["/feed"]


def test_a_feed_moved_by_a_public_host_to_an_internal_address_stays_refused_on_later_polls(
    server: FeedServer, guard: NetGuard
) -> None:
    """The stored URL of a permanent move is judged as the redirect it was, from the configured host."""
    port = port_of(server)
    server.route("/feed", body=b"<rss/>")
    dns = FakeDNS({"public.test": ["127.0.0.2"], "moved.test": ["127.0.0.1"]})
    request = FetchRequest("feed", f"http://moved.test:{port}/feed", configured_url="http://public.test/feed")
    result = fetcher(dns, classify=pretend_public("127.0.0.2")).fetch_all([request])[0]
    assert result.error == "refused: redirect from public host public.test to loopback address 127.0.0.1 (moved.test)"
    assert guard.connects == [] and server.requests == []
    direct = FetchRequest("feed", f"http://moved.test:{port}/feed", configured_url="http://other.test/feed")
    gone = fetcher(FakeDNS({"moved.test": ["127.0.0.1"]})).fetch_all([direct])[0]  # origin no longer resolves
    assert gone.error is not None and gone.error.startswith("refused: redirect from public host other.test")


# ------------------------------------------------------------------------------------------- parts
def test_a_pinned_connection_refuses_a_host_that_was_never_checked(guard: NetGuard) -> None:
    book = AddressBook(FakeDNS({"x.test": ["127.0.0.1"]}))
    connection = PinnedConnection("http", "x.test", 80, read_timeout=1.0, ssl_context=None)
    with pytest.raises(ConnectFailed, match="not checked"):
        connection.open(book.pinned("x.test"), timeout=1.0)
    with pytest.raises(http.client.NotConnected):  # nor does it ever connect on its own (by resolving the name)
        connection.request("GET", "/")
    assert guard.connects == [] and book.pinned("x.test") == ()


def test_the_system_resolver_returns_the_addresses_of_a_literal_without_a_lookup() -> None:
    assert system_resolver("127.0.0.1") == ["127.0.0.1"]


def test_one_pass_reuses_its_connection_to_a_host(server: FeedServer, guard: NetGuard) -> None:
    """Keep-alive: a 200, a 304, a redirect and a 404 from one host, one at a time, go over one connection."""
    port = port_of(server)
    server.route("/a", body=RSS)
    server.route("/b", body=RSS, etag='"b"')
    server.route("/c", status=301, location="/a")
    server.route("/d", status=404, body=b"no")
    reqs = [FetchRequest("a", server.url("/a")), FetchRequest("b", server.url("/b"), etag='"b"'),
            FetchRequest("c", server.url("/c")), FetchRequest("d", server.url("/d"))]
    results = fetcher(concurrency=1, per_host=1).fetch_all(reqs)
    assert [r.status for r in results] == [200, 304, 200, 404]
    assert guard.connects == [("127.0.0.1", port)]


def test_https_is_verified_against_the_trusted_certificates_sent_to_the_checked_address_and_kept_alive(
    tmp_path: Path, guard: NetGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real TLS server on 127.0.0.1 with a certificate for secure.test: trusted through SSL_CERT_FILE (with
    trust_env), both feeds come over one connection; with the default CA bundle the certificate is refused."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=secure.test", "-addext", "subjectAltName=DNS:secure.test"],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    dns = FakeDNS({"secure.test": ["127.0.0.1"]})
    with FeedServer(ssl_context=context) as server:
        port = port_of(server)
        server.route("/a", body=RSS)
        server.route("/b", body=RSS)
        reqs = [FetchRequest(n, f"https://secure.test:{port}/{n}") for n in ("a", "b")]
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusted = fetcher(dns, trust_env=True, concurrency=1, per_host=1).fetch_all(reqs)
        assert [(r.status, r.body, r.error) for r in trusted] == [(200, RSS, None)] * 2
        assert guard.connects == [("127.0.0.1", port)]
        assert {hit.headers["host"] for hit in server.requests} == {f"secure.test:{port}"}
        untrusted = fetcher(dns).fetch_all(reqs[:1])[0]
    assert untrusted.error is not None and untrusted.error.startswith("connection failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
