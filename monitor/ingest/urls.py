"""Links as feeds write them -> one canonical form per article. Pure: no I/O.

``canonical_url`` drops tracking parameters, AMP wrappers, the fragment and host case, so that the same
article reached through two feeds (or two polls) has one link. Most feed links are plain (``https://host/path``
with at most a few ``key=value`` parameters); for them the answer is built directly from one regex match, and
only the others go through ``urlsplit`` -> ``parse_qsl`` -> ``urlencode`` -> ``urlunsplit`` (the general path,
several times the cost). The fast path returns exactly what the general path would, or declines
(``tests/ingest/test_urls.py`` checks the two against each other on generated links).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlparse, urlsplit, urlunsplit

_TRACKING = frozenset(
    re.split(
        r"\s+",
        "fbclid gclid dclid gbraid wbraid msclkid yclid igshid mc_cid mc_eid _hsenc _hsmi mkt_tok ref_src ocid ncid "
        "cmpid smid sr_share spm s_cid at_medium at_campaign guccounter guce_referrer guce_referrer_sig "
        "__twitter_impression amp outputtype",
    )
)
_AMP_PATH = re.compile(r"(/amp)+(?=/|$)|\.amp(?=\.html?$|$)", re.I)
_GOOGLE_HOST = re.compile(r"(www\.)?google\.[a-z.]+")
_AMP_VIEWER = re.compile(r"^/amp/(s/)?(.+)$")
_AMP_CACHE = re.compile(r"^/[a-z]/(s/)?(.+)$")


def _is_tracking(key: str) -> bool:
    low = key.lower()
    return low.startswith("utm_") or low in _TRACKING


@lru_cache(maxsize=16384)  # pure, and a changed feed lists mostly the links of its last poll again
def canonical_url(url: str) -> str:
    """A link with tracking parameters, AMP wrappers, fragment and host case removed.

    Non-http(s) links come back stripped but otherwise unchanged; Google News article links
    (``news.google.com/rss/articles/<id>``) are kept as they are, since they cannot be decoded offline.
    """
    url = url.strip()
    fast = canonical_fast(url)
    return fast if fast is not None else canonical_general(url)


# ------------------------------------------------------------------------------------------------ fast path
# A plain absolute link: http(s), a host of ASCII letters, digits, dots and hyphens (no port, no credentials),
# a printable ASCII path and query, any fragment (it is dropped). Anything else (spaces, tabs, non-ASCII, a
# port, IPv6, ...) is the general path's business.
_PLAIN = re.compile(
    r"([hH][tT][tT][pP][sS]?)://([A-Za-z0-9.-]+)(/[!-\"$-\x3e@-~]*)?(?:\?([!-\"$-~]*))?(?:#.*)?\Z", re.S
)
# A query that parse_qsl + urlencode give back field by field unchanged: fields of unreserved characters and
# "+" (a space both ways), at most one "=" each. Anything percent-encoded or reserved may be re-encoded: declined.
_FIELD = r"[A-Za-z0-9_.~+-]*(?:=[A-Za-z0-9_.~+-]*)?"
_PLAIN_QUERY = re.compile(rf"{_FIELD}(?:&{_FIELD})*\Z")
# A field whose key is a tracking key (_is_tracking), for such a query: its keys are ASCII, so an ASCII
# case-insensitive match is lower(); decoding would turn "+" into a space, and no tracking key holds either.
_TRACKING_KEY = r"(?ai:utm_[^=&]*|" + "|".join(sorted(map(re.escape, _TRACKING), key=len, reverse=True)) + ")"
_TRACKING_FIELD = re.compile(rf"{_TRACKING_KEY}(?:=|\Z)")
# A query of tracking fields only (whatever their values: they go) and empty ones (parse_qsl skips them).
_PLAIN_TRACKING = rf"{_TRACKING_KEY}(?:=[^&]*)?"
_ONLY_TRACKING = re.compile(rf"&*{_PLAIN_TRACKING}(?:&+{_PLAIN_TRACKING})*&*\Z")


def canonical_fast(url: str) -> str | None:
    """``canonical_general(url)`` for a plain link (``url`` already stripped), or None when it is not one.

    Declines every link one of the general path's special rules could touch: Google hosts (News, the AMP
    viewer), Bing's click tracker, the AMP cache, ``amp.`` hosts, any "amp" in the path."""
    match = _PLAIN.match(url)
    if match is None:
        return None
    scheme, host, path, query = match.groups()
    host = host.lower()
    if host.endswith(("bing.com", ".ampproject.org")) or host.startswith("amp.") or "google." in host:
        return None
    if not path:
        path = "/"
    elif "amp" in path.lower():
        return None
    if query and _ONLY_TRACKING.match(query) is None:  # (the usual feed link's query is all tracking)
        if _PLAIN_QUERY.match(query) is None:
            return None
        # keep_blank_values: a field "a" comes back as "a="; parse_qsl skips empty fields
        fields = [f if "=" in f else f + "=" for f in query.split("&") if f and _TRACKING_FIELD.match(f) is None]
        if fields:
            return f"{scheme.lower()}://{host}{path}?{'&'.join(fields)}"
    return f"{scheme.lower()}://{host}{path}"


