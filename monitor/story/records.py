"""A development record's growth as items join it: sources, outlets, evidence, confirmation. Pure.

Split out of ``story.reducer`` (which decides what an item does) so that each module keeps to one job; the
reducer re-exports ``MAX_SOURCES``.
"""

from __future__ import annotations

from monitor.config.schema import StoryConfig
from monitor.domain import Confidence, Item, Source, SourceKind
from monitor.story.signals import Signal
from monitor.story.state import DevRecord, StoryState, source_to_json

UNCONFIRMED = " (unconfirmed, one outlet)"
"""Appended to the title of a move held at warning until a second source confirms it."""

MAX_SOURCES = 25
"""Sources listed per development (outlets are still counted beyond it)."""
MAX_DOCUMENTS = 64  # feed documents remembered per development (only needed until it is confirmed)


def initial_confidence(item: Item) -> Confidence:
    if item.source_kind in (SourceKind.PRIMARY, SourceKind.WIRE):
        return Confidence.CONFIRMED
    return Confidence.REPORTED


def join(story: StoryConfig, state: StoryState, shared: DevRecord, item: Item, key: str, cue: str | None) -> DevRecord:
    """Add an item to a development; raise it to CONFIRMED once on independent corroboration."""
    record = state.own_development(shared.key)
    if record.confidence != Confidence.CONFIRMED.value:
        strong = item.source_kind in (SourceKind.PRIMARY, SourceKind.WIRE)
        independent = (item.outlet_key not in record.outlets and key not in record.syndication
                       and item.document not in record.documents)
        in_window = abs(item.published - record.at) <= story.corroboration_window
        if in_window and (strong or independent):
            record.confidence = Confidence.CONFIRMED.value
            if record.held_severity is not None:
                record.raised = record.held_severity > record.severity
                record.severity, record.held_severity = record.held_severity, None
                record.title = record.title.removesuffix(UNCONFIRMED)
    add_source(record, item, key, cue)
    return record


def add_evidence(record: DevRecord, item: Item, action: str, signal: Signal) -> None:
    """What decided the development, item by item (capped like the sources): ``monitor explain --development``."""
    if len(record.evidence) < MAX_SOURCES:
        record.evidence.append({"item": f"{item.feed_id}:{item.item_id}", "action": action,
                                "mode": signal.mode.value, "cue": signal.cue, "qualifier": signal.qualifier})


def add_source(record: DevRecord, item: Item, key: str, cue: str | None) -> None:
    if item.outlet_key not in record.outlets:
        record.outlets.append(item.outlet_key)
    if item.document not in record.documents and len(record.documents) < MAX_DOCUMENTS:
        record.documents.append(item.document)
    if key not in record.syndication:
        record.syndication.append(key)
        if len(record.titles) < 10:
            record.titles.append(key)
    if cue and cue not in record.cues:
        record.cues.append(cue)
    if len(record.sources) < MAX_SOURCES and all(s.get("link") != item.link for s in record.sources):
        record.sources.append(source_to_json(Source.from_item(item)))
    record.last_at = max(record.last_at, item.published)
