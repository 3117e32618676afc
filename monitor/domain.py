"""Value types shared by every layer: frozen dataclasses and enums, no I/O.

All datetimes held by these types are timezone-aware UTC (DESIGN.md invariant 3).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit


class Severity(enum.IntEnum):
    """How loud a development is; channels filter on a minimum."""

    INFO = 10
    NOTICE = 20
    WARNING = 30
    CRITICAL = 40

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]


class Confidence(enum.StrEnum):
    """How sure we are that an act really happened.

    REPORTED: one ordinary outlet says so. CONFIRMED: a second independent outlet (another domain),
    or one primary or wire source, agrees within the corroboration window.
    """

    REPORTED = "reported"
    CONFIRMED = "confirmed"

    @property
    def rank(self) -> int:
        return 0 if self is Confidence.REPORTED else 1


class SourceKind(enum.StrEnum):
    """What a feed is. Primary (court docket, Federal Register) and wire sources confirm on their own."""

    ORDINARY = "ordinary"
    WIRE = "wire"
    PRIMARY = "primary"


class StateKind(enum.StrEnum):
    """The role of a thread state on its ladder."""

    INITIAL = "initial"  # where a thread starts; nothing has been said yet
    THREAT = "threat"  # the act is threatened or floated
    ACT = "act"  # the act was carried out (or formally reversed: blocked, rescinded, dropped)


class SignalMode(enum.StrEnum):
    """How an item speaks of a thread state."""

    ACT = "act"  # reports the act as done: "Pentagon designates Anthropic a supply chain risk"
    THREAT = "threat"  # threatened, hedged, floated, asked: "could designate", "threatens to designate"
    NEGATED = "negated"  # denied or ruled out: "will not designate", "holds off on"
    MENTION = "mention"  # noun form or background: "the designation", "supply chain risk label"


class DevelopmentKind(enum.StrEnum):
    """What sort of move a development is. The string values are part of the stable JSON output."""

    THREAD_CHANGE = "thread.changed"
    NEW_DEVELOPMENT = "story.new_development"
    DEADLINE_REMINDER = "deadline.reminder"
    DEADLINE_PASSED = "deadline.passed"
    DEADLINE_RESOLVED = "deadline.resolved"
    DEADLINE_CHANGED = "deadline.changed"
    FEED_FAILING = "ops.feed_failing"
    FEED_RECOVERED = "ops.feed_recovered"
    MONITOR_BLIND = "ops.blind"
    DELIVERY_DEAD = "ops.delivery_dead"
    TEST = "ops.test"

    @property
    def is_operations(self) -> bool:
        return self.value.startswith("ops.")


class DeliveryStatus(enum.StrEnum):
    """Life of one outbox row (one development on one channel)."""

    PENDING = "pending"  # waiting for its first attempt (or for quiet hours / a digest to end)
    SENDING = "sending"  # claimed by a worker
    RETRYING = "retrying"  # at least one target failed; next attempt scheduled
    SENT = "sent"  # every target accepted it
    DEAD = "dead"  # gave up after the maximum age; reported as an operations development


AGGREGATOR_DOMAINS = frozenset({"news.google.com", "bing.com", "msn.com", "news.yahoo.com", "feedproxy.google.com"})
"""Hosts whose links stand for many outlets; an item's outlet is then judged by its name."""


def domain_of(link: str | None) -> str:
    """The host of a link without a leading ``www.``, lower-cased; '' when there is none."""
    if not link:
        return ""
    try:
        host = (urlsplit(link).hostname or "").lower()
    except ValueError:  # "http://[zz/": a feed's link is written by an attacker
        return ""
    return host[4:] if host.startswith("www.") else host


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of one feed, normalised by ``parse``.

    ``item_id`` is stable across polls (guid, else canonical link, else a hash of title and date);
    ``link`` is canonical (tracking parameters removed); ``title`` and ``summary`` are plain text.
    """

    feed_id: str
    item_id: str
    title: str
    summary: str
    link: str | None
    outlet: str
    published: datetime
    fetched_at: datetime
    source_kind: SourceKind = SourceKind.ORDINARY
    outlet_domain: str = ""  # the outlet's own site when the feed names it (Google News ``<source url>``)

    @property
    def outlet_key(self) -> str:
        """Identity of the outlet for independence checks: the outlet's own domain when the feed names it,
        else the link's domain, else the outlet name.

        Aggregator links (Google News, MSN) all share one domain whatever the outlet, so for them the domain
        named by ``<source url>`` (or else the outlet's name) is the identity. Bing's click-tracker links are
        unwrapped to the publisher's URL by ``parse``, so the same outlet reached through Google News and
        Bing gets the same key and cannot corroborate itself.
        """
        if self.outlet_domain:
            return self.outlet_domain
        domain = domain_of(self.link)
        if not domain or domain in AGGREGATOR_DOMAINS or domain.endswith(".google.com"):
            return self.outlet.strip().lower() or domain
        return domain

    @property
    def document(self) -> str:
        """The feed document the item came from: its feed and the fetch that read it.

        Independence is earned across documents: outlets one document claims (``<source>`` elements, several
        outlet names in one search feed) all count as that one document, so a single feed cannot corroborate
        itself however many outlets it names."""
        return f"{self.feed_id}@{self.fetched_at.isoformat()}"

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.summary}" if self.summary else self.title


@dataclass(frozen=True, slots=True)
class Source:
    """One item cited as evidence of a development."""

    outlet: str
    title: str
    link: str | None
    published: datetime
    feed_id: str = ""
    item_id: str = ""
    source_kind: SourceKind = SourceKind.ORDINARY

    @classmethod
    def from_item(cls, item: Item) -> Source:
        return cls(
            outlet=item.outlet,
            title=item.title,
            link=item.link,
            published=item.published,
            feed_id=item.feed_id,
            item_id=item.item_id,
            source_kind=item.source_kind,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "outlet": self.outlet,
            "title": self.title,
            "link": self.link,
            "published": iso_utc(self.published),
        }


@dataclass(frozen=True, slots=True)
class Development:
    """A move of the story worth telling someone about.

    ``key`` is deterministic from the development's identity (story, kind, thread, state, event), so a
    replay gives the same keys and the store can upsert: a later version of the same key (more sources,
    confidence raised to confirmed) replaces the earlier one instead of making a second alert.
    """

    key: str
    kind: DevelopmentKind
    story_id: str
    at: datetime
    title: str
    severity: Severity
    confidence: Confidence = Confidence.REPORTED
    thread_id: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    summary: str = ""
    sources: tuple[Source, ...] = ()
    cues: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form used by ``replay --json`` and ``history --json`` (see docs/json.md)."""
        return {
            "key": self.key,
            "at": iso_utc(self.at),
            "kind": self.kind.value,
            "story": self.story_id,
            "thread": self.thread_id,
            "from": self.from_state,
            "to": self.to_state,
            "confidence": self.confidence.value,
            "severity": self.severity.label,
            "title": self.title,
            "summary": self.summary,
            "sources": [s.to_json() for s in self.sources],
            "cues": list(self.cues),
            "details": dict(self.details),
        }


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, to the second."""
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
