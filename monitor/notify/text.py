"""Untrusted text made safe: control characters, ANSI escapes and bidi overrides removed, chat mentions broken,
Markdown escaped, links checked; and text cut to a length. Pure, and light: ``monitor status`` uses
:func:`terminal_safe` without loading the template engine (:mod:`monitor.notify.render` re-exports all of it).

Everything that comes from a feed is untrusted (DESIGN.md invariant 5).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import quote, urlsplit

Format = Literal["text", "markdown", "html"]

LINK_MAX = 2000

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"([@＠])(?=(?:everyone|channel|here|all|room)\b)", re.IGNORECASE)
_SLACK_SPECIAL = re.compile(r"<(?=[!@#])")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&=:\"'])")
_URL_UNSAFE = re.compile(r"[\s\"'<>()\\`{}|^\[\]@]")


def clean_text(text: str, *, single_line: bool = False) -> str:
    """Remove ANSI escape sequences, control characters (keeping newlines and tabs) and bidi overrides.

    With ``single_line`` every run of whitespace becomes one space (titles, headlines, outlet names).
    """
    text = unicodedata.normalize("NFC", _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n"))))
    if single_line:
        return " ".join(text.split())
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def terminal_safe(text: str, *, keep_newlines: bool = True) -> str:
    """Text that cannot drive a terminal: escape sequences and control characters removed.

    Newlines (and tabs) are kept unless ``keep_newlines`` is false, which folds the text onto one line.
    """
    return clean_text(text, single_line=not keep_newlines)


def neutralise_mentions(text: str) -> str:
    """Break chat mentions so they notify nobody.

    ``@everyone`` -> ``@\\u200beveryone``, ``<!here>`` -> ``<\\u200b!here>``, ``<@U123>`` -> ``<\\u200b@U123>``.
    """
    return _SLACK_SPECIAL.sub("<\u200b", _MENTION.sub("\\1\u200b", text))


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 0.8:
        head = head[:space]
    return head.rstrip() + "…"


def escape_markdown(text: str) -> str:
    """Backslash-escape every Markdown-significant ASCII punctuation character (CommonMark allows all of them)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_link(link: str | None) -> str | None:
    """An absolute http(s) URL made safe for a Markdown link or an HTML attribute, else None (javascript:,
    data:, relative, malformed and user-info links are dropped)."""
    if not link:
        return None
    link = link.strip()
    if len(link) > LINK_MAX or _CONTROL.search(link):
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    if "@" in parts.netloc:  # userinfo: "https://reuters.com@evil.example" only looks like Reuters
        return None
    # "@" further on is encoded too: a chat service would read "/@everyone" in a shown URL as a mention
    return _URL_UNSAFE.sub(lambda m: quote(m.group(0), safe=""), link)


def untrusted(text: str | None, fmt: Format, limit: int, *, single_line: bool = True) -> str:
    """Feed text made safe for ``fmt``: cleaned, cut, mentions broken, Markdown-escaped for ``markdown``.

    For ``html`` the result is still raw text: the HTML templates autoescape.
    """
    value = neutralise_mentions(cut(clean_text(text or "", single_line=single_line), limit))
    return escape_markdown(value) if fmt == "markdown" else value
