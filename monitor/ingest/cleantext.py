"""Feed text -> plain text: markup removed, entities decoded, control characters removed, whitespace folded.

Pure and linear in the input whatever it holds: a feed's text is written by an attacker, so no pattern here
rescans (``tests/benchmarks/text_bench.py`` checks the growth on unclosed tags, ``<script>`` runs and the like).
Text with no markup skips the tag pass; markup with no ``<script>``/``<style>`` goes through one regex split
(``_strip_plain_tags``), the rest through the general loop (``_strip_tags_general``); the two must agree
(``tests/ingest/test_cleantext.py`` checks them against each other on generated markup).
"""

from __future__ import annotations

import html
import re
from itertools import repeat

# Block-level tags separate words; inline ones (<b>, <a>, <em>) do not: "<em>Friday</em>." stays "Friday."
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table",
     "blockquote", "section", "article", "hr", "img"}
)
_RAW_TEXT_TAGS = ("script", "style")  # their content is code, not text: dropped with the tags
_SPACES = re.compile("  +")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def plain_text(value: str, *, markup: bool = True) -> str:
    """Markup removed, entities decoded, control characters removed, whitespace folded. Linear in the input."""
    if markup:
        if "<" in value:
            value = strip_tags(value)
        if "&" in value:
            value = html.unescape(value)
    if value.isprintable():  # no character _CONTROL removes, no whitespace but " " (every code point checked)
        return _SPACES.sub(" ", value).strip(" ") if "  " in value else value.strip(" ")
    # str.split() and the regex \s agree on what whitespace is (every code point checked), so this is
    # re.sub(r"\s+", " ", value).strip() in one C call.
    return " ".join(_CONTROL.sub("", value).split())


def strip_tags(value: str) -> str:
    """Remove tags in one left-to-right pass (no pattern that rescans: a feed's text is written by an attacker).

    A tag is ``<`` up to the next ``>``; block-level tags become a space, inline ones nothing; ``<script>`` and
    ``<style>`` are dropped with their content up to the closing tag. A ``<`` with no ``>`` after it, and
    everything after it, is kept as text. Every search moves forward, and a search that fails is not repeated,
    so the cost is linear in ``len(value)`` whatever the input (unclosed tags, runs of ``<script>``)."""
    # Tag names are compared lower-cased. Only U+0130 and U+212A lower-case into ASCII (every code point
    # checked): without them, lower-casing a name taken from ``value`` is the same comparison.
    if "\u0130" in value or "\u212a" in value:
        return _strip_tags_general(value, value.lower())
    plain = _strip_plain_tags(value)
    return _strip_tags_general(value, value.lower()) if plain is None else plain


# A tag: "<", (group 1) an optional "/" and the tag's name (its run of alphanumerics: str.isalnum, which is the
# regex [^\W_]), then anything up to the next ">".
_TAG = re.compile(r"<(/?[^\W_]*)[^>]*>")
_SEPARATOR = {slash + name: " " for name in _BLOCK_TAGS for slash in ("", "/")}
# Names feeds write most, lower-case, with their separators (none is a raw-text tag).
_KNOWN = _SEPARATOR | {
    slash + name: "" for name in ("a", "b", "i", "u", "em", "strong", "span", "font", "small", "sup", "sub", "")
    for slash in ("", "/")
}


def _strip_plain_tags(value: str) -> str | None:
    """``strip_tags`` by one regex split, or None when ``value`` holds a raw-text tag (the general loop's job).

    Only the part up to the last ">" is split at tags: every "<" before it has a ">" after it, so each match
    attempt succeeds at the nearest ">" and the scan is linear; a "<" after it opens no tag (text). Until a
    raw-text tag, the general loop finds the same tags, so when none of these is one the answers agree."""
    last = value.rfind(">")
    if last < 0:
        return value
    pieces = _TAG.split(value[: last + 1])  # text, name, text, name, ..., text
    if len(pieces) == 1:
        return value
    separators = list(map(_KNOWN.get, pieces[1::2]))  # the usual names, as written: block " ", inline ""
    if None in separators:
        names = " ".join(pieces[1::2]).lower()  # names hold no space: one lower() for all
        if "script" in names or "style" in names:  # (a "<myscript>" lands here too: the loop is right as well)
            return None
        separators = list(map(_SEPARATOR.get, names.split(" "), repeat("")))
    pieces[1::2] = separators
    pieces.append(value[last + 1 :])
    return "".join(pieces)


def _strip_tags_general(value: str, lower: str) -> str:
    """``strip_tags`` for any text; ``lower`` is ``value.lower()``, whose indexes it takes as ``value``'s (as it
    always has, even where lower-casing changes the length: U+0130)."""
    out: list[str] = []
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


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters (plus an ellipsis), cut at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut_text = text[:limit].rsplit(" ", 1)[0] if " " in text[limit // 2 : limit] else text[:limit]
    return cut_text.rstrip() + "…"
