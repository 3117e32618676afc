"""A real, programmable HTTP server on 127.0.0.1 for tests that fetch feeds (no mocks of our own code).

Usage::

    with FeedServer() as server:
        server.route("/feed.xml", body=RSS, etag='"v1"')          # honours If-None-Match -> 304
        server.route("/old", status=301, location="/feed.xml")
        server.route("/slow", body=RSS, drip=0.5)                  # one byte every 0.5 s
        server.route("/bomb", body=b"\\0" * 2**24, gzip=True)      # gzip-encoded on the wire
        server.route("/chunked", body=RSS, chunked=True)           # Transfer-Encoding: chunked
        server.route("/cut", body=RSS, short_by=100)               # announces 100 bytes more than it sends
        server.route("/once", body=RSS, close=True)                # closes the connection after answering
        server.route("/stall", drip_headers=0.1)                   # a header that never ends, byte by byte
        server.handler("/many/", lambda path: Route(body=...))     # computed routes for a path prefix
        url = server.url("/feed.xml")

Every request is logged (``server.requests``: path + lower-cased headers); ``server.max_inflight`` is the
highest number of requests it served at once (for concurrency-limit tests). HTTP/1.1 with keep-alive.
"""

from __future__ import annotations

import gzip as gzip_module
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Route:
    """What one path answers. ``etag``/``last_modified`` make it answer 304 to a matching conditional GET."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    gzip: bool = False
    drip: float | None = None  # seconds between single bytes of the body
    delay: float = 0.0  # seconds before answering (simulates a slow server, not our clock)
    location: str | None = None
    chunked: bool = False  # the body in chunks (Transfer-Encoding: chunked), no Content-Length
    short_by: int = 0  # Content-Length announces this many bytes more than are sent; then the connection closes
    close: bool = False  # close the connection after the response without saying so (an expired keep-alive)
    drip_headers: float | None = None  # seconds between single bytes of a header line that never ends
    etag: str | None = None
    last_modified: str | None = None
    _wire: bytes | None = field(default=None, repr=False)

    def wire_body(self) -> bytes:
        if self._wire is None:
            self._wire = gzip_module.compress(self.body, compresslevel=6) if self.gzip else self.body
        return self._wire


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops SYNs under load: 1 s retransmit stalls
    daemon_threads = True


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]


class FeedServer:
    """A threaded HTTP server with per-path routes. Start/stop it as a context manager."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """``ssl_context`` (a server context with its certificate loaded) makes it an HTTPS server."""
        self.routes: dict[str, Route] = {}
        self.handlers: list[tuple[str, Callable[[str], Route | None]]] = []
        self.requests: list[SeenRequest] = []
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self.scheme = "http"
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="feedserver", daemon=True
        )

    # ----------------------------------------------------------------------------------------- routes
    def route(self, path: str, **kwargs: object) -> Route:
        route = Route(**kwargs)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def handler(self, prefix: str, fn: Callable[[str], Route | None]) -> None:
        """Compute the route for any path starting with ``prefix`` (the fn gets the full path)."""
        self.handlers.append((prefix, fn))

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}{path}"

    def hits(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    def resolve(self, path: str) -> Route | None:
        if path in self.routes:
            return self.routes[path]
        for prefix, fn in self.handlers:
            if path.startswith(prefix):
                return fn(path)
        return None

    # ------------------------------------------------------------------------------------- lifecycle
    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like real feed servers
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            with server._lock:
                server.requests.append(SeenRequest(self.path, headers))
                server.inflight += 1
                server.max_inflight = max(server.max_inflight, server.inflight)
            try:
                self._answer(headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (deadline, size cap): exactly what some tests want
            finally:
                with server._lock:
                    server.inflight -= 1

        def _answer(self, headers: dict[str, str]) -> None:
            route = server.resolve(self.path)
            if route is None:
                route = Route(status=404, body=b"not found", content_type="text/plain")
            if route.delay and server._stopping.wait(route.delay):
                return
            if route.drip_headers is not None:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
                while not server._stopping.wait(route.drip_headers):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                return
            status = route.status
            not_modified = status == 200 and (
                (route.etag is not None and headers.get("if-none-match") == route.etag)
                or (route.last_modified is not None and headers.get("if-modified-since") == route.last_modified)
            )
            body = b"" if not_modified else route.wire_body()
            self.send_response(304 if not_modified else status)
            if not not_modified:
                self.send_header("Content-Type", route.content_type)
            if route.gzip and not not_modified:
                self.send_header("Content-Encoding", "gzip")
            if route.location:
                self.send_header("Location", route.location)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            for key, value in route.headers.items():
                self.send_header(key, value)
            if route.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body) + route.short_by))
            self.end_headers()
            if route.close or route.short_by:
                self.close_connection = True
            if route.chunked:
                for i in range(0, len(body), 1000):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000]))
                self.wfile.write(b"0\r\n\r\n")
                return
            if route.drip is None:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                if server._stopping.wait(route.drip):
                    return

    return Handler
