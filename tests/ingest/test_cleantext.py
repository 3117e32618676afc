"""Text cleaning: the fast passes against the general ones, on generated markup (the answer must not change)."""

from __future__ import annotations

import html
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.ingest.cleantext import _strip_plain_tags, _strip_tags_general, plain_text, strip_tags

PIECES = st.sampled_from([
    "<p>", "</p>", "<P class=x>", "<br/>", "<BR>", "<b>", "</B>", "<a href=\"x>y\">", "<pre>", "<pé>", "<img src=x>",
    "<script>", "</script>", "<SCRIPT>", "<style>", "</style >", "<myscript>", "<", ">", "<>", "</>", "<//p>",
    "< p>", "<blockquote>", "<blockquotex>", "<h1>", "<li>", "<divx>", "<a <p>", "\u0130", "\u212a",
    "<bloc\u212aquote>",
    "&amp;", "&lt;p&gt;", "&#x41;", "&bogus;", "&", "word", "Word", " ", "  ", "\n", "\t", "\u00a0", "\u200b",
    "\x00", "\x85", "\ufeff", "é", "text", "a.", "\u2028",
])
MARKUP = st.lists(PIECES, max_size=30).map("".join)

_OLD_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_OLD_SPACE = re.compile(r"\s+")


def old_plain_text(value: str, *, markup: bool = True) -> str:
    """plain_text as it was before its fast passes (commit 39c7ac7), over the general tag loop."""
    if markup:
        value = html.unescape(_strip_tags_general(value, value.lower()))
    return _OLD_SPACE.sub(" ", _OLD_CONTROL.sub("", value)).strip()


@settings(max_examples=4000, deadline=None)
@given(MARKUP)
@example("<p>Been consulted. <a href=\"https://x.example/a\">Read more</a></p><p>Review <b>plan.</b></p>")
def test_strip_tags_is_the_general_loop(value: str) -> None:
    assert strip_tags(value) == _strip_tags_general(value, value.lower())


@settings(max_examples=4000, deadline=None)
@given(MARKUP, st.booleans())
def test_plain_text_is_what_it_was(value: str, markup: bool) -> None:
    assert plain_text(value, markup=markup) == old_plain_text(value, markup=markup)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_plain_text_is_what_it_was_on_any_text(value: str) -> None:
    assert plain_text(value) == old_plain_text(value)
    assert plain_text(value, markup=False) == old_plain_text(value, markup=False)


def test_the_split_pass_takes_usual_markup_and_leaves_raw_text_tags_to_the_loop() -> None:
    usual = "<p>One <a href=\"https://x.example/\">two</a></p><P>three <B>four</B><br/>five"
    assert _strip_plain_tags(usual) == " One two  three four five"
    assert _strip_plain_tags("a<script>b</script>c") is None
    assert strip_tags("a<script>b</script>c") == "a c"
