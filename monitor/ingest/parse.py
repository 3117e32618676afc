"""Feed bytes + response headers -> normalised items. Pure: no I/O, no clock (``fetched_at`` is passed in).

feedparser is used here and nowhere else, and it never fetches: it gets ``io.BytesIO(body)`` and the response
headers. Before it sees a byte, the body is capped and the DOCTYPE internal subset is removed, so entity
expansion (billion laughs, quadratic blowup) and external entities cannot happen (DESIGN.md, library traps).
Plain RSS 2.0 / Atom 1.0 in UTF-8 is read by the faster stdlib path in ``monitor.ingest.fastfeed`` instead; both give
the same entry mappings, which this module turns into items (identity, text, dates, outlet).

An item's outlet is, in order: the RSS/Atom ``<source>`` (Google News), Bing News' ``<News:Source>``, the
feed's own title, the configured feed title.
"""

from __future__ import annotations

import calendar
import hashlib
import heapq
import html
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.domain import Item, SourceKind, domain_of
from monitor.ingest.fastfeed import BING_SOURCE, bing_source_keys, fast_parse

MAX_PARSE_BYTES = 10 * 2**20
MAX_ITEMS_PER_DOCUMENT = 200  # the newest are read; a feed of 150,000 fresh items must not flood the store
SUMMARY_CHARS = 2000  # a summary is read for its first paragraphs; longer ones are cut (normal, not noted)
TITLE_CHARS = 500  # a headline longer than this is not a headline: cut, and noted in the feed's health
LINK_CHARS = 2048  # likewise for links (dropped: a cut link leads nowhere)
MAX_ID_CHARS = 512


@dataclass(frozen=True)
class ParsedFeed:
    """The outcome of parsing one body. ``error`` set means "not a feed" (``is_feed`` False, no items);
    ``warning`` is feedparser's bozo text, kept short: the items are still good. ``notes`` say which caps the
    document went over, so the loss is visible in the feed's health rather than silent."""

    is_feed: bool
    title: str
    items: tuple[Item, ...]
    warning: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()  # caps the document went over (items not read, text cut): for feed health


# ------------------------------------------------------------------------------------------ prolog safety
# One token of a DOCTYPE: quoted literal, comment, the end of the internal subset, or anything else.
_DTD_TOKEN = re.compile(rb'"[^"]*"|\'[^\']*\'|<!--.*?-->|\]\s*>|[^"\'<\]]+|.', re.S)
_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_DOCTYPE_HEAD = re.compile(rb"<!DOCTYPE\s+([\w:.-]+)([^\[>]*)", re.I)
# An entity is kept only if its value is one character reference or a few literal characters: expansion is
# then at most a few bytes per reference, so no blowup is possible (feedparser itself would keep any
# ampersand-free value, which is exactly the quadratic-blowup attack).
_ENTITY_NAME = re.compile(rb"<!ENTITY\s+(?:%\s+)?(\w+)")
_SAFE_ENTITY = re.compile(rb'<!ENTITY\s+(\w+)\s+"(&#x?[0-9a-fA-F]+;|[^&"%<]{0,8})"\s*>')


def strip_doctype(body: bytes) -> bytes:
    """Remove the DOCTYPE's internal subset (keeping a handful of harmless one-character entities)."""
    pos = 0
    while True:
        skipped = _PROLOG_SKIP.match(body, pos)
        if not skipped or skipped.end() == pos:
            break
        pos = skipped.end()
    head = _DOCTYPE_HEAD.match(body, pos)
    if not head:
        return body
    end = head.end()
    subset = b""
    if body[end : end + 1] == b"[":
        start = end + 1
        for token in _DTD_TOKEN.finditer(body, start):
            if token.group().startswith(b"]"):
                subset, end = body[start : token.start()], token.end()
                break
        else:  # unterminated internal subset: drop everything up to the first element
            match = re.compile(rb"<[A-Za-z_]").search(body, end)
            end = match.start() if match else len(body)
    elif body[end : end + 1] == b">":
        end += 1
    external = head.group(2).strip()
    safe = [b'<!ENTITY %s "%s">' % m.groups() for m in _SAFE_ENTITY.finditer(subset)]
    dropped = set(_ENTITY_NAME.findall(subset)) - {m.group(1) for m in _SAFE_ENTITY.finditer(subset)}
    rest = body[end:]
    if dropped:  # references to dropped entities vanish, so the strict (fast) parser still accepts the document
        names = b"|".join(re.escape(n) for n in sorted(dropped))
        rest = re.sub(rb"&(?:" + names + rb");", b"", rest)
    doctype = b"<!DOCTYPE " + head.group(1) + (b" " + external if external else b"")
    # One entity per line: feedparser's own DOCTYPE handling only recognises them that way.
    doctype += b" [\n" + b"\n".join(safe) + b"\n]>" if safe else b">"
    return body[:pos] + doctype + rest


