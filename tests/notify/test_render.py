"""Rendering: what a message says, and that nothing from a feed can script, ping or mangle its reader."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from monitor.config.load import load_settings
from monitor.domain import Confidence, Development, DevelopmentKind, Severity, Source
from monitor.notify.render import (
    BODY_MAX,
    HEADLINE_MAX,
    TITLE_MAX,
    Format,
    check_templates,
    escape_markdown,
    neutralise_mentions,
    render,
    render_digest,
    safe_link,
    story_labels,
    terminal_safe,
)

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
FORMATS: tuple[Format, ...] = ("text", "markdown", "html")
EVIL_HEADLINE = 'Pentagon acts <script>alert("x")</script> <img src=x onerror=alert(1)> @everyone'


def source(
    title: str = "Pentagon designates Anthropic",
    link: str | None = "https://www.reuters.com/a",
    outlet: str = "Reuters",
    minutes: int = 0,
) -> Source:
    return Source(outlet=outlet, title=title, link=link, published=AT - timedelta(minutes=minutes))


def development(**kw: Any) -> Development:
    base: dict[str, Any] = {
        "key": "anthropic-pentagon:designation:designated",
        "kind": DevelopmentKind.THREAD_CHANGE,
        "story_id": "anthropic-pentagon",
        "at": AT,
        "title": "Pentagon designates Anthropic a supply chain risk",
        "severity": Severity.CRITICAL,
        "confidence": Confidence.CONFIRMED,
        "thread_id": "designation",
        "from_state": "threatened",
        "to_state": "designated",
        "summary": "The Defense Secretary signed the designation.",
        "sources": (source(), source("Pentagon labels Anthropic a risk", "https://apnews.com/b", "AP", 5)),
    }
    return Development(**{**base, **kw})


def rendered(dev: Development | None = None, fmt: Format = "text", **kw: Any) -> Any:
    args: dict[str, Any] = {
        "fmt": fmt,
        "story_title": "Pentagon ultimatum to Anthropic",
        "thread_line": "ultimatum: issued · designation: designated · dpa: threatened",
        "countdown": "passed 58 min ago",
        "display_zone": "Europe/Berlin",
        "story_zone": "America/New_York",
        "now": AT + timedelta(minutes=10),
    }
    return render(dev or development(), **{**args, **kw})


class Tags(HTMLParser):
    """Collects the tags and attributes of an HTML body, to prove which markup it really contains."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


ALLOWED_TAGS = {"div", "h2", "p", "strong", "br", "ul", "li", "a"}


def assert_inert_html(html: str) -> None:
    tags = Tags(html)
    assert set(tags.tags) <= ALLOWED_TAGS, tags.tags
    for name, value in tags.attrs:
        assert name in {"href", "style"}, name
        if name == "href":
            assert value is not None and value.startswith(("https://", "http://")), value


# ---------------------------------------------------------------------------------------------- content
def test_message_says_what_moved_in_words_with_confidence_outlets_countdown_and_threads() -> None:
    settings = load_settings(ROOT / "config/monitor.toml", env={})
    labels = story_labels(settings.story("anthropic-pentagon"))
    message = rendered(labels=labels)
    body = message.body
    assert "Supply chain risk designation: designation threatened -> formally designated a supply chain risk" in body
    assert "Confidence: confirmed" in body
    assert "Reuters: Pentagon designates Anthropic" in body and "https://www.reuters.com/a" in body
    assert "AP: Pentagon labels Anthropic a risk" in body and "https://apnews.com/b" in body
    assert "Deadline: passed 58 min ago" in body
    assert "Threads: ultimatum: issued · designation: designated · dpa: threatened" in body
    # the instant in the story's zone and in the reader's
    assert "Fri 27 Feb 2026 18:00 EST" in body and "Sat 28 Feb 2026 00:00 CET" in body
    expected_title = "[CRITICAL] Pentagon ultimatum to Anthropic: Pentagon designates Anthropic a supply chain risk"
    assert message.title == expected_title


def test_without_labels_the_ids_and_detail_titles_are_used() -> None:
    plain = rendered(development(thread_id="dpa", from_state="none", to_state="being_invoked"))
    assert "dpa: none -> being invoked" in plain.body
    titled = rendered(development(details={"thread_title": "DPA", "to_title": "invoked"}))
    assert "DPA: threatened -> invoked" in titled.body


def test_outlets_are_listed_newest_first() -> None:
    body = rendered(development(sources=(source("older", minutes=30), source("newest", minutes=1)))).body
    assert body.index("newest") < body.index("older")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_has_a_plain_text_alternative_with_the_links(fmt: Format) -> None:
    message = rendered(fmt=fmt)
    assert message.format == fmt
    assert "<" not in message.text_body and "**" not in message.text_body
    assert "https://www.reuters.com/a" in message.text_body


