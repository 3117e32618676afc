"""Development -> message text per format (plain text, Markdown for chat, HTML email). Pure: no I/O, no clock.

Everything that comes from a feed is untrusted (DESIGN.md invariant 5). Before it reaches a template it is
cleaned (control characters, ANSI escapes and bidi overrides removed), cut to a sensible length, and chat
mentions (``@everyone``, ``@channel``, ``@here``, ``<!channel>``, ``<@id>``) are broken with a zero-width space.
Then it is escaped for the format: HTML by Jinja2's autoescaping, Markdown by backslash-escaping its punctuation
in Python (the Markdown and text templates do not autoescape). Links are kept only when they are absolute http or
https URLs, with characters that could end a Markdown link or an attribute percent-encoded.

Templates live in ``monitor/notify/templates`` (``title.j2``, ``body.<fmt>.j2``, ``digest.<fmt>.j2``) and a channel may
override ``title`` and ``body`` with its own template strings (rendered in a sandbox, same escaped context). The text
safety is :mod:`monitor.notify.text`; the Jinja2 sandbox, loaded on first use, :mod:`monitor.notify.sandbox`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.domain import Development, DevelopmentKind, Severity, Source
from monitor.durations import format_duration
from monitor.notify.sandbox import override_problems
from monitor.notify.sandbox import render_template as _render
from monitor.notify.text import (  # re-exported: callers import the text helpers from here too
    LINK_MAX,
    Format,
    clean_text,
    cut,
    escape_markdown,
    neutralise_mentions,
    safe_link,
    terminal_safe,
    untrusted,
)

if TYPE_CHECKING:
    from monitor.config.schema import StoryConfig

FORMATS: tuple[Format, ...] = ("text", "markdown", "html")

TITLE_MAX = 250
HEADLINE_MAX = 300
SUMMARY_MAX = 1000
OUTLET_MAX = 80
BODY_MAX = 4000
SOURCES_MAX = 8  # outlets listed in one message; the rest are counted ("and 12 more")
DIGEST_MAX = 50  # developments listed in one digest

__all__ = [
    "BODY_MAX", "DIGEST_MAX", "FORMATS", "HEADLINE_MAX", "LINK_MAX", "OUTLET_MAX", "SOURCES_MAX", "SUMMARY_MAX",
    "TITLE_MAX", "Format", "Message", "check_templates", "clean_text", "cut", "escape_markdown", "fit",
    "neutralise_mentions", "render", "render_digest", "safe_link", "story_labels", "terminal_safe", "untrusted",
]


@dataclass(frozen=True)
class Message:
    """A rendered notification: ``body`` in ``format``; ``text_body`` is its plain-text alternative."""

    title: str
    body: str
    format: Format
    text_body: str


def check_templates(templates: Mapping[str, str], fmt: Format) -> list[str]:
    """Problems with a channel's template overrides (unknown names, syntax errors, unknown variables, what the
    sandbox refuses, any other failure), for config validation: ``templates.body: what is wrong; how to fix it``.
    Empty when they render, sandboxed, against a sample development. Never raises."""
    return override_problems(templates, fmt, _sample_context)


# ------------------------------------------------------------------------------------------- rendering
def story_labels(story: StoryConfig) -> dict[str, str]:
    """Words for ids: ``{"dpa": "Defense Production Act", "dpa.invoked": "DPA invoked", ...}`` for ``render``."""
    labels: dict[str, str] = {}
    for thread_id, thread in story.threads.items():
        labels[thread_id] = thread.title or thread_id.replace("_", " ")
        for state in thread.states:
            labels[f"{thread_id}.{state.id}"] = state.label
    return labels


def _moved(dev: Development, fmt: Format, labels: Mapping[str, str]) -> dict[str, str] | None:
    """What moved, in words: labels given by the caller, else titles in ``details``, else the ids."""
    if not dev.thread_id or not dev.to_state:
        return None
    details = dev.details

    def word(key: str, detail: str, fallback: str) -> str:
        text = labels.get(key) or str(details.get(detail) or "") or fallback.replace("_", " ")
        return untrusted(text, fmt, HEADLINE_MAX)

    thread = dev.thread_id
    return {
        "thread": word(thread, "thread_title", thread),
        "old": word(f"{thread}.{dev.from_state}", "from_title", dev.from_state) if dev.from_state else "",
        "new": word(f"{thread}.{dev.to_state}", "to_title", dev.to_state),
    }


def _when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or zone)


def _sources(dev: Development, fmt: Format, limit: int) -> list[dict[str, str | None]]:
    # newest first: the latest outlet is the most likely to carry the full story
    ordered = sorted(dev.sources, key=lambda s: s.published, reverse=True)[:limit]
    return [
        {
            "outlet": untrusted(s.outlet, fmt, OUTLET_MAX) or "unknown outlet",
            "title": untrusted(s.title, fmt, HEADLINE_MAX),
            "link": safe_link(s.link),
        }
        for s in ordered
    ]


def _kind_label(kind: DevelopmentKind) -> str:
    return kind.value.replace(".", " ").replace("_", " ")


def _context(
    dev: Development, fmt: Format, *, story_title: str, thread_line: str, countdown: str | None,
    display_zone: str, story_zone: str, now: datetime, labels: Mapping[str, str], source_limit: int,
) -> dict[str, Any]:
    at_story = _when(dev.at, story_zone)
    at_display = _when(dev.at, display_zone)
    age = now - dev.at
    return {
        "headline": untrusted(dev.title, fmt, HEADLINE_MAX),
        "summary": untrusted(dev.summary, fmt, SUMMARY_MAX, single_line=False),
        "story_title": untrusted(story_title, fmt, HEADLINE_MAX),
        "severity": dev.severity.label,
        "critical": dev.severity.label == "critical",
        "kind": dev.kind.value,
        "kind_label": _kind_label(dev.kind),
        "confidence": dev.confidence.value,
        "moved": _moved(dev, fmt, labels),
        "at": at_story,
        "at_display": at_display if at_display != at_story else "",
        "age": f"{format_duration(age)} ago" if age.total_seconds() >= 60 else "just now",
        "countdown": untrusted(countdown, fmt, 120) if countdown else "",
        "thread_line": untrusted(thread_line, fmt, 500),
        "sources": _sources(dev, fmt, source_limit),
        "more_sources": max(0, len(dev.sources) - source_limit),
        "key": dev.key,
    }


def _sample_context(fmt: Format) -> dict[str, Any]:
    from datetime import UTC

    at = datetime(2026, 2, 27, 22, 1, tzinfo=UTC)
    dev = Development(
        key="sample", kind=DevelopmentKind.THREAD_CHANGE, story_id="story", at=at, title="Sample headline",
        severity=Severity.WARNING, thread_id="thread", from_state="a", to_state="b", summary="Sample summary",
        sources=(Source(outlet="Example", title="Example headline", link="https://example.org/a", published=at),),
    )
    return _context(dev, fmt, story_title="Story", thread_line="thread: b", countdown="in 1 h", display_zone="UTC",
                    story_zone="UTC", now=at, labels={}, source_limit=SOURCES_MAX)


def _fit_body(render_with: Any, fmt: Format, limit: int, start: int) -> str:
    """Render with fewer sources until the body fits ``limit``; cut what still does not (never mid-tag in HTML)."""
    shown = start
    body: str = render_with(shown)
    while len(body) > limit and shown > 1:
        shown = max(1, shown // 2)
        body = render_with(shown)
    return fit(body, fmt, limit)


def fit(body: str, fmt: Format, limit: int = BODY_MAX) -> str:
    """Hard cap on a rendered body: cut, and for HTML drop a trailing partial tag or entity."""
    if len(body) <= limit:
        return body
    body = body[: limit - 1]
    if fmt == "html":
        body = re.sub(r"<[^>]*$|&[#\w]*$", "", body)
    elif fmt == "markdown":
        body = body.rstrip("\\")
    return body + "…"


def render(
    dev: Development,
    *,
    fmt: Format,
    story_title: str,
    thread_line: str,
    countdown: str | None,
    display_zone: str,
    story_zone: str,
    now: datetime,
    templates: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Message:
    """Render one development for one channel format.

    ``countdown`` is the deadline text ("in 2 h 13 min") or None; ``thread_line`` the one-line summary of the
    story's threads; ``labels`` (see :func:`story_labels`) turn thread and state ids into words. ``templates``
    may override ``title`` and ``body`` for this channel. The title is plain text in every format but Markdown
    (an email subject is not HTML); the body is ``fmt``; ``text_body`` is the plain-text alternative.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    overrides = templates or {}
    title_fmt: Format = "markdown" if fmt == "markdown" else "text"

    def context(f: Format, shown: int) -> dict[str, Any]:
        return _context(dev, f, story_title=story_title, thread_line=thread_line, countdown=countdown,
                        display_zone=display_zone, story_zone=story_zone, now=now, labels=labels or {},
                        source_limit=shown)

    title = _render(title_fmt, "title.j2", context(title_fmt, SOURCES_MAX), overrides.get("title"))
    title = cut(" ".join(title.split()), TITLE_MAX)
    body = _fit_body(lambda n: _render(fmt, f"body.{fmt}.j2", context(fmt, n), overrides.get("body")),
                     fmt, BODY_MAX, SOURCES_MAX)
    if fmt == "text":
        text_body = body
    else:
        text_body = _fit_body(lambda n: _render("text", "body.text.j2", context("text", n)), "text", BODY_MAX,
                              SOURCES_MAX)
    return Message(title=title, body=body, format=fmt, text_body=text_body)