_UNICODE_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"<\x00?\x00", "utf-16-le", 0),  # no BOM, but the XML declaration itself is UTF-16
    (b"\x00<\x00?", "utf-16-be", 0),
)


def _to_ascii_compatible(body: bytes) -> bytes:
    """UTF-16/32 bodies are transcoded to UTF-8 so the byte-level DOCTYPE scan sees them."""
    for signature, codec, skip in _UNICODE_SIGNATURES:
        if body.startswith(signature):
            text = body[skip:].decode(codec, "replace")
            text = re.sub(r"""^(<\?xml[^>]*encoding=["'])[^"']*""", r"\1utf-8", text)
            return text.encode("utf-8", "replace")
    return body


# --------------------------------------------------------------------------------------------- text
# Block-level tags separate words; inline ones (<b>, <a>, <em>) do not: "<em>Friday</em>." stays "Friday."
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table",
     "blockquote", "section", "article", "hr", "img"}
)
_RAW_TEXT_TAGS = ("script", "style")  # their content is code, not text: dropped with the tags
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_SPACE = re.compile(r"\s+")


def plain_text(value: str, *, markup: bool = True) -> str:
    """Markup removed, entities decoded, control characters removed, whitespace folded. Linear in the input."""
    if markup:
        value = html.unescape(strip_tags(value))
    return _SPACE.sub(" ", _CONTROL.sub("", value)).strip()


def strip_tags(value: str) -> str:
    """Remove tags in one left-to-right pass (no pattern that rescans: a feed's text is written by an attacker).

    A tag is ``<`` up to the next ``>``; block-level tags become a space, inline ones nothing; ``<script>`` and
    ``<style>`` are dropped with their content up to the closing tag. A ``<`` with no ``>`` after it, and
    everything after it, is kept as text. Every search moves forward, and a search that fails is not repeated,
    so the cost is linear in ``len(value)`` whatever the input (unclosed tags, runs of ``<script>``)."""
    out: list[str] = []
    lower = value.lower()
    missing_close: set[str] = set()  # raw-text tags whose closing tag is known to be absent from here on
    position, size = 0, len(value)
    while position < size:
        lt = value.find("<", position)
        if lt < 0:
            out.append(value[position:])
            break
        out.append(value[position:lt])
        gt = value.find(">", lt + 1)
        if gt < 0:
            out.append(value[lt:])  # no tag closes: the rest is text
            break
        name = _tag_name(lower, lt + 1, gt)
        position = gt + 1
        if name in _RAW_TEXT_TAGS and lower[lt + 1] != "/" and name not in missing_close:
            close = lower.find("</" + name, position)
            if close < 0:
                missing_close.add(name)
            else:
                end = value.find(">", close)
                position = size if end < 0 else end + 1
            out.append(" ")
            continue
        out.append(" " if name in _BLOCK_TAGS or name in _RAW_TEXT_TAGS else "")
    return "".join(out)


