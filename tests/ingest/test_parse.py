"""parse_feed and canonical_url: identity, text, dates, hostile documents. Pure functions, no network."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.domain import SourceKind
from monitor.ingest.fastfeed import fast_parse, is_bing_namespace
from monitor.ingest.parse import ParsedFeed, canonical_url, parse_feed, plain_text, strip_doctype

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
NOW = datetime(2026, 2, 26, 12, 0, tzinfo=UTC)
RSS_HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def parse(body: bytes, headers: dict[str, str] | None = None, **kwargs: object) -> ParsedFeed:
    return parse_feed(
        body,
        RSS_HEADERS if headers is None else headers,
        feed_id="f",
        source_kind=SourceKind.ORDINARY,
        fetched_at=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def rss(*items: str, title: str = "Feed") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://feed.example.com/</link>{''.join(items)}</channel></rss>"
    ).encode()


def item(title: str = "T", link: str | None = None, guid: str | None = None, date: str | None = None) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


# ------------------------------------------------------------------------------------------ canonical_url
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.COM/a?utm_source=x&id=3&utm_campaign=y", "https://example.com/a?id=3"),
        ("https://example.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&msclkid=5", "https://example.com/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/2026/02/story/amp/", "https://example.com/2026/02/story/"),
        ("https://example.com/amp/2026/02/story", "https://example.com/2026/02/story"),
        ("https://example.com/story.amp.html", "https://example.com/story.html"),
        ("https://example.com/story?amp", "https://example.com/story"),
        ("https://amp.theguardian.com/world/2026/feb/24/x", "https://theguardian.com/world/2026/feb/24/x"),
        ("https://www.google.com/amp/s/www.bbc.co.uk/news/x.amp", "https://www.bbc.co.uk/news/x"),
        ("https://www-ex-com.cdn.ampproject.org/c/s/www.ex.com/story/amp", "https://www.ex.com/story"),
        ("https://news.google.com/rss/articles/CBMiAB?oc=5", "https://news.google.com/rss/articles/CBMiAB?oc=5"),
        ("  https://example.com/keep?b=2&a=1  ", "https://example.com/keep?b=2&a=1"),
        ("mailto:desk@example.com", "mailto:desk@example.com"),
        ("not a url", "not a url"),
        ("https://example.com:99999/bad-port", "https://example.com:99999/bad-port"),
    ],
)
def test_canonical_url_removes_tracking_amp_fragment_and_host_case(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>Hello&nbsp;<b>world</b></p>", "Hello world"),
        ("a\x00b\x1bc\u202ed", "abcd"),
        ("  many \n\t spaces  ", "many spaces"),
        ("<script>evil()</script>kept", "kept"),
        ("&lt;not a tag&gt; &amp; more", "<not a tag> & more"),
    ],
)
def test_plain_text_strips_markup_entities_controls_and_folds_space(raw: str, expected: str) -> None:
    assert plain_text(raw) == expected


# ----------------------------------------------------------------------------------------- ordinary feeds
def test_rss_items_have_plain_text_canonical_links_and_utc_dates() -> None:
    parsed = parse((FEEDS / "rss_basic.xml").read_bytes())
    assert parsed.is_feed and parsed.error is None and parsed.warning is None
    assert parsed.title == "Defense Desk"
    first, second = parsed.items
    assert first.item_id == "defense-desk-1001"
    assert first.title == "Pentagon sets Friday deadline for Anthropic & others"
    assert first.summary == "The Defense Secretary gave Anthropic until Friday."
    assert first.link == "https://defense.example.com/2026/02/24/deadline/?id=7"
    assert first.published == datetime(2026, 2, 24, 20, 30, tzinfo=UTC)
    assert first.outlet == "Defense Desk" and first.feed_id == "f" and first.fetched_at == NOW
    assert second.item_id == "https://defense.example.com/2026/02/25/answer/"


def test_atom_entries_use_updated_when_no_published_and_resolve_relative_links() -> None:
    parsed = parse((FEEDS / "atom_basic.xml").read_bytes(), {}, base_url="https://techwire.example.org/feed")
    first, second = parsed.items
    assert first.title == "Anthropic & the Pentagon: what supply chain risk means"
    assert first.link == "https://techwire.example.org/2026/02/25/explainer/"
    assert first.published == datetime(2026, 2, 25, 10, 0, tzinfo=UTC)
    assert second.link == "https://techwire.example.org/2026/02/25/relative/"
    assert second.summary == "Body text"


def test_google_news_items_take_outlet_from_source_and_key_by_article_id_and_outlet() -> None:
    parsed = parse((FEEDS / "gnews.xml").read_bytes())
    reuters, ap = parsed.items
    assert (reuters.outlet, ap.outlet) == ("Reuters", "AP News")
    assert reuters.link == "https://news.google.com/rss/articles/CBMiWkFVX3lxTE1hYmNkZWY?oc=5"
    assert reuters.item_id == "gnews:CBMiWkFVX3lxTE1hYmNkZWY|reuters"
    assert ap.item_id == "gnews:CBMiWkFVX3lxTE1hYmNkZWY|ap news"


def test_outlet_falls_back_to_feed_title_then_to_the_given_title() -> None:
    with_title = parse(rss(item(link="https://a.example/1"), title="Own Title"), feed_title="Config")
    without = parse(rss(item(link="https://a.example/1"), title=""), feed_title="Config")
    assert with_title.items[0].outlet == "Own Title"
    assert without.items[0].outlet == "Config"


# -------------------------------------------------------------------------------------------- dates
def test_item_without_dates_is_published_at_fetch_time() -> None:
    parsed = parse(rss(item(link="https://a.example/1")))
    assert parsed.items[0].published == NOW


def test_future_date_is_clamped_to_fetch_time() -> None:
    parsed = parse(rss(item(link="https://a.example/1", date="Fri, 01 Jan 2027 00:00:00 GMT")))
    assert parsed.items[0].published == NOW


def test_unreadable_date_falls_back_to_fetch_time_without_losing_the_item() -> None:
    parsed = parse(rss(item(link="https://a.example/1", date="sometime next week")))
    assert [i.published for i in parsed.items] == [NOW]


# ----------------------------------------------------------------------------------------------- identity
def test_item_without_guid_or_link_gets_a_hash_id_stable_across_polls() -> None:
    body = rss(item(title="No identity", date="Tue, 24 Feb 2026 10:00:00 GMT"))
    first = parse(body).items[0]
    later = parse_feed(body, RSS_HEADERS, feed_id="f", source_kind=SourceKind.ORDINARY, fetched_at=NOW + timedelta(1))
    assert first.item_id.startswith("sha256:") and first.link is None
    assert first.item_id == later.items[0].item_id


def test_item_without_guid_is_identified_by_its_canonical_link() -> None:
    a = parse(rss(item(link="https://a.example/x?utm_source=rss"))).items[0]
    b = parse(rss(item(link="https://a.example/x?utm_source=email#top"))).items[0]
    assert a.item_id == b.item_id == "https://a.example/x"


def test_duplicate_entries_within_one_document_appear_once() -> None:
    same = item(title="Same", link="https://a.example/1", guid="g1")
    parsed = parse(rss(same, same, item(title="Other", link="https://a.example/2", guid="g2")))
    assert [i.item_id for i in parsed.items] == ["g1", "g2"]


def test_guid_reused_for_different_links_keeps_every_item_with_order_independent_ids() -> None:
    old = item(title="Old", link="https://a.example/old", guid="g", date="Mon, 23 Feb 2026 10:00:00 GMT")
    new = item(title="New", link="https://a.example/new", guid="g", date="Tue, 24 Feb 2026 10:00:00 GMT")
    forward = {i.title: i.item_id for i in parse(rss(old, new)).items}
    backward = {i.title: i.item_id for i in parse(rss(new, old)).items}
    assert forward == backward
    assert forward["Old"] == "g" and forward["New"].startswith("g#")


def test_changing_guid_for_the_same_link_keeps_the_same_canonical_link() -> None:
    poll1 = parse(rss(item(link="https://a.example/story?utm_source=a", guid="v1"))).items[0]
    poll2 = parse(rss(item(link="https://a.example/story?utm_source=b", guid="v2"))).items[0]
    # The ids follow the guid (as specified); the canonical link is what lets the store match them.
    assert (poll1.item_id, poll2.item_id) == ("v1", "v2")
    assert poll1.link == poll2.link == "https://a.example/story"


def test_every_item_id_is_unique_within_a_document() -> None:
    entries = [item(title=f"t{i % 3}", link=f"https://a.example/{i % 4}", guid=f"g{i % 2}") for i in range(24)]
    ids = [i.item_id for i in parse(rss(*entries)).items]
    assert len(ids) == len(set(ids)) == 12  # 12 distinct (guid, link, title) combinations


def test_summary_is_cut_to_about_two_thousand_characters() -> None:
    body = rss(
        f"<item><title>t</title><link>https://a.example/1</link><description>{'word ' * 2000}</description></item>"
    )
    summary = parse(body).items[0].summary
    assert 1000 < len(summary) <= 2001 and summary.endswith("…")


# ----------------------------------------------------------------------------------------- not feeds
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "not a feed: empty body"),
        (b"  \n ", "not a feed: empty body"),
        ((FEEDS / "html_page.html").read_bytes(), "not a feed: looks like HTML"),
        (b'{"items": []}', "not a feed: looks like JSON"),
        (b"plain words, nothing more", "not a feed: no RSS or Atom document found"),
    ],
)
def test_documents_that_are_not_feeds_are_reported_as_such(body: bytes, error: str) -> None:
    parsed = parse(body, {"content-type": "text/html"})
    assert (parsed.is_feed, parsed.items, parsed.error) == (False, (), error)


def test_invalid_utf8_is_a_warning_and_items_survive_without_control_characters() -> None:
    body = rss(item(title="Bad \xff\xfe bytes \x01 here", link="https://a.example/1")).replace(
        "\xff\xfe".encode(), b"\xff\xfe"
    )
    parsed = parse(body)
    assert parsed.is_feed and len(parsed.items) == 1
    assert parsed.items[0].title.startswith("Bad") and "\x01" not in parsed.items[0].title


def test_utf16_feed_is_read() -> None:
    body = rss(item(title="Ünïcode", link="https://a.example/1")).decode().replace("utf-8", "utf-16")
    parsed = parse(body.encode("utf-16"), {"content-type": "application/xml"})
    assert [i.title for i in parsed.items] == ["Ünïcode"]


# ---------------------------------------------------------------------------------------- hostile input
def _timed(body: bytes) -> tuple[ParsedFeed, float, int]:
    parse(rss(item(link="https://warm.example/")))  # import and warm feedparser outside the measurement
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        parsed = parse(body)
        return parsed, time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_billion_laughs_is_parsed_fast_in_bounded_memory_without_expansion() -> None:
    parsed, seconds, peak = _timed((FEEDS / "billion_laughs.xml").read_bytes())
    assert seconds < 0.5 and peak < 20 * 2**20
    assert [i.title for i in parsed.items] == ["Harmless headline"]
    assert "lol" not in parsed.items[0].summary


def test_quadratic_blowup_is_parsed_fast_in_bounded_memory() -> None:
    entity = b"A" * 100_000
    refs = b"&a;" * 30_000  # would expand to 3 GB
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + entity + b'">\n]>\n<rss version="2.0"><channel>'
        b"<title>Q</title><item><title>Quad</title><link>https://q.example/1</link><description>"
        + refs
        + b"</description></item></channel></rss>"
    )
    parsed, seconds, peak = _timed(body)
    assert seconds < 0.5 and peak < 50 * 2**20
    assert [(i.title, i.summary) for i in parsed.items] == [("Quad", "")]


def test_external_entity_is_never_resolved() -> None:
    parsed, seconds, _ = _timed((FEEDS / "external_entity.xml").read_bytes())
    assert [i.title for i in parsed.items] == ["Before after"]
    assert "root:" not in parsed.items[0].summary and seconds < 0.5


def test_harmless_single_character_entities_in_a_doctype_still_work() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY co "Co">]>\n'
        b'<rss version="2.0"><channel><title>E</title><item><title>A&nbsp;B &co;</title>'
        b"<link>https://e.example/1</link></item></channel></rss>"
    )
    assert strip_doctype(body).count(b"<!ENTITY") == 2
    assert [i.title for i in parse(body).items] == ["A B Co"]


def test_fifty_item_feed_parses_in_a_few_milliseconds() -> None:
    entries = [
        item(
            title=f"Story {n} &amp; more",
            link=f"https://a.example/{n}?utm_source=x",
            guid=f"id-{n}",
            date="Tue, 24 Feb 2026 10:00:00 GMT",
        )
        for n in range(50)
    ]
    body = rss(*entries)
    parse(body)
    t0 = time.perf_counter()
    for _ in range(10):
        assert len(parse(body).items) == 50
    assert (time.perf_counter() - t0) / 10 < 0.05  # a few ms on a quiet machine; generous for CI


# ------------------------------------------------------------------------------------ fast path vs feedparser
def _key(parsed: ParsedFeed) -> tuple[object, ...]:
    return parsed.title, [(i.item_id, i.title, i.summary, i.link, i.outlet, i.published) for i in parsed.items]


@pytest.mark.parametrize("name", ["rss_basic.xml", "atom_basic.xml", "gnews.xml"])
def test_fast_path_gives_exactly_what_feedparser_gives_on_ordinary_feeds(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    fast = parse(body, base_url="https://base.example/feed")
    slow = parse(body, base_url="https://base.example/feed", fast=False)
    assert fast.items and _key(fast) == _key(slow)


def test_fast_path_declines_what_it_does_not_understand_and_feedparser_handles_it() -> None:
    xhtml = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>X</title><entry><id>e1</id>'
        b'<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Rich <b>title</b></div></title></entry></feed>'
    )
    latin1 = rss(item(title="caf\xe9", link="https://a.example/1")).replace(b"utf-8", b"iso-8859-1")
    latin1 = latin1.replace("caf\xe9".encode(), "caf\xe9".encode("latin-1"))
    assert [i.title for i in parse(xhtml, {}).items] == ["Rich title"]
    assert [i.title for i in parse(latin1, {}).items] == ["caf\xe9"]


# ------------------------------------------------------------------------------------- aggregators' outlets
# Shaped like a real Bing News RSS response: the namespace is the search URL itself (with :443), links are
# Bing's apiclick redirector, the outlet is only in <News:Source>, and there is no <guid>.
BING_NS = "https://www.bing.com:443/news/search?q=Anthropic+Pentagon&amp;format=rss"


def bing(*sources: str, prefix: str = "News", namespace: str = BING_NS, extra: str = "") -> bytes:
    items = "".join(
        f"<item><title>Pentagon deadline for Anthropic {n}</title>"
        f"<link>http://www.bing.com/news/apiclick.aspx?ref=FexRss&amp;aid=&amp;tid=a{n}&amp;url=https%3a%2f%2f"
        f"outlet{n}.example%2fstory&amp;c=1&amp;mkt=en-us</link><description>Copy {n}</description>"
        f"<pubDate>Tue, 24 Feb 2026 21:0{n}:00 GMT</pubDate><{prefix}:Source>{source}</{prefix}:Source>"
        f"<{prefix}:Image>http://www.bing.com/th?id=OVF.{n}&amp;pid=News</{prefix}:Image>{extra}</item>"
        for n, source in enumerate(sources)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8" ?><rss version="2.0" xmlns:{prefix}="{namespace}"><channel>'
        f"<title>Anthropic Pentagon - BingNews</title><link>https://www.bing.com/news/search?q=x</link>{items}"
        "</channel></rss>"
    ).encode()


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    ("prefix", "namespace"),
    [
        ("News", BING_NS),
        ("news", "https://www.bing.com/news/search?format=RSS"),
        ("bn", "http://bing.com/news"),
    ],
)
def test_bing_items_take_their_outlet_from_news_source_on_both_paths(prefix: str, namespace: str, fast: bool) -> None:
    parsed = parse(bing("Reuters", "AP News &amp; Wire", prefix=prefix, namespace=namespace), fast=fast)
    assert [i.outlet for i in parsed.items] == ["Reuters", "AP News & Wire"]


def test_bing_feed_takes_the_fast_path_and_it_agrees_with_feedparser() -> None:
    body = bing("Reuters", "Politico")
    assert fast_parse(body, RSS_HEADERS, "") is not None
    assert _key(parse(body)) == _key(parse(body, fast=False))


def test_bing_outlet_is_read_when_feedparser_has_to_recover_a_malformed_feed() -> None:
    parsed = parse(bing("Reuters", extra="<broken>"))
    assert parsed.warning is not None  # the loose parser did the work
    assert [i.outlet for i in parsed.items] == ["Reuters"]


@pytest.mark.parametrize("fast", [True, False])
def test_a_source_element_of_another_namespace_is_not_taken_for_the_outlet(fast: bool) -> None:
    parsed = parse(bing("Not an outlet", namespace="https://example.com/news/search"), fast=fast)
    assert [i.outlet for i in parsed.items] == ["Anthropic Pentagon - BingNews"]


@pytest.mark.parametrize("fast", [True, False])
def test_rss_source_element_wins_over_news_source(fast: bool) -> None:
    parsed = parse(bing("Bing Name", extra='<source url="https://www.reuters.com">Reuters</source>'), fast=fast)
    assert [i.outlet for i in parsed.items] == ["Reuters"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://www.bing.com:443/news/search?q=a&format=rss", True),
        ("http://bing.com/news", True),
        (" https://WWW.BING.COM/news ", True),
        ("https://notbing.com/news", False),
        ("https://bing.com.evil.example/news", False),
        ("http://search.yahoo.com/mrss/", False),
        ("http://[bing.com/unclosed-ipv6", False),
        ("", False),
    ],
)
def test_bing_namespace_is_any_uri_on_bing_com(uri: str, expected: bool) -> None:
    assert is_bing_namespace(uri) is expected


def test_aggregator_items_get_one_outlet_key_per_source_not_the_aggregator_domain() -> None:
    google = parse((FEEDS / "gnews.xml").read_bytes()).items
    bing_body = bing("Reuters", "Politico").replace(b"outlet0.example", b"www.reuters.com").replace(
        b"outlet1.example", b"www.politico.com"
    )
    bing_items = parse(bing_body).items
    # Google News: the key follows the item's <source url>, not news.google.com.
    assert [(i.outlet, i.outlet_key) for i in google] == [("Reuters", "reuters.com"), ("AP News", "apnews.com")]
    # Bing: the click tracker is unwrapped, so the key is the publisher's domain.
    assert [i.outlet_key for i in bing_items] == ["reuters.com", "politico.com"]
    # The same outlet through two aggregators is one outlet (no false corroboration).
    assert google[0].outlet_key == bing_items[0].outlet_key


def test_bing_click_tracker_links_unwrap_to_the_publisher_url() -> None:
    wrapped = (
        "https://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=6F1B2C&url="
        "https%3a%2f%2fwww.reuters.com%2fworld%2fus%2fstory-2026-02-27%2f%3futm_source%3drss&c=123&mkt=en-us"
    )
    again = wrapped.replace("tid=6F1B2C", "tid=99AA01").replace("c=123", "c=456")
    assert canonical_url(wrapped) == "https://www.reuters.com/world/us/story-2026-02-27/"
    assert canonical_url(again) == canonical_url(wrapped)  # stable item id across fetches


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<" * 1000 + "tail", "<" * 1000 + "tail"),  # no ">" anywhere: the text stays, read once
        ("<script>" * 1000 + "after", "after"),  # unclosed scripts: the tags go, nothing is rescanned
        ("a <p" * 1000, "a <p" * 1000),  # unterminated tags: kept as text from the first one on
        ("<div><b>" * 500 + "deep" + "</b></div>" * 500, "deep"),
        ("x<script>var a = '<p>';</script>y<style>p{}</style>z", "x y z"),
        ("<P CLASS=x>Friday<EM>.</EM></P>", "Friday."),
    ],
    ids=["unclosed", "script runs", "unterminated", "nesting", "raw text", "upper case"],
)
def test_hostile_markup_is_cleaned_in_one_pass_with_the_expected_text(text: str, expected: str) -> None:
    from monitor.ingest.parse import plain_text

    assert plain_text(text) == expected


@pytest.mark.parametrize("fast", [True, False])
def test_a_document_over_the_item_cap_keeps_the_newest_items_and_says_so(fast: bool) -> None:
    base = datetime(2026, 2, 1, tzinfo=UTC)
    dates = [(base + timedelta(minutes=7 * ((n * 37) % 250))) for n in range(250)]  # shuffled order
    body = rss(*(item(f"Story {n}", f"https://e.test/{n}", date=d.strftime("%a, %d %b %Y %H:%M:%S +0000"))
                 for n, d in enumerate(dates)))
    parsed = parse(body, fast=fast)
    assert len(parsed.items) == 200
    assert min(i.published for i in parsed.items) == sorted(dates)[50]  # the 50 oldest were left out
    assert [i.title for i in parsed.items] == [f"Story {n}" for n, d in enumerate(dates) if d >= sorted(dates)[50]]
    assert parsed.notes == ("250 items in the document, over the cap of 200: read the newest 200",)


def test_a_title_or_link_over_its_cap_is_cut_and_noted() -> None:
    parsed = parse(rss(item("A" * 5000, "https://e.test/" + "p" * 5000), item("Fine", "https://e.test/ok")))
    long, fine = parsed.items
    assert len(long.title) <= 501 and long.link is None and fine.link == "https://e.test/ok"
    assert parsed.notes == ("1 item(s) with a title over 500 or a link over 2048 characters: cut",)