# --------------------------------------------------------------------------------------------- general path
def canonical_general(url: str) -> str:
    """``canonical_url`` of any link (``url`` already stripped): the reference the fast path is checked against."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if host == "news.google.com" and "/articles/" in parts.path:
        return url
    path, query = parts.path, parts.query
    # Bing News wraps the publisher's URL in a click tracker whose other parameters change between fetches.
    if host.endswith("bing.com") and path.lower() == "/news/apiclick.aspx":
        target = dict(parse_qsl(query)).get("url", "")
        if target.startswith(("http://", "https://")):
            return canonical_url(target)
    # Google's AMP viewer and the AMP cache wrap the publisher URL in their own path.
    amp_viewer = _AMP_VIEWER.match(path) if _GOOGLE_HOST.fullmatch(host) else None
    amp_cache = _AMP_CACHE.match(path) if host.endswith(".cdn.ampproject.org") else None
    wrapped = amp_viewer or amp_cache
    if wrapped:
        inner = ("https://" if wrapped.group(1) else "http://") + wrapped.group(2)
        return canonical_url(inner + (f"?{query}" if query else ""))
    if host.startswith("amp.") and host.count(".") >= 2:
        host = host[4:]
    path = _AMP_PATH.sub("", path) or "/"
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _is_tracking(k)]
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    if parts.username:  # credentials in a feed link are odd but kept; only the host is normalised
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit((scheme, netloc, path, urlencode(kept, doseq=True), ""))


# ------------------------------------------------------------------------------------------- relative links
# An absolute link urljoin gives back unchanged whatever the base: lower-case http(s), a plain host, no ";"
# (urlparse splits off path parameters), no empty "?" or "#" (urlunparse drops them), nothing urlsplit strips.
_JOIN_PLAIN = re.compile(r"https?://[A-Za-z0-9.-]+(?:/[!-\"$-:<-\x3e@-~]*)?(?:\?[!-\"$-~]+)?(?:#[!-~]+)?\Z")


def join(base: str, link: str) -> str:
    """``urljoin(base, link)`` (raising as it does), without its two parses when ``link`` is plainly absolute."""
    if _JOIN_PLAIN.match(link) and _base_parses(base):
        return link
    return urljoin(base, link)


@lru_cache(maxsize=64)  # one base per document
def _base_parses(base: str) -> bool:
    """Whether urljoin can parse ``base`` (it raises ValueError on a bad IPv6 host, as a Content-Location
    written by an attacker may hold; the fast path then goes to feedparser, and so it must still)."""
    try:
        urlparse(base)
    except ValueError:
        return False
    return True
