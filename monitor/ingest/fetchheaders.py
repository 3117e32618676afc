"""The headers of a fetch: stored validators going out, the response's headers coming in, and the cookies of
a pass. Read the way httpx (the fetcher's earlier HTTP client) read them, so stored values keep their meaning.
"""

from __future__ import annotations

import http.client
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from http.cookiejar import CookieJar
    from urllib.request import Request


def header_value(value: str) -> str | bytes:
    """A stored validator as it came: ISO-8859-1 text goes out as such; text decoded as UTF-8 goes back so."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
    return value


def decoded(value: str) -> str:
    """A header value as httpx read it: http.client reads header bytes as ISO-8859-1; bytes that are UTF-8 are
    text in UTF-8 (a redirect to a path in another script, an ETag with an accent)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def header_dict(resp: http.client.HTTPResponse) -> dict[str, str]:
    """Response headers by lower-cased name; a repeated header's values joined by ", " (as httpx joined them)."""
    headers: dict[str, str] = {}
    for name, value in resp.msg.raw_items():  # as received (items() runs each through the email policy)
        key = name.lower()
        if "\n" in value or "\r" in value:
            value = " ".join(value.split())  # an obsolete folded header: one line, as h11 read it
        value = decoded(value)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


class PassCookies:
    """The cookie jar of one pass: a cookie a response sets goes back to its site on the later requests of the
    pass (redirect hops and other feeds), as it did with the HTTP client the pass shared. Thread-safe. The jar
    is made when a response first sets a cookie; until then a request costs one attribute test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jar: CookieJar | None = None

    def add(self, url: str, sent: dict[str, str | bytes]) -> Request | None:
        """Put the Cookie header the jar holds for ``url`` in ``sent``; returns the urllib request it was judged
        on (for :meth:`keep`), None while no response has set a cookie."""
        jar = self._jar
        if jar is None:
            return None
        from urllib.request import Request

        request = Request(url)
        jar.add_cookie_header(request)
        cookie = request.get_header("Cookie")
        if cookie:
            sent["Cookie"] = cookie
        return request

    def keep(self, url: str, request: Request | None, resp: http.client.HTTPResponse) -> None:
        """Store the cookies ``resp`` (the answer to ``url``) sets."""
        if "set-cookie" not in resp.msg and "set-cookie2" not in resp.msg:
            return
        from http.cookiejar import CookieJar  # feeds rarely set cookies: the import waits for one that does
        from urllib.request import Request

        with self._lock:
            if self._jar is None:
                self._jar = CookieJar()
            jar = self._jar
        jar.extract_cookies(resp, request or Request(url))
