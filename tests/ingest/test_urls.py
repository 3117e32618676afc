"""canonical_url's fast path against its general path, and join against urljoin, on generated links."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.ingest.urls import canonical_fast, canonical_general, canonical_url, join

# Pieces chosen to meet every rule of the general path: tracking keys in any case, AMP paths and hosts, Google,
# Bing and AMP-cache hosts, ports, credentials, percent escapes, "+", blank fields, fragments, odd characters.
SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "", "http:/", "javascript"])
HOSTS = st.sampled_from([
    "example.com", "Example.COM", "www.example.com", "amp.example.com", "amp.com", "news.google.com",
    "www.google.com", "google.co.uk", "x.cdn.ampproject.org", "www.bing.com", "notbing.com", "a-b.c0", ".",
    "127.0.0.1", "[::1]", "[zz", "h\u00e9.fr", "user:pw@example.com", "example.com:80", "example.com:8080",
    "example.com:443", "example.com:99999", "ex ample.com", "", "xn--bcher-kva.ch",
])
SEGMENTS = st.sampled_from([
    "a", "amp", "AMP", "x.amp", "page.amp.html", "articles", "rss", "s", "news", "apiclick.aspx", "2026", "",
    "%20", "a;b", "\u00e9", "b c", "a\tb", "~x", "x.html", "(1)", "!$'*,", "@", ":",
])
KEYS = st.sampled_from([
    "utm_source", "UTM_Medium", "utm_", "utm", "fbclid", "FBCLID", "amp", "ocid", "id", "q", "a+b", "", "url",
    "x%20y", "k~", "utm_x%41", "__twitter_impression", "s_cid",
])
VALUES = st.sampled_from(["", "1", "rss", "a+b", "%41", "a=b", "x y", "https://example.org/p?q=1", "\u00e9", "~._-"])


@st.composite
def links(draw: st.DrawFn) -> str:
    scheme, host = draw(SCHEMES), draw(HOSTS)
    path = "".join("/" + s for s in draw(st.lists(SEGMENTS, max_size=4)))
    fields = draw(st.lists(st.tuples(KEYS, st.sampled_from(["=", ""]), VALUES), max_size=4))
    query = "&".join(k + eq + (v if eq else "") for k, eq, v in fields)
    separator = draw(st.sampled_from(["?", "", "?&", "??"]))
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?b", "#\u00e9 x"]))
    pad = draw(st.sampled_from(["", " ", "\n", "\t"]))
    return f"{pad}{scheme}://{host}{path}{separator if query or separator == '?' else ''}{query}{fragment}{pad}"


PLAIN = st.text("abAB09_.~+-", max_size=6)


@st.composite
def plain_links(draw: st.DrawFn) -> str:
    """Links near the fast path's edge: plain pieces, tracking keys in any case, blank and empty fields."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(st.sampled_from(["example.com", "EXAMPLE.org", "a.b-c.d", "amp.x.y", "bing.com", "x.google.de"]))
    path = "".join("/" + s for s in draw(st.lists(st.one_of(PLAIN, SEGMENTS), max_size=3)))
    keys = st.one_of(PLAIN, KEYS, st.sampled_from(["UTM_A", "Fbclid", "gclid", "uTm_z+", "ampx", "amp+"]))
    fields = draw(st.lists(st.tuples(keys, st.sampled_from(["=", ""]), st.one_of(PLAIN, VALUES)), max_size=5))
    query = "&".join(k + eq + (v if eq else "") for k, eq, v in fields)
    fragment = draw(st.sampled_from(["", "#", "#x"]))
    return f"{scheme}://{host}{path}{'?' if query else ''}{query}{fragment}"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(links(), plain_links()))
@example("https://news0.example.com/tech/2026/12/a-b-0x3?utm_source=rss&utm_medium=feed")
@example("http://Example.com?a&b=&&c=d#x")
def test_the_fast_path_gives_what_the_general_path_gives_or_declines(url: str) -> None:
    stripped = url.strip()
    fast = canonical_fast(stripped)
    if fast is not None:
        assert fast == canonical_general(stripped)
    assert canonical_url(url) == canonical_general(stripped)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news0.example.com/tech/2026/12/a-0x3?utm_source=rss&utm_medium=feed", "https://news0.example.com/tech/2026/12/a-0x3"),
        ("HTTP://WWW.Example.com?b=2&fbclid=x&a&utm_x=1#top", "http://www.example.com/?b=2&a="),
        ("https://example.com/path/to/story.html", "https://example.com/path/to/story.html"),
        ("https://example.com/p?id=12&page=2", "https://example.com/p?id=12&page=2"),
    ],
)
def test_the_fast_path_takes_the_usual_feed_links(url: str, expected: str) -> None:
    """So the property above compares something: typical feed links do take the fast path."""
    assert canonical_fast(url) == expected == canonical_general(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://amp.example.com/a", "https://example.com/amp/a", "https://www.google.com/amp/s/example.com/a",
        "https://news.google.com/rss/articles/CBMi?oc=5", "https://www.bing.com/news/apiclick.aspx?url=x",
        "https://example.com:8080/a", "https://example.com/a?q=%41", "https://example.com/a b",
    ],
)
def test_the_fast_path_declines_what_a_special_rule_could_touch(url: str) -> None:
    assert canonical_fast(url) is None


BASES = st.sampled_from([
    "http://127.0.0.1:8080/feeds/1.xml", "https://example.com/a/b/", "https://example.com", "ftp://x/", "",
    "http://[zz/", "http://[::1]/x",
])
LINKS = st.one_of(
    links(),
    st.sampled_from(["/rel", "rel/x", "../up", "//cdn.example.com/x", "?q=1", "#f", "http://a.b/x;p?q#f",
                     "https://example.com/?", "https://example.com/#", "http://example.com/a/./b"]),
)


@settings(max_examples=2000, deadline=None)
@given(BASES, LINKS)
def test_join_is_urljoin(base: str, link: str) -> None:
    try:
        expected: str | type[ValueError] = urljoin(base, link)
    except ValueError:
        expected = ValueError
    try:
        got: str | type[ValueError] = join(base, link)
    except ValueError:
        got = ValueError
    assert got == expected
