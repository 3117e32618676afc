"""Fetcher against a real HTTP server on 127.0.0.1 (tests/feedserver.py): validators, redirects, limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.ingest.fetch import Fetcher, FetchRequest, FetchResult, parse_retry_after
from tests.feedserver import FeedServer

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
RSS = (FEEDS / "rss_basic.xml").read_bytes()
NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
UA = "deadline-monitor-tests/1 (+mailto:test@example.org)"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def fetcher(**kwargs: object) -> Fetcher:
    options: dict[str, object] = {"user_agent": UA, "clock": lambda: NOW}
    options.update(kwargs)
    return Fetcher(**options)  # type: ignore[arg-type]


def fetch_one(server: FeedServer, path: str, **kwargs: object) -> FetchResult:
    req = FetchRequest("feed", server.url(path))
    return fetcher(**kwargs).fetch_all([req])[0]


def test_first_fetch_gets_body_and_validators_then_conditional_get_gets_304(server: FeedServer) -> None:
    server.route("/feed", body=RSS, etag='"v1"', last_modified="Tue, 24 Feb 2026 10:00:00 GMT")
    first = fetch_one(server, "/feed")
    assert (first.status, first.body, first.error, first.not_modified) == (200, RSS, None, False)
    assert first.headers["etag"] == '"v1"' and first.headers["content-type"].startswith("application/rss+xml")
    req = FetchRequest(
        "feed", server.url("/feed"), etag=first.headers["etag"], last_modified=first.headers["last-modified"]
    )
    second = fetcher().fetch_all([req])[0]
    assert (second.status, second.body, second.not_modified, second.error) == (304, None, True, None)
    sent = server.hits("/feed")[1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == "Tue, 24 Feb 2026 10:00:00 GMT"


def test_requests_carry_the_user_agent_accept_and_gzip_headers(server: FeedServer) -> None:
    server.route("/feed", body=RSS)
    fetch_one(server, "/feed")
    sent = server.hits("/feed")[0].headers
    assert sent["user-agent"] == UA
    assert "application/rss+xml" in sent["accept"] and "gzip" in sent["accept-encoding"]
    assert "if-none-match" not in sent


def test_server_without_validators_unchanged_body_has_the_same_sha256(server: FeedServer) -> None:
    server.route("/feed", body=RSS)
    a, b = fetcher().fetch_all([FetchRequest("a", server.url("/feed")), FetchRequest("b", server.url("/feed"))])
    assert a.body_sha256 is not None and a.body_sha256 == b.body_sha256
    server.route("/feed", body=RSS.replace(b"Talks continue.", b"Talks collapsed."))
    assert fetch_one(server, "/feed").body_sha256 != a.body_sha256


def test_gzip_body_is_decoded(server: FeedServer) -> None:
    server.route("/feed", body=RSS, gzip=True)
    result = fetch_one(server, "/feed")
    assert result.body == RSS and result.headers["content-encoding"] == "gzip"


def test_permanent_redirect_is_reported_with_the_new_url(server: FeedServer) -> None:
    server.route("/old", status=301, location="/new")
    server.route("/new", body=RSS)
    result = fetch_one(server, "/old")
    assert result.body == RSS and result.final_url == server.url("/new")
    assert result.permanent_redirect == server.url("/new")


def test_temporary_redirect_is_followed_but_not_reported_as_permanent(server: FeedServer) -> None:
    server.route("/old", status=302, location=server.url("/hop"))
    server.route("/hop", status=301, location="/new")
    server.route("/new", body=RSS)
    result = fetch_one(server, "/old")
    assert result.body == RSS and result.permanent_redirect is None and len(result.redirects) == 2


def test_too_many_redirects_is_an_error(server: FeedServer) -> None:
    for n in range(4):
        server.route(f"/r{n}", status=307, location=f"/r{n + 1}")
    server.route("/r4", body=RSS)
    result = fetch_one(server, "/r0", max_redirects=3)
    assert result.error == "too many redirects (over 3)" and result.body is None
    assert fetch_one(server, "/r0", max_redirects=4).body == RSS


@pytest.mark.parametrize(("status", "error"), [(404, "HTTP 404"), (500, "HTTP 500"), (403, "HTTP 403")])
def test_http_errors_are_results_not_exceptions(server: FeedServer, status: int, error: str) -> None:
    server.route("/feed", status=status, body=b"nope", content_type="text/plain")
    result = fetch_one(server, "/feed")
    assert (result.status, result.error, result.body, result.gone) == (status, error, None, False)


def test_connection_refused_is_a_readable_error() -> None:
    with FeedServer() as srv:
        url = srv.url("/feed")
    result = fetcher().fetch_all([FetchRequest("feed", url)])[0]
    assert result.status is None and result.error is not None and result.error.startswith("connection failed")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("Thu, 26 Feb 2026 13:30:00 GMT", datetime(2026, 2, 26, 13, 30, tzinfo=UTC)),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_http_date(value: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_per_host_limit_is_respected(server: FeedServer) -> None:
    for n in range(6):
        server.route(f"/f{n}", body=RSS, delay=0.15)
    reqs = [FetchRequest(f"f{n}", server.url(f"/f{n}")) for n in range(6)]
    results = fetcher(per_host=2, concurrency=8).fetch_all(reqs)
    assert all(r.body == RSS for r in results)
    assert server.max_inflight == 2


def test_every_failure_is_contained_to_its_own_feed_in_one_pass(server: FeedServer) -> None:
    """One fetch_all with every kind of trouble beside healthy feeds, which still succeed; order is kept."""
    cap = 256 * 1024
    server.route("/healthy-1", body=RSS)
    server.route("/healthy-2", body=RSS, gzip=True)
    server.route("/not-modified", body=RSS, etag='"e"')
    server.route("/moved", status=308, location="/healthy-1")
    server.route("/loop-a", status=301, location="/loop-b")
    server.route("/loop-b", status=302, location="/loop-a")
    server.route("/missing", status=404)
    server.route("/broken", status=500)
    server.route("/gone", status=410)
    server.route("/limited-s", status=429, headers={"Retry-After": "90"})
    server.route("/limited-d", status=503, headers={"Retry-After": "Thu, 26 Feb 2026 14:00:00 GMT"})
    server.route("/drip", body=RSS, drip=0.2)
    server.route("/huge", body=b"<rss>" + b"x" * (cap + 10))
    bomb = server.route("/bomb", body=b"\0" * (64 * 2**20), gzip=True)  # 64 MiB inflated, ~64 KiB on the wire
    server.route("/healthy-3", body=RSS)
    paths = [
        "/healthy-1", "/not-modified", "/moved", "/loop-a", "/missing", "/broken", "/gone", "/limited-s",
        "/limited-d", "/drip", "/huge", "/bomb", "/healthy-2", "/healthy-3",
    ]  # fmt: skip
    reqs = [FetchRequest(p.strip("/"), server.url(p), etag='"e"' if p == "/not-modified" else None) for p in paths]
    # 4 s: long enough for the 256 KiB cap to be hit first on a loaded CI machine (1 s was not), far shorter
    # than the drip feed, which sends one byte every 0.2 s
    results = fetcher(overall_timeout=4.0, max_bytes=cap, per_host=8, concurrency=8).fetch_all(reqs)
    got = {r.feed_id: r for r in results}
    assert [r.feed_id for r in results] == [p.strip("/") for p in paths]
    for name in ("healthy-1", "healthy-2", "healthy-3"):
        assert (got[name].status, got[name].body, got[name].error) == (200, RSS, None)
    assert got["not-modified"].not_modified and got["not-modified"].error is None
    assert got["moved"].permanent_redirect == server.url("/healthy-1") and got["moved"].body == RSS
    assert got["loop-a"].error == "redirect loop"
    assert (got["missing"].error, got["broken"].error) == ("HTTP 404", "HTTP 500")
    assert got["gone"].gone and got["gone"].error == "HTTP 410"
    assert got["limited-s"].retry_after == NOW + timedelta(seconds=90) and got["limited-s"].error == "HTTP 429"
    assert got["limited-d"].retry_after == datetime(2026, 2, 26, 14, 0, tzinfo=UTC)
    assert got["drip"].error == "timeout after 4 s" and got["drip"].elapsed_s < 6.0
    assert got["huge"].error == "body over 262144 bytes" and got["huge"].body is None
    assert got["bomb"].error == "body over 262144 bytes"
    assert len(bomb.wire_body()) < 2**20  # it really is a bomb: what the server sent (compressed once)


def test_fetch_can_be_called_on_its_own(server: FeedServer) -> None:
    server.route("/feed", body=RSS)
    result = fetcher().fetch(FetchRequest("feed", server.url("/feed")))
    assert result.body == RSS and result.started_at == NOW and result.elapsed_s >= 0


@pytest.mark.parametrize("target", ["http://127.0.0.1:99999/x", "http://[zz/x"], ids=["port out of range", "bad host"])
def test_a_redirect_to_an_unusable_url_is_that_feeds_error_and_the_others_are_fetched(server: FeedServer,
                                                                                        target: str) -> None:
    server.route("/bad", status=302, location=target)
    server.route("/good", body=RSS)
    results = fetcher().fetch_all([FetchRequest("bad", server.url("/bad")), FetchRequest("good", server.url("/good"))])
    got = {r.feed_id: r for r in results}
    assert got["bad"].error is not None and got["bad"].error.startswith("bad URL: ") and got["bad"].body is None
    assert got["good"].body == RSS and got["good"].error is None


def test_an_item_link_with_an_unusable_host_has_no_outlet_domain_instead_of_raising() -> None:
    from monitor.domain import domain_of

    assert domain_of("http://[zz/") == "" and domain_of("https://www.example.org/a") == "example.org"


def test_fetch_each_yields_every_result_and_fetches_no_further_ahead_than_its_window(server: FeedServer) -> None:
    for n in range(12):
        server.route(f"/f{n}.xml", body=RSS)
    requests = [FetchRequest(f"f{n}", server.url(f"/f{n}.xml")) for n in range(12)]
    results = fetcher(concurrency=4).fetch_each(requests, window=2)
    first = next(results)
    assert first.body == RSS
    assert len(server.requests) <= 2  # the consumer holds one result: only one more may have been fetched
    rest = list(results)
    assert sorted(r.feed_id for r in [first, *rest]) == sorted(r.feed_id for r in requests)
    assert all(r.body == RSS for r in rest)


def test_fetch_each_closed_early_stops_fetching_and_returns(server: FeedServer) -> None:
    for n in range(20):
        server.route(f"/g{n}.xml", body=RSS)
    requests = [FetchRequest(f"g{n}", server.url(f"/g{n}.xml")) for n in range(20)]
    results = fetcher(concurrency=2).fetch_each(requests, window=2)
    next(results)
    results.close()  # what a caller's exception does: the producer thread is stopped and joined
    assert len(server.requests) < 20


def test_a_chunked_gzip_body_is_decoded(server: FeedServer) -> None:
    server.route("/feed", body=RSS, gzip=True, chunked=True)
    result = fetch_one(server, "/feed")
    assert (result.status, result.body, result.error) == (200, RSS, None)


def test_a_body_cut_short_of_its_content_length_is_an_error_not_a_truncated_feed(server: FeedServer) -> None:
    server.route("/feed", body=RSS, short_by=100)
    result = fetch_one(server, "/feed")
    assert result.body is None and result.status is None
    assert result.error == "RemoteProtocolError: peer closed connection without sending complete message body " \
                           f"(received {len(RSS)} bytes, expected {len(RSS) + 100})"


def test_a_server_dripping_an_endless_header_is_cut_at_the_overall_timeout(server: FeedServer) -> None:
    """Every byte comes well within the read timeout: only the overall deadline can end this fetch."""
    server.route("/stall", drip_headers=0.05)
    server.route("/feed", body=RSS)
    stalled, healthy = fetcher(overall_timeout=1.0).fetch_all(
        [FetchRequest("stall", server.url("/stall")), FetchRequest("feed", server.url("/feed"))])
    assert stalled.error == "timeout after 1 s" and 0.9 < stalled.elapsed_s < 3.0
    assert healthy.body == RSS


def test_a_connection_the_server_closed_after_answering_is_not_reused(server: FeedServer) -> None:
    """One worker, one host: the second fetch would go on the first one's keep-alive connection."""
    server.route("/once", body=RSS, close=True)
    server.route("/feed", body=RSS)
    reqs = [FetchRequest("once", server.url("/once")), FetchRequest("feed", server.url("/feed"))]
    results = fetcher(concurrency=1, per_host=1).fetch_all(reqs)
    assert [(r.body, r.error) for r in results] == [(RSS, None), (RSS, None)]


