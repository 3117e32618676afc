"""Feed bytes + response headers -> normalised items. Pure: no I/O, no clock (``fetched_at`` is passed in).

feedparser is used here and nowhere else, and it never fetches: it gets ``io.BytesIO(body)`` and the response
headers. Before it sees a byte, the body is capped and the DOCTYPE internal subset is removed
(``monitor.ingest.prolog``), so entity expansion (billion laughs, quadratic blowup) and external entities cannot
happen (DESIGN.md, library traps). Plain RSS 2.0 / Atom 1.0 in UTF-8 is read by the faster stdlib path in
``monitor.ingest.fastfeed`` instead; both give the same entry mappings, which this module turns into items
(identity, dates, outlet), with text from ``monitor.ingest.cleantext`` and links from ``monitor.ingest.urls``.

An item's outlet is, in order: the RSS/Atom ``<source>`` (Google News), Bing News' ``<News:Source>``, the
feed's own title, the configured feed title.
"""

from __future__ import annotations

import calendar
import hashlib
import heapq
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.domain import Item, SourceKind, domain_of
from monitor.ingest.cleantext import cut, plain_text, strip_tags
from monitor.ingest.fastfeed import BING_SOURCE, bing_source_keys, fast_parse
from monitor.ingest.prolog import strip_doctype, to_ascii_compatible
from monitor.ingest.urls import canonical_url

__all__ = [  # what other modules import from here (the helpers live in their own modules)
    "MAX_ITEMS_PER_DOCUMENT", "MAX_PARSE_BYTES", "ParsedFeed", "canonical_url", "parse_feed", "plain_text",
    "strip_doctype", "strip_tags",
]

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


# ----------------------------------------------------------------------------------------------- text
def _detail_text(entry: Mapping[str, Any], key: str, detail_key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        return ""
    detail = entry.get(detail_key) or {}
    kind = str(detail.get("type", "text/html")) if _is_mapping(detail) else "text/html"
    return plain_text(value, markup="html" in kind)


def _is_mapping(value: Any) -> bool:
    """isinstance(value, Mapping), without the ABC check's cost for the dicts both parsers give."""
    return type(value) is dict or isinstance(value, Mapping)



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
    title = _detail_text(entry, "title", "title_detail")
    over = len(title) > TITLE_CHARS
    title = cut(title, TITLE_CHARS)
    summary = _detail_text(entry, "summary", "summary_detail")
    if not summary:
        contents = entry.get("content") or []
        if contents and _is_mapping(contents[0]):
            kind = str(contents[0].get("type", "text/html"))
            summary = plain_text(str(contents[0].get("value", "")), markup="html" in kind)
    summary = cut(summary, SUMMARY_CHARS)
    raw_link = entry.get("link")
    link = canonical_url(raw_link) if isinstance(raw_link, str) and raw_link.strip() else None
    if link is not None and len(link) > LINK_CHARS:
        link, over = None, True
    if not (title or summary or link):
        return None  # nothing a person could read or follow
    source = entry.get("source")
    outlet = outlet_domain = ""
    if source and _is_mapping(source):
        outlet = plain_text(str(source.get("title", "")), markup=False)
        href = str(source.get("href", ""))
        outlet_domain = domain_of(href) if href.startswith(("http://", "https://")) else ""
    for key in outlet_keys:
        if outlet:
            break
        value = entry.get(key)
        outlet = plain_text(value, markup=False) if isinstance(value, str) else ""
    outlet = cut(outlet or feed_outlet, 200)
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
    if len({draft.base_id for draft in drafts}) == len(drafts):  # the usual case: nothing to group or order
        return [(draft.base_id, draft) for draft in drafts]
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
    return cut(text, 160)


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
    transcoded = to_ascii_compatible(body)
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
    title = _detail_text(feed, "title", "title_detail") or feed_title
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

    if len(entries) <= max_items:  # all of them are the newest (the fast path's entries always are)
        drafts = [draft for _, draft in numbered()]
    else:  # only the newest max_items drafts are ever held (a heap), whatever the document holds
        newest = heapq.nlargest(max_items, numbered(), key=lambda pair: (pair[1].published, -pair[0]))
        drafts = [draft for _, draft in sorted(newest, key=lambda pair: pair[0])]  # document order
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