def render_digest(
    devs: Sequence[tuple[Development, str]],
    *,
    fmt: Format,
    now: datetime,
    display_zone: str,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> Message:
    """One message for many developments (each with its story title): grouped by story, newest first.

    ``labels`` maps a development's key to its words for ids (see :func:`story_labels`).
    Stories are ordered by their newest development. When the body would be too long, fewer outlets are listed
    per development, then the oldest developments are left out and counted.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    ordered = sorted(devs, key=lambda pair: pair[0].at, reverse=True)
    title_fmt: Format = "markdown" if fmt == "markdown" else "text"

    def context(f: Format, shown: int, per_dev: int) -> dict[str, Any]:
        groups: dict[str, dict[str, Any]] = {}
        for dev, story_title in ordered[:shown]:
            group = groups.setdefault(dev.story_id, {"title": untrusted(story_title, f, HEADLINE_MAX), "items": []})
            group["items"].append(
                _context(dev, f, story_title=story_title, thread_line="", countdown=None, display_zone=display_zone,
                         story_zone=display_zone, now=now, labels=(labels or {}).get(dev.key, {}),
                         source_limit=per_dev)
            )
        return {
            "count": len(ordered),
            "stories": len({dev.story_id for dev, _ in ordered}),
            "groups": list(groups.values()),
            "more": len(ordered) - min(shown, len(ordered)),
            "now": _when(now, display_zone),
        }

    def body_for(f: Format) -> str:
        shown, per_dev = min(len(ordered), DIGEST_MAX), 3
        body = _render(f, f"digest.{f}.j2", context(f, shown, per_dev))
        if len(body) > BODY_MAX:
            per_dev = 1
            body = _render(f, f"digest.{f}.j2", context(f, shown, per_dev))
        if len(body) > BODY_MAX:  # binary search for the most developments that fit (length grows with count)
            low, high = 1, shown - 1
            while low < high:
                middle = (low + high + 1) // 2
                if len(_render(f, f"digest.{f}.j2", context(f, middle, per_dev))) <= BODY_MAX:
                    low = middle
                else:
                    high = middle - 1
            body = _render(f, f"digest.{f}.j2", context(f, low, per_dev))
        return fit(body, f)

    title = cut(" ".join(_render(title_fmt, "digest_title.j2", context(title_fmt, 0, 0)).split()), TITLE_MAX)
    body = body_for(fmt)
    text_body = body if fmt == "text" else body_for("text")
    return Message(title=title, body=body, format=fmt, text_body=text_body)
