"""``monitor status`` and ``monitor feeds``: the reports (plain JSON-able dicts, the documented ``--json`` shapes in
docs/json.md) and the status text.

Read through :class:`monitor.store.status.StatusReader` (a few plain queries, one read transaction, no ORM), so
the command costs little more than loading the config; every function that takes a ``source`` also takes an open
:class:`~monitor.store.db.Store` (the same queries on its engine). Imports stay light: no store layer, app layer
or template engine is loaded by this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Union

from monitor.app.health import HEARTBEAT_KEY, STARTED_KEY, STOPPED_KEY
from monitor.cli.ids import short_id
from monitor.cli.when import iso_or_none, local, next_poll_text
from monitor.config.masking import mask_database_url
from monitor.config.schema import Settings, StoryConfig
from monitor.domain import DeliveryStatus, iso_utc
from monitor.durations import format_duration
from monitor.notify.text import terminal_safe
from monitor.store.status import FeedHealth, StatusReader
from monitor.story.deadlines import DeadlineState, countdown_text, initial_deadline_state

if TYPE_CHECKING:
    from monitor.store.db import Store

Source = Union["Store", StatusReader]
"""What the reports read: an open store, or a status reader (``StatusReader.open``)."""

__all__ = ["HEARTBEAT_KEY", "STARTED_KEY", "STOPPED_KEY", "daemon_health", "feeds_report", "format_status",
           "status_report"]


@contextmanager
def reading(source: Source) -> Iterator[StatusReader]:
    """A status reader on ``source``: itself, or one read transaction on the store's engine."""
    if isinstance(source, StatusReader):
        yield source
        return
    with StatusReader.on_store(source) as reader:
        yield reader


# -------------------------------------------------------------------------------------------- health
def daemon_health(settings: Settings, source: Source, now: datetime) -> dict[str, Any]:
    """Is the daemon up, stalled or blind? Read from the heartbeat and feed health the daemon stores."""
    with reading(source) as reader:
        return _health(settings, reader, reader.feeds(), now)


def _health(settings: Settings, reader: StatusReader, feeds: Sequence[FeedHealth], now: datetime) -> dict[str, Any]:
    heartbeat = reader.meta(HEARTBEAT_KEY)
    started = reader.meta(STARTED_KEY)
    stopped = reader.meta(STOPPED_KEY)
    stall_after = max(settings.monitor.tick_interval * 4, timedelta(minutes=2))
    last_tick = heartbeat[1] if heartbeat else None
    # a clean stop is recorded: the daemon is down at once, not only after the stall bound
    stopped_at = stopped[1] if stopped else None
    cleanly_stopped = stopped_at is not None and last_tick is not None and stopped_at >= last_tick
    running = last_tick is not None and now - last_tick <= stall_after and not cleanly_stopped
    enabled = [f for f in feeds if f.enabled]
    successes = [f.last_success_at for f in enabled if f.last_success_at]
    last_success = max(successes) if successes else None
    started_at = datetime.fromisoformat(started[0]) if started else None
    # blind: nothing fetched for `blind_after`, counted from the last success, else from the daemon's start
    seen_since = last_success or started_at
    blind = bool(enabled) and running and seen_since is not None and now - seen_since > settings.monitor.blind_after
    if last_tick is None:
        reason = "daemon has never run on this database"
    elif cleanly_stopped:
        reason = "daemon was stopped"
    elif not running:
        reason = f"no tick for {format_duration(now - last_tick)} (stalled or down)"
    elif blind:
        reason = "blind: no feed has succeeded for " + (
            format_duration(now - last_success) if last_success else "the whole run"
        )
    else:
        reason = "ok"
    return {
        "ok": running and not blind,
        "running": running,
        "blind": blind,
        "reason": reason,
        "started_at": iso_or_none(started_at),
        "last_tick_at": iso_or_none(last_tick),
        "last_feed_success_at": iso_or_none(last_success),
    }


# -------------------------------------------------------------------------------------------- status
def status_report(settings: Settings, source: Source, now: datetime) -> dict[str, Any]:
    """What ``monitor status --json`` prints: stories, threads, deadlines, feeds, deliveries, health."""
    with reading(source) as reader:
        feeds = reader.feeds()
        stories = [_story(settings, story, reader, now) for story in settings.stories]
        deliveries: dict[str, int] = {s.value: 0 for s in DeliveryStatus}
        for status, count in reader.delivery_counts().items():
            deliveries[status] = deliveries.get(status, 0) + count
        dead = [
            {"id": r.id, "channel": r.channel_id, "development": r.development_key,
             "development_id": short_id(r.development_key), "last_error": r.last_error}
            for r in reader.dead_letters()
        ]
        health = _health(settings, reader, feeds, now)
    return {
        "now": iso_utc(now),
        "database": mask_database_url(settings.monitor.database_url),
        "health": health,
        "stories": stories,
        "feeds": _feed_rows(settings, feeds),
        "deliveries": deliveries,
        "dead_letters": dead,
    }


