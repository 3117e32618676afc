"""``monitor try``: fetch and parse one feed now (a configured one, or any URL) and judge each item as a poll
would, storing nothing, sending nothing and marking nothing seen.

The contract:

- The fetch is the real one: :class:`~monitor.ingest.fetch.Fetcher` with the config's user agent, body cap,
  timeout, redirect limit and concurrency, under the fetch policy. No validators are sent (the whole body is
  read); a configured feed is fetched at its stored URL after a permanent redirect, judged as that redirect.
- Each item is explained by the explain machinery (:func:`monitor.story.explain.explain`: relevance, every
  signal and the real reducer's verdict) against a *copy* of the stored story and deadline states when a store
  is given, else the stories' initial states. Items are read in the order a poll reads them (oldest first), each
  against the state the items before it left, so a rewrite of an earlier item joins its development as it would.
- An item the store already holds for that feed (same feed and item id) is not read again by a poll: it is
  still explained (relevance, signals) but its verdict says so and it changes nothing.
- Nothing is written: the store, when given, is only read; no database is created here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.app.explain import stored_states
from monitor.app.service import fetcher_for
from monitor.clock import Clock
from monitor.config.schema import FeedConfig, Settings, StoryConfig
from monitor.domain import Item, SourceKind, iso_utc
from monitor.errors import MonitorError, UsageError
from monitor.ingest.fetch import Fetcher, FetchRequest
from monitor.ingest.parse import parse_feed
from monitor.store.db import Store
from monitor.story.compiled import CompiledStory
from monitor.story.deadlines import DeadlineState, read_extensions
from monitor.story.explain import Explanation, explain
from monitor.story.reducer import advance
from monitor.story.state import StoryState

URL_FEED_ID = "try"  # the feed id the items of a bare URL carry (they belong to no configured feed)
ALREADY_STORED = ("already stored: a poll does not read it again; `monitor explain --item {key}` judges it "
                  "against the stored state")


class FetchFailed(MonitorError):
    """The feed could not be fetched or is not a feed (exit 1, with the fetcher's or parser's words)."""


@dataclass(frozen=True)
class TrialItem:
    """One item of the fetched feed and what each story would make of it."""

    item: Item
    feed: str | None  # the configured feed id, None for a bare URL
    stored: bool
    explanations: tuple[Explanation, ...]

    def to_json(self) -> dict[str, Any]:
        """The documented ``monitor try --json`` object (docs/json.md)."""
        return {
            "feed": self.feed, "item_id": self.item.item_id, "title": self.item.title, "link": self.item.link,
            "outlet": self.item.outlet, "published": iso_utc(self.item.published), "stored": self.stored,
            "alerts": sum(len(e.developments) for e in self.explanations),
            "stories": [e.to_json() for e in self.explanations],
        }

    def lines(self) -> list[str]:
        """The headline, then indented: where it is from, and per story relevance, signals and verdict."""
        item = self.item
        out = [item.title or "(no title)",
               f"  {item.outlet or '(no outlet)'}, {iso_utc(item.published)}" + (f", {item.link}" if item.link else "")]
        several = len(self.explanations) > 1
        for explanation in self.explanations:
            if several:
                out.append(f"  story {explanation.story}:")
            out.extend(("    " if several else "  ") + line for line in explanation.lines()[1:])
        return out


@dataclass(frozen=True)
class Trial:
    """What ``monitor try`` found: the URL read, its items in reading order, and notes for the reader."""

    url: str
    items: tuple[TrialItem, ...]
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        alerts = sum(1 for t in self.items if any(e.developments for e in t.explanations))
        return (f"{len(self.items)} item(s) read from {self.url}, {alerts} would alert; nothing was stored, sent "
                "or marked seen")


def trial_target(settings: Settings, url: str | None, feed_id: str | None,
                 story_id: str | None) -> tuple[FeedConfig | None, tuple[StoryConfig, ...]]:
    """The configured feed to try (None for a URL) and the stories to judge against. Raises UsageError (exit 2)
    for not exactly one of URL and feed, an unknown feed or story id (naming the configured ones), or a URL
    that is not HTTP(S)."""
    if (url is None) == (feed_id is None):
        raise UsageError("give exactly one of URL or --feed ID")
    feed = None
    if feed_id is not None:
        feed = next((f for f in settings.feeds if f.id == feed_id), None)
        if feed is None:
            known = ", ".join(f.id for f in settings.feeds) or "none"
            raise UsageError(f"unknown feed id {feed_id!r}; configured feeds: {known}")
    elif urlsplit(url or "").scheme not in ("http", "https"):
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    if story_id is not None:
        stories = tuple(s for s in settings.stories if s.id == story_id)
        if not stories:
            known = ", ".join(s.id for s in settings.stories) or "none"
            raise UsageError(f"unknown story id {story_id!r}; configured stories: {known}")
    else:
        stories = settings.stories_of(feed) if feed is not None else settings.stories
    return feed, stories


def try_feed(settings: Settings, store: Store | None, *, url: str | None = None, feed_id: str | None = None,
             story_id: str | None = None, clock: Clock, fetcher: Fetcher | None = None) -> Trial:
    """Fetch, parse and judge one feed (see the module docstring). Raises UsageError for bad ids or URL,
    FetchFailed when the fetch fails or the body is not a feed."""
    feed, stories = trial_target(settings, url, feed_id, story_id)
    row = None
    if feed is not None and store is not None:
        with store.read() as tx:
            row = tx.feed(feed.id)
    configured = str(feed.url) if feed is not None else str(url)
    target = row.current_url if row is not None and row.current_url else configured
    request = FetchRequest(feed.id if feed else URL_FEED_ID, target, configured_url=configured)
    result = (fetcher or fetcher_for(settings, clock)).fetch_all([request])[0]
    if result.error or result.body is None:
        raise FetchFailed(f"fetch of {target} failed: {result.error or f'HTTP {result.status}, no body'}")
    now = clock()
    parsed = parse_feed(result.body, result.headers, feed_id=request.feed_id,
                        source_kind=feed.source if feed else SourceKind.ORDINARY, fetched_at=now,
                        feed_title=feed.title if feed else "", base_url=result.final_url)
    if not parsed.is_feed:
        raise FetchFailed(f"{result.final_url}: {parsed.error or 'not a feed'}")
    items = sorted(parsed.items, key=lambda i: (i.published, i.feed_id, i.item_id))  # as a poll reads them
    stored: set[str] = set()
    if feed is not None and store is not None:
        with store.read() as tx:
            stored = {i.item_id for i in items if tx.item(feed.id, i.item_id) is not None}
    per_story = [_judge(story, *stored_states(story, store), items, stored, now) for story in stories]
    trial_items = tuple(
        TrialItem(item, feed.id if feed else None, item.item_id in stored, tuple(found[n] for found in per_story))
        for n, item in enumerate(items)
    )
    notes = list(parsed.notes)
    if feed is not None and (row is None or not row.seeded):
        notes.append(f"feed {feed.id} has not been polled yet: its first poll stores what it lists without "
                     "alerting (except items inside its backfill window); the items are judged here as news")
    return Trial(result.final_url, trial_items, tuple(notes))


def _judge(story: StoryConfig, state: StoryState, deadlines: dict[str, DeadlineState], items: list[Item],
           stored: set[str], now: datetime) -> list[Explanation]:
    """Each item's explanation against the state the items before it left (on copies: ``advance`` and
    ``read_extensions`` return new states and change none)."""
    compiled = CompiledStory(story)
    out = []
    for item in items:
        found = explain(compiled, state, deadlines, item, now)
        if item.item_id in stored:
            key = f"{item.feed_id}:{item.item_id}"
            out.append(replace(found, verdicts=(ALREADY_STORED.format(key=key),), developments=()))
            continue
        out.append(found)
        state = advance(compiled, state, [item], now).state
        deadlines = {d.id: read_extensions(story, d, deadlines[d.id], [item], now, relevance=compiled.relevance)[0]
                     for d in story.deadlines}
    return out