def test_a_cookie_set_by_a_redirect_goes_to_the_next_hop_and_to_later_feeds_of_the_site(server: FeedServer) -> None:
    """As the HTTP client shared by the pass did before: its cookie jar lasts the pass."""
    server.route("/login", status=302, location="/feed", headers={"Set-Cookie": "session=abc; Path=/"})
    server.route("/feed", body=RSS)
    server.route("/other", body=RSS)
    reqs = [FetchRequest("login", server.url("/login")), FetchRequest("other", server.url("/other"))]
    results = fetcher(concurrency=1, per_host=1).fetch_all(reqs)
    assert [r.body for r in results] == [RSS, RSS]
    assert "cookie" not in server.hits("/login")[0].headers
    assert server.hits("/feed")[0].headers["cookie"] == "session=abc"
    assert server.hits("/other")[0].headers["cookie"] == "session=abc"


def test_a_redirect_to_a_path_with_spaces_is_followed_percent_encoded(server: FeedServer) -> None:
    server.route("/old", status=301, location="/news feed.xml")
    server.route("/news%20feed.xml", body=RSS)
    result = fetch_one(server, "/old")
    assert (result.body, result.error) == (RSS, None)
    assert result.final_url == server.url("/news feed.xml") == result.permanent_redirect


def test_credentials_in_the_url_are_sent_as_basic_authorization(server: FeedServer) -> None:
    server.route("/feed", body=RSS)
    url = server.url("/feed").replace("http://", "http://reader:s%40cret@")
    result = fetcher().fetch_all([FetchRequest("feed", url)])[0]
    assert result.body == RSS
    assert server.hits("/feed")[0].headers["authorization"] == "Basic cmVhZGVyOnNAY3JldA=="  # reader:s@cret