def test_markdown_links_and_html_links_point_to_the_source() -> None:
    assert "[Pentagon designates Anthropic](https://www.reuters.com/a)" in rendered(fmt="markdown").body
    html = rendered(fmt="html").body
    assert '<a href="https://www.reuters.com/a">Pentagon designates Anthropic</a>' in html
    assert_inert_html(html)


# ------------------------------------------------------------------------------------------------ safety
def test_html_body_escapes_script_img_and_drops_javascript_links() -> None:
    dev = development(
        title=EVIL_HEADLINE,
        summary="<b>bold</b>\n<iframe src=//evil>",
        sources=(
            source(EVIL_HEADLINE, "javascript:alert(1)"),
            source("ok", "JaVaScRiPt:alert(2)", "X"),
            source("<a href='https://evil.example'>x</a>", "data:text/html,<script>", "Y"),
        ),
    )
    message = rendered(dev, fmt="html")
    assert_inert_html(message.body)
    assert "&lt;script&gt;" in message.body and "&lt;img" in message.body
    assert "javascript:" not in message.body.lower() and "data:text" not in message.body
    # the title is an email subject: plain text on one line, never parsed as HTML by the mail client
    assert "\n" not in message.title and message.title.endswith("@\u200beveryone")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&c=2"),
        ("  http://example.org/x ", "http://example.org/x"),
        ("https://example.org/a_(b)", "https://example.org/a_%28b%29"),  # cannot end a Markdown link early
        ('https://example.org/"onmouseover=x', "https://example.org/%22onmouseover=x"),
        ("https://example.org/<script>", "https://example.org/%3Cscript%3E"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html;base64,PHNjcmlwdD4=", None),
        ("vbscript:msgbox", None),
        ("//example.org/relative", None),
        ("/relative/path", None),
        ("https://", None),
        ("https://exa\x00mple.org", None),
        ("https://www.reuters.com@evil.example/x", None),  # looks like Reuters, goes elsewhere
        ("https://example.org/@everyone", "https://example.org/%40everyone"),
        ("", None),
        (None, None),
    ],
)
def test_only_http_and_https_links_are_kept(link: str | None, expected: str | None) -> None:
    assert safe_link(link) == expected


