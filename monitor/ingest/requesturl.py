"""A feed URL as one request needs it: scheme, host (as the fetch policy and the Host header see it), port,
request target, credentials. Pure.

It reads URLs the way httpx (the fetcher's earlier HTTP client) did, so that a feed keeps working across the
change: the host lower-cased and IDNA-encoded (an IPv6 literal without its brackets), the default port of the
scheme, dot segments removed, characters a request line cannot carry percent-encoded (a space in a redirect's
path goes out as ``%20``), the fragment dropped, ``user:password@`` sent as Basic authorization.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from monitor.ingest.fetchtypes import FetchProblem

_MAX_URL = 65536
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
# The WHATWG percent-encode sets httpx applied: the query set (controls, space, " # < >), and for the path
# also ? ` { }. "%" itself is kept, so an escape already in the URL is not encoded twice.
_QUERY_SAFE = _UNRESERVED + "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) not in ' "#<>')
_PATH_SAFE = _UNRESERVED + "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) not in ' "#<>?`{}')


@dataclass(frozen=True)
class Target:
    """Where one request goes. ``host`` is what the fetch policy checks and the connection is made for."""

    scheme: str
    host: str
    port: int
    path: str  # the request target: path and query, encoded
    authorization: str | None = None


def parse_target(url: str) -> Target:
    """Read ``url``. Raises :class:`ValueError` for an unusable URL (a bad port, a broken IPv6 literal, an
    invalid international name) and :class:`FetchProblem` for a scheme other than HTTP(S) or no host."""
    if len(url) > _MAX_URL:
        raise ValueError("URL too long")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme:
            raise FetchProblem("UnsupportedProtocol: Request URL is missing an 'http://' or 'https://' protocol.")
        raise FetchProblem(f"UnsupportedProtocol: Request URL has an unsupported protocol '{scheme}://'.")
    host = parts.hostname or ""
    if not host:
        raise FetchProblem("bad URL: no host")
    if not host.isascii():
        host = _idna(host)
    port = parts.port or (443 if scheme == "https" else 80)
    path = _quote(_normalize(parts.path), _PATH_SAFE) or "/"
    if parts.query or url.endswith("?"):
        path = f"{path}?{_quote(parts.query, _QUERY_SAFE)}"
    authorization = None
    if parts.username is not None or parts.password is not None:
        userpass = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(userpass).decode("ascii")
    return Target(scheme, host, port, path, authorization)


def _idna(host: str) -> str:
    import idna  # httpx's dependency (IDNA 2008, as httpx encoded names); only international names need it

    try:
        return str(idna.encode(host.lower()).decode("ascii"))
    except idna.IDNAError:
        raise ValueError(f"Invalid IDNA hostname: {host!r}") from None


def _quote(text: str, safe: str) -> str:
    if not text.rstrip(safe):  # nothing to encode: the usual case
        return text
    return "".join(char if char in safe else "".join(f"%{b:02X}" for b in char.encode()) for char in text)


def _normalize(path: str) -> str:
    """Remove ``.`` and ``..`` segments (RFC 3986 5.2.4)."""
    if "." not in path:
        return path
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if out and out != [""]:
                out.pop()
        else:
            out.append(segment)
    return "/".join(out)