def test_a_busy_host_does_not_hold_up_the_feeds_of_other_hosts() -> None:
    """Per-host limit 1 on a slow host: a free worker takes the next feed of another host meanwhile."""
    with FeedServer() as slow, FeedServer() as fast:
        for n in range(3):
            slow.route(f"/s{n}", body=RSS, delay=0.4)
            fast.route(f"/f{n}", body=RSS)
        reqs = [FetchRequest(f"s{n}", slow.url(f"/s{n}")) for n in range(3)]
        reqs += [FetchRequest(f"f{n}", fast.url(f"/f{n}")) for n in range(3)]
        order = [r.feed_id for r in fetcher(concurrency=2, per_host=1).fetch_each(reqs, window=6)]
    assert sorted(order) == sorted(r.feed_id for r in reqs)
    assert order.index("s1") > max(order.index(f"f{n}") for n in range(3))
    assert slow.max_inflight == 1


def test_a_keep_alive_connection_the_server_drops_at_the_next_request_is_retried_once_on_a_new_one() -> None:
    """The race a check of the idle connection cannot see: the server takes the next request and closes
    without an answer (its keep-alive timed out just then). A GET may be sent again: on a new connection."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(RSS), RSS)
    connections = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn)
            with conn:
                for n in range(2):  # the first request is answered, the second is dropped unanswered
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if n == 0 and data:
                        conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        reqs = [FetchRequest(f"f{n}", f"http://127.0.0.1:{port}/f{n}") for n in range(2)]
        results = fetcher(concurrency=1, per_host=1).fetch_all(reqs)
    finally:
        listener.close()
    assert [(r.body, r.error) for r in results] == [(RSS, None), (RSS, None)]
    assert len(connections) == 2