@pytest.mark.parametrize(
    "mention",
    [
        "@everyone",
        "@channel",
        "@here",
        "@Everyone",
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U123>",
        "＠everyone",
        "<@&987>",
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_chat_mentions_are_neutralised_in_every_format(mention: str, fmt: Format) -> None:
    dev = development(title=f"Breaking {mention} news", sources=(source(f"{mention} look"),))
    message = rendered(dev, fmt=fmt)
    for text in (message.title, message.body, message.text_body):
        assert mention not in text
        assert "\u200b" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @everyone and @here", "hi @\u200beveryone and @\u200bhere"),
        ("<!channel> now", "<\u200b!channel> now"),
        ("mail me at a@everyone.example.org?", "mail me at a@\u200beveryone.example.org?"),
        ("@everyoneelse is fine", "@everyoneelse is fine"),
    ],
)
def test_neutralise_mentions(text: str, expected: str) -> None:
    assert neutralise_mentions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*bold* _it_", r"\*bold\* \_it\_"),
        ("[x](javascript:alert(1))", r"\[x\]\(javascript\:alert\(1\)\)"),
        ("`code` # h", r"\`code\` \# h"),
        ("<b>&amp;", r"\<b\>\&amp;"),
        ("1. item | a ~ b", r"1\. item \| a \~ b"),
        ("back\\slash", r"back\\slash"),
        ("plain words", "plain words"),
    ],
)
def test_markdown_special_characters_are_escaped(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def test_markdown_body_cannot_form_links_or_emphasis_from_feed_text() -> None:
    dev = development(
        title="*Pentagon* [click](https://evil.example) <https://evil.example>",
        sources=(source("[x](javascript:alert(1))", None),),
    )
    body = rendered(dev, fmt="markdown").body
    assert "](https://evil.example)" not in body and "](javascript" not in body
    assert r"\*Pentagon\*" in body
    assert r"\<https\://evil\.example\>" in body


def test_terminal_output_has_no_escape_sequences_or_control_characters() -> None:
    nasty = "Red\x1b[31m alert\x1b]0;owned\x07 \x9b2J bell\x07 back\x08 \u202eevil"
    message = rendered(development(title=nasty, summary=nasty, sources=(source(nasty),)), fmt="text")
    for text in (message.title, message.body):
        assert not any(ord(c) < 32 and c not in "\n\t" for c in text)
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert "Red alert" in message.title
    assert terminal_safe("ok\x1b[2Jline\nnext\r") == "okline\nnext"
    assert terminal_safe("ok\x1b[2Jline\nnext\r", keep_newlines=False) == "okline next"


# ---------------------------------------------------------------------------------------------- lengths
@pytest.mark.parametrize("fmt", FORMATS)
def test_long_texts_are_cut_at_sensible_lengths(fmt: Format) -> None:
    long_word = "Pentagon " * 200
    many = tuple(source(f"{long_word} {i}", f"https://example.org/{i}", f"Outlet {i}", i) for i in range(300))
    message = rendered(development(title=long_word, summary=long_word * 5, sources=many), fmt=fmt)
    assert len(message.title) <= TITLE_MAX and message.title.endswith("…")
    assert len(message.body) <= BODY_MAX and len(message.text_body) <= BODY_MAX
    assert "more" in message.text_body  # the outlets not listed are counted
    first_line = message.text_body.splitlines()[0]
    assert len(first_line) <= HEADLINE_MAX and first_line.endswith("…")
    if fmt == "html":
        assert_inert_html(message.body)


# -------------------------------------------------------------------------------------------- templates
def test_channel_templates_override_title_and_body_and_stay_escaped() -> None:
    dev = development(title=EVIL_HEADLINE)
    html = rendered(dev, fmt="html", templates={"title": "ALERT {{ headline }}", "body": "<p>{{ headline }}</p>"})
    assert html.title.startswith("ALERT Pentagon acts")
    assert html.body.startswith("<p>Pentagon acts &lt;script&gt;")
    assert_inert_html(html.body)
    md = rendered(dev, fmt="markdown", templates={"body": "{{ headline }} / {{ sources[0].link }}"})
    assert md.body.startswith(r"Pentagon acts \<script\>") and md.body.endswith("https://www.reuters.com/a")


def test_a_broken_override_falls_back_to_the_shipped_template_and_is_reported() -> None:
    message = rendered(fmt="markdown", templates={"body": "{{ no_such_variable }}"})
    assert "**Pentagon designates Anthropic a supply chain risk**" in message.body
    assert check_templates({"body": "{{ no_such_variable }}"}, "markdown")
    assert check_templates({"body": "{% if %}"}, "html")
    assert check_templates({"subject": "x"}, "text") == ["templates.subject: unknown template; use 'title' or 'body'"]
    assert check_templates({"title": "{{ headline }}", "body": "{{ summary }}"}, "html") == []


def test_override_templates_run_in_a_sandbox() -> None:
    sneaky = "{{ headline.__class__.__mro__ }}"
    assert check_templates({"body": sneaky}, "text")


# ----------------------------------------------------------------------------------------------- digest
def test_digest_groups_by_story_newest_first() -> None:
    a_old = development(key="a1", title="A older", at=AT - timedelta(hours=3))
    a_new = development(key="a2", title="A newest", at=AT)
    b = development(key="b1", story_id="other", title="B middle", at=AT - timedelta(hours=1))
    for fmt in FORMATS:
        message = render_digest(
            [(a_old, "Story A"), (b, "Story B"), (a_new, "Story A")], fmt=fmt, now=AT, display_zone="UTC"
        )
        body = message.text_body
        assert body.index("Story A") < body.index("A newest") < body.index("A older") < body.index("Story B")
        assert body.index("Story B") < body.index("B middle")
        assert body.count("Story A") == 1
        assert message.title == "Digest: 3 developments in 2 stories"
        if fmt == "html":
            assert_inert_html(message.body)


def test_a_long_digest_is_cut_and_counts_what_it_left_out() -> None:
    devs = [
        (development(key=f"k{i}", title=f"Headline {i} " + "x" * 250, at=AT - timedelta(minutes=i)), "S")
        for i in range(80)
    ]
    message = render_digest(devs, fmt="markdown", now=AT, display_zone="UTC")
    assert len(message.body) <= BODY_MAX
    assert "older developments not shown" in message.body
    assert "Headline 0 " in message.body  # the newest is kept


@pytest.mark.parametrize("fmt", FORMATS)
def test_digest_escapes_feed_text(fmt: Format) -> None:
    dev = replace(development(), title=EVIL_HEADLINE)
    message = render_digest([(dev, "S <b>")], fmt=fmt, now=AT, display_zone="UTC")
    assert "@everyone" not in message.body and "@\u200beveryone" in message.body
    if fmt == "html":
        assert_inert_html(message.body)
        assert "&lt;script&gt;" in message.body and "S &lt;b&gt;" in message.body
    elif fmt == "markdown":
        assert re.search(r"(?<!\\)<", message.body) is None  # every < from the feed is backslash-escaped
    else:
        assert "S <b>" in message.body  # plain text shows the text as it is: nothing interprets it
