"""Real local peers for notification tests: an SMTP server and a programmable webhook receiver, on 127.0.0.1.

``SmtpReceiver`` is aiosmtpd collecting every message (parsed with the modern email policy); ``mailto_url()`` is
an apprise URL that reaches it without TLS or login. ``HttpReceiver`` takes apprise ``json://`` posts and answers
each according to a script per path: an HTTP status (200, 500, ...), ``CLOSE`` (drop the connection without an
answer) or ``HANG`` (never answer; released when the receiver stops). Both are context managers::

    with SmtpReceiver() as smtp, HttpReceiver() as hooks:
        hooks.script("/a", 500, 500, 200)        # then the default (200)
        send([smtp.mailto_url(), hooks.json_url("/a")], message)
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

CLOSE = "close"
HANG = "hang"
Answer = int | str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------------------- SMTP
class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 (no TLS, no auth) collecting messages in ``messages``."""

    def __init__(self) -> None:
        self._collector = _Collector()
        self.port = 0
        self._controller: Controller | None = None

    def __enter__(self) -> SmtpReceiver:
        for _ in range(5):  # the free port may be taken between probing and binding; try another
            self.port = _free_port()
            controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                continue
            self._controller = controller
            return self
        raise RuntimeError("could not start the SMTP receiver")

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self._collector.lock:
            return list(self._collector.messages)

    def mailto_url(self, to: str = "desk@example.org", sender: str = "monitor@example.org") -> str:
        """An apprise URL delivering to this server in plain SMTP (``mode=insecure``, no login)."""
        return f"mailto://127.0.0.1:{self.port}?from={sender}&to={to}&mode=insecure"


def parts(message: EmailMessage) -> dict[str, str]:
    """The decoded text parts of an email by subtype: ``{"plain": ..., "html": ...}``."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            found[part.get_content_subtype()] = part.get_content()  # type: ignore[attr-defined]
    return found


# ---------------------------------------------------------------------------------------------- HTTP
@dataclass(frozen=True)
class Received:
    """One request the HTTP receiver got, and how it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    answer: Answer

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """A webhook receiver on 127.0.0.1 whose answer per request is scripted per path."""

    def __init__(self, default: Answer = 200) -> None:
        self.default = default
        self._scripts: dict[str, deque[Answer]] = {}
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = receiver._next_answer(self.path)
                with receiver._lock:
                    receiver._requests.append(Received(self.path, dict(self.headers), body, answer))
                if answer == HANG:
                    receiver._release.wait(30)
                if answer in (HANG, CLOSE):
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(int(answer))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()  # let hanging handlers (and the apprise threads waiting on them) finish
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None, "use the receiver as a context manager"
        return int(self._server.server_address[1])

    def json_url(self, path: str = "/hook", *, secret: str = "") -> str:
        """An apprise ``json://`` URL posting to ``path``; ``secret`` adds a password to prove it is masked."""
        auth = f"user:{secret}@" if secret else ""
        return f"json://{auth}127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` with ``answers`` in order, then with the default."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(answers)

    def _next_answer(self, path: str) -> Answer:
        bare = path.split("?", 1)[0]
        with self._lock:
            queue = self._scripts.get(bare)
            return queue.popleft() if queue else self.default

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def delivered(self, path: str | None = None) -> list[Received]:
        """Requests answered with a 2xx status (the messages the target really accepted), optionally for a path."""
        return [
            r
            for r in self.requests
            if isinstance(r.answer, int) and 200 <= r.answer < 300 and (path is None or r.path.split("?", 1)[0] == path)
        ]

    def __iter__(self) -> Iterator[Received]:
        return iter(self.requests)