def _tag_name(lower: str, start: int, end: int) -> str:
    """The tag's name between ``start`` (after "<") and ``end`` (its ">"): "p" for "</p class=x>"."""
    if start < end and lower[start] == "/":
        start += 1
    stop = start
    while stop < end and stop - start < 12 and lower[stop].isalnum():
        stop += 1
    return lower[start:stop]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[limit // 2 : limit] else text[:limit]
    return cut.rstrip() + "…"


def _detail_text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        return ""
    detail = entry.get(f"{key}_detail") or {}
    kind = str(detail.get("type", "text/html")) if isinstance(detail, Mapping) else "text/html"
    return plain_text(value, markup="html" in kind)


# ------------------------------------------------------------------------------------------ canonical URLs
_TRACKING = frozenset(
    re.split(
        r"\s+",
        "fbclid gclid dclid gbraid wbraid msclkid yclid igshid mc_cid mc_eid _hsenc _hsmi mkt_tok ref_src ocid ncid "
        "cmpid smid sr_share spm s_cid at_medium at_campaign guccounter guce_referrer guce_referrer_sig "
        "__twitter_impression amp outputtype",
    )
)
_AMP_PATH = re.compile(r"(/amp)+(?=/|$)|\.amp(?=\.html?$|$)", re.I)


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
    amp_viewer = re.match(r"^/amp/(s/)?(.+)$", path) if re.fullmatch(r"(www\.)?google\.[a-z.]+", host) else None
    amp_cache = re.match(r"^/[a-z]/(s/)?(.+)$", path) if host.endswith(".cdn.ampproject.org") else None
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


_GNEWS_ARTICLE = re.compile(r"^https?://news\.google\.com/(?:rss/)?articles/([^/?#]+)", re.I)


# ----------------------------------------------------------------------------------------------- items
def _struct_to_utc(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):  # from the fast path
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def _bounded_id(value: str) -> str:
    return value if len(value) <= MAX_ID_CHARS else "sha256:" + _sha(value)


@dataclass
class _Draft:
    """An entry on its way to becoming an Item; ``base_id`` may still collide within the document."""

    base_id: str
    title: str
    summary: str
    link: str | None
    outlet: str
    published: datetime
    outlet_domain: str = ""
    over_cap: bool = False  # its title or link went over TITLE_CHARS / LINK_CHARS


def _draft(
    entry: Mapping[str, Any], feed_outlet: str, fetched_at: datetime, outlet_keys: tuple[str, ...]
) -> _Draft | None:
    """One entry as a draft, or None if it has nothing to read or follow; ``outlet_keys`` may hold a Bing outlet."""
    title = _detail_text(entry, "title")
    over = len(title) > TITLE_CHARS
    title = _cut(title, TITLE_CHARS)
    summary = _detail_text(entry, "summary")
    if not summary:
        contents = entry.get("content") or []
        if contents and isinstance(contents[0], Mapping):
            kind = str(contents[0].get("type", "text/html"))
            summary = plain_text(str(contents[0].get("value", "")), markup="html" in kind)
    summary = _cut(summary, SUMMARY_CHARS)
    raw_link = entry.get("link")
    link = canonical_url(raw_link) if isinstance(raw_link, str) and raw_link.strip() else None
    if link is not None and len(link) > LINK_CHARS:
        link, over = None, True
    if not (title or summary or link):
        return None  # nothing a person could read or follow
    source = entry.get("source") or {}
    outlet = plain_text(str(source.get("title", "")), markup=False) if isinstance(source, Mapping) else ""
    href = str(source.get("href", "")) if isinstance(source, Mapping) else ""
    outlet_domain = domain_of(href) if href.startswith(("http://", "https://")) else ""
    for key in outlet_keys:
        if outlet:
            break
        value = entry.get(key)
        outlet = plain_text(value, markup=False) if isinstance(value, str) else ""
    outlet = _cut(outlet or feed_outlet, 200)
    published = _struct_to_utc(entry.get("published_parsed")) or _struct_to_utc(entry.get("updated_parsed"))
    published = min(published, fetched_at) if published else fetched_at
    guid = plain_text(str(entry.get("id") or ""), markup=False)
    gnews = _GNEWS_ARTICLE.match(link or "")
    if gnews:  # the link is an opaque redirector: the article id plus the outlet is what identifies it
        base_id = f"gnews:{gnews.group(1)}|{outlet.lower()}"
    elif guid:
        base_id = guid
    elif link:
        base_id = link
    else:  # never fetched_at: that would give the same entry a new id on every poll
        raw_date = str(entry.get("published") or entry.get("updated") or "")
        base_id = "sha256:" + _sha(title or summary, raw_date)
    return _Draft(_bounded_id(base_id), title, summary, link, outlet, published, outlet_domain, over)


def _assign_ids(drafts: list[_Draft]) -> list[tuple[str, _Draft]]:
    """Unique ids within one document, independent of entry order.

    Exact duplicates (same id, link and title) collapse to one item. Different entries sharing an id (a guid
    reused for another link) all stay: the oldest keeps the plain id (it is the one most likely stored
    already), the others get the id plus a short hash of their link/title.
    """
    groups: dict[str, list[_Draft]] = {}
    for draft in drafts:
        group = groups.setdefault(draft.base_id, [])
        if not any(d.link == draft.link and d.title == draft.title for d in group):
            group.append(draft)
    taken = set(groups)
    out: list[tuple[str, _Draft]] = []
    for base_id, group in groups.items():
        ordered = sorted(group, key=lambda d: (d.published, d.link or "", d.title))
        out.append((base_id, ordered[0]))
        for draft in ordered[1:]:
            new_id = f"{base_id}#{_sha(draft.link or '', draft.title)[:12]}"
            while new_id in taken:
                new_id += "_"
            taken.add(new_id)
            out.append((new_id, draft))
    order = {id(d): i for i, d in enumerate(drafts)}
    out.sort(key=lambda pair: order[id(pair[1])])
    return out


def _short(exc: Any) -> str:
    text = plain_text(str(exc), markup=False) or type(exc).__name__
    return _cut(text, 160)


def _not_a_feed(body: bytes) -> str:
    head = body[:2048].lower()
    if b"<html" in head or b"<!doctype html" in head:
        return "not a feed: looks like HTML"
    if head.lstrip()[:1] in (b"{", b"["):
        return "not a feed: looks like JSON"
    return "not a feed: no RSS or Atom document found"


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    feed_id: str,
    source_kind: SourceKind,
    fetched_at: datetime,
    feed_title: str = "",
    base_url: str = "",
    fast: bool = True,
    max_items: int = MAX_ITEMS_PER_DOCUMENT,
) -> ParsedFeed:
    """Parse one fetched body into items (see module doc). Never raises for bad input.

    ``base_url`` (the final URL of the fetch) resolves relative links when the headers carry no
    Content-Location. Items are in document order, with unique ``item_id``s; at most ``max_items`` of them,
    the newest (``notes`` says when a document had more). ``fast=False`` forces feedparser even for plain
    RSS/Atom (tests compare the two paths).
    """
    import feedparser  # lazy: importing it costs time the CLI should not pay up front

    if not body.strip():
        return ParsedFeed(False, feed_title, (), None, "not a feed: empty body")
    if len(body) > MAX_PARSE_BYTES:
        return ParsedFeed(False, feed_title, (), None, f"not a feed: body over {MAX_PARSE_BYTES // 2**20} MiB")
    transcoded = _to_ascii_compatible(body)
    safe = strip_doctype(transcoded)
    response_headers = {k.lower(): v for k, v in headers.items()}
    # Hop-by-hop and transfer headers describe the bytes on the wire, not the decoded body we hand over.
    for key in ("content-encoding", "content-length", "transfer-encoding"):
        response_headers.pop(key, None)
    if base_url and "content-location" not in response_headers:
        response_headers["content-location"] = base_url
    if transcoded is not body and "content-type" in response_headers:  # the charset now is UTF-8
        response_headers["content-type"] = response_headers["content-type"].split(";")[0] + "; charset=utf-8"
    base = response_headers.get("content-location", "")
    quick = fast_parse(safe, response_headers, base, max_items) if fast else None
    if quick is not None:
        title = plain_text(quick[0]) or feed_title
        return _result(quick[1], title, None, feed_id, source_kind, fetched_at, (BING_SOURCE,), max_items,
                       in_document=quick[2])
    try:
        # Sanitising HTML is skipped: every text field is reduced to plain text below, which is stricter.
        parsed = feedparser.parse(
            io.BytesIO(safe), response_headers=response_headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser's loose parser has raised on odd input before; contain it
        return ParsedFeed(False, feed_title, (), None, f"not a feed: parser failed ({_short(exc)})")
    entries = parsed.get("entries") or []
    if not parsed.get("version") and not entries:
        return ParsedFeed(False, feed_title, (), None, _not_a_feed(body))
    feed = parsed.get("feed") or {}
    title = _detail_text(feed, "title") or feed_title
    warning = _short(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    bing_keys = bing_source_keys(parsed.get("namespaces"))
    return _result(entries, title, warning, feed_id, source_kind, fetched_at, bing_keys, max_items)


def _result(
    entries: list[Any],
    title: str,
    warning: str | None,
    feed_id: str,
    source_kind: SourceKind,
    fetched_at: datetime,
    outlet_keys: tuple[str, ...],
    max_items: int = MAX_ITEMS_PER_DOCUMENT,
    in_document: int | None = None,
) -> ParsedFeed:
    """Items from ``entries`` (the newest ``max_items``); ``in_document`` is how many entries the document
    held when ``entries`` were already cut to the newest (the fast path), for the note."""
    seen = 0

    def numbered() -> Iterator[tuple[int, _Draft]]:
        nonlocal seen
        for entry in entries:
            draft = _draft(entry, title, fetched_at, outlet_keys)
            if draft is not None:
                yield seen, draft
                seen += 1

    # only the newest max_items drafts are ever held (a heap), whatever the document holds; document order kept
    newest = heapq.nlargest(max_items, numbered(), key=lambda pair: (pair[1].published, -pair[0]))
    drafts = [draft for _, draft in sorted(newest, key=lambda pair: pair[0])]
    notes: list[str] = []
    total = max(seen, in_document or 0)
    if total > max_items:
        notes.append(f"{total} items in the document, over the cap of {max_items}: read the newest {max_items}")
    over = sum(1 for d in drafts if d.over_cap)
    if over:
        notes.append(f"{over} item(s) with a title over {TITLE_CHARS} or a link over {LINK_CHARS} characters: cut")
    items = tuple(
        Item(
            feed_id=feed_id,
            item_id=item_id,
            title=d.title,
            summary=d.summary,
            link=d.link,
            outlet=d.outlet,
            published=d.published,
            fetched_at=fetched_at,
            source_kind=source_kind,
            outlet_domain=d.outlet_domain,
        )
        for item_id, d in _assign_ids(drafts)
    )
    return ParsedFeed(True, title, items, warning, None, tuple(notes))