def _story(settings: Settings, story: StoryConfig, reader: StatusReader, now: datetime) -> dict[str, Any]:
    """One story of the status report: each thread's state and each deadline's countdown."""
    stored = reader.threads(story.id)
    threads = []
    for thread_id, thread in story.threads.items():
        row = stored.get(thread_id)
        state_id = row.state if row else thread.initial_state
        # the development that moved it there, when it is stored (`monitor ack` takes its id)
        moved_by = row.development_key if row else None
        threads.append(
            {
                "id": thread_id,
                "title": thread.title or thread_id,
                "state": state_id,
                "state_title": thread.label_of(state_id),
                "since": iso_or_none(row.since) if row else None,
                "development": moved_by,
                "development_id": short_id(moved_by) if moved_by else None,
            }
        )
    deadlines = []
    for deadline in story.deadlines:
        raw = reader.deadline_state(story.id, deadline.id)
        state = DeadlineState.from_json(raw) if raw else initial_deadline_state(story, deadline)
        deadlines.append(
            {
                "id": deadline.id,
                "title": deadline.title,
                "due_utc": iso_utc(state.due_at),
                "due_story_zone": local(state.due_at, story.zone),
                "due_display_zone": local(state.due_at, settings.monitor.display_zone),
                "countdown": countdown_text(state, now),
                "seconds_left": int((state.due_at - now).total_seconds()),
                "resolved": state.resolved_at is not None,
                "extended": state.due_at != deadline.due_utc,
            }
        )
    return {"id": story.id, "title": story.title, "threads": threads, "deadlines": deadlines}


def format_status(report: dict[str, Any]) -> str:
    """The status report as text for a terminal (nothing in it can drive the terminal)."""
    health = report["health"]
    lines = [
        f"daemon: {'running' if health['running'] else 'not running'}"
        + (f" since {health['started_at']}" if health["started_at"] and health["running"] else "")
        + (f", last tick {health['last_tick_at']}" if health["last_tick_at"] else "")
        + f" ({health['reason']})",
        f"database: {report['database']}",
    ]
    for story in report["stories"]:
        lines.append(f"\n{story['title']} [{story['id']}]")
        for thread in story["threads"]:
            since = f" since {thread['since']}" if thread["since"] else ""
            moved_by = f" (id {thread['development_id']})" if thread.get("development_id") else ""
            lines.append(f"  {thread['title']:<32} {thread['state_title']}{since}{moved_by}")
        for d in story["deadlines"]:
            lines.append(f"  deadline {d['title']}: {d['countdown']}")
            lines.append(f"    {d['due_story_zone']} | {d['due_display_zone']} | {d['due_utc']}")
    feeds = report["feeds"]
    failing = [f for f in feeds if f["consecutive_failures"]]
    lines.append(f"\nfeeds: {len(feeds)} ({len(failing)} failing)")
    now = datetime.fromisoformat(report["now"])
    for feed in feeds:
        last = feed["last_success_at"] or "never"
        err = f" - {feed['last_error']}" if feed["last_error"] else ""
        err += f" (note: {feed['notice']})" if feed.get("notice") else ""
        lines.append(f"  {feed['id']:<36} {feed['state']:<9} last ok {last}, next poll {next_poll_text(feed, now)}"
                     f"{err}")
    counts = report["deliveries"]
    lines.append(
        "\ndeliveries: "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        if any(counts.values())
        else "\ndeliveries: none yet"
    )
    for dead in report["dead_letters"]:
        lines.append(f"  DEAD #{dead['id']} {dead['channel']} development {dead['development_id']}: "
                     f"{dead['last_error']}")
    return terminal_safe("\n".join(lines), keep_newlines=True)


# --------------------------------------------------------------------------------------------- feeds
def feeds_report(settings: Settings, source: Source, now: datetime) -> list[dict[str, Any]]:
    """One dict per configured feed (``monitor feeds --json``)."""
    with reading(source) as reader:
        return _feed_rows(settings, reader.feeds())


def _feed_rows(settings: Settings, stored: Sequence[FeedHealth]) -> list[dict[str, Any]]:
    rows = {row.id: row for row in stored}
    out = []
    for feed in settings.feeds:
        row = rows.get(feed.id)
        if row is None:
            out.append(
                {"id": feed.id, "url": feed.url, "configured_url": feed.url, "state": "new", "enabled": feed.enabled,
                 "last_status": None, "consecutive_failures": 0, "last_attempt_at": None, "last_success_at": None,
                 "next_poll_at": None, "last_error": None, "items_seen": 0, "conditional_get": None, "notice": None}
            )
            continue
        if not row.enabled:
            state = "disabled"
        elif row.consecutive_failures:
            state = "failing"
        elif row.last_success_at:
            state = "ok"
        else:
            state = "new"
        out.append(
            {
                "id": feed.id,
                "url": row.current_url or row.url,
                "configured_url": feed.url,
                "state": state,
                "enabled": row.enabled,
                "disabled_reason": row.disabled_reason,
                "last_status": row.last_status,
                "consecutive_failures": row.consecutive_failures,
                "last_attempt_at": iso_or_none(row.last_attempt_at),
                "last_success_at": iso_or_none(row.last_success_at),
                "next_poll_at": iso_or_none(row.next_poll_at),
                "last_error": row.last_error,
                "items_seen": row.items_seen,
                "conditional_get": row.conditional_supported,
                "notice": row.notice,
            }
        )
    return out
